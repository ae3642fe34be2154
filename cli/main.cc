// The `outpost` binary: parses the command line and runs one command (cli/). Exit
// status: 0 success, 1 failure (message on stderr), 2 usage error.

#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

#ifdef OUTPOST_WITH_MIMALLOC
#include <mimalloc.h>
#endif

#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "unknown"
#endif
#ifndef OUTPOST_GIT_COMMIT
#define OUTPOST_GIT_COMMIT "unknown"
#endif
#ifndef OUTPOST_BUILD_TYPE
#define OUTPOST_BUILD_TYPE "unknown"
#endif

namespace outpost::cli {
namespace {

std::string VersionText() {
  const std::string build_type = OUTPOST_BUILD_TYPE;
  return std::string("outpost ") + OUTPOST_VERSION + " (commit " + OUTPOST_GIT_COMMIT + ", " +
         (build_type.empty() ? "unspecified" : build_type) + " build)";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// CLI11 answers an unknown command word with "A subcommand is required" or "arguments were not
// expected"; say which word was not a command and which one was probably meant. Walks the
// command words of `args` down the command tree; returns "" when every word is a command (or
// the words reach a command that takes arguments).
std::string UnknownCommandMessage(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* current = &app;
  std::string path = "outpost";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") return "";
    if (word.starts_with("-")) {
      // Skip the value of an option that takes one (`--log-level debug`).
      if (word.find('=') == std::string::npos) {
        const CLI::Option* option = current->get_option_no_throw(word);
        if (option == nullptr) option = app.get_option_no_throw(word);
        if (option != nullptr && option->get_expected_max() > 0) ++i;
      }
      continue;
    }
    const auto subcommands = current->get_subcommands([](CLI::App*) { return true; });
    if (subcommands.empty()) return "";  // a command's own argument
    CLI::App* next = nullptr;
    for (CLI::App* sub : subcommands) {
      if (sub->check_name(word)) next = sub;
    }
    if (next != nullptr) {
      current = next;
      path += " " + word;
      continue;
    }
    // A command that works alone (`devices`) may take the word as its own argument.
    const bool optional = current->get_require_subcommand_min() == 0;
    if (optional && !static_cast<const CLI::App*>(current)
                         ->get_options([](const CLI::Option* o) { return o->get_positional(); })
                         .empty()) {
      return "";
    }
    std::string best;
    size_t best_distance = 3;  // at most two edits away, or a prefix either way
    std::string names;
    for (const CLI::App* sub : subcommands) {
      const std::string& name = sub->get_name();
      names += (names.empty() ? "" : ", ") + name;
      size_t d = EditDistance(word, name);
      if (name.starts_with(word) || word.starts_with(name)) d = std::min<size_t>(d, 1);
      if (d < best_distance) {
        best_distance = d;
        best = name;
      }
    }
    std::string message = "unknown command '" + word + "' for `" + path + "`";
    if (!best.empty()) return message + "; did you mean `" + path + " " + best + "`?";
    if (optional) return "";  // no close command: CLI11's own message about the argument
    return message + "; the commands are: " + names;
  }
  // The words ran out before a command that does something: list what can follow.
  if (current->get_require_subcommand_min() > 0) {
    std::string names;
    for (const CLI::App* sub : current->get_subcommands([](CLI::App*) { return true; })) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    return "`" + path + "` needs a command: " + names;
  }
  return "";
}

int Main(int argc, char** argv) {
  CLI::App app{"Outpost: an air-gapped, on-premises license satellite", "outpost"};
  app.require_subcommand(1);
  // Global flags are accepted after the command name too (`outpost user list --json`);
  // subcommands inherit this setting when they are added, so it comes first.
  app.fallthrough();
  app.set_version_flag("--version", VersionText(), "Print version, commit and build type");
  CommandLine cli;
  app.add_flag("--json", cli.global.json,
               "Print the answer as protobuf JSON (pretty-printed) instead of a table");
  app.add_option("--log-format", cli.global.log_format, "Log format: text or json");
  app.add_option("--log-level", cli.global.log_level, "Log level: trace, debug, info, warn, error");

  AddSatelliteCommands(app, cli);
  AddUserCommands(app, cli);
  AddApiKeyCommands(app, cli);
  AddTokenCommands(app, cli);
  AddAuditCommands(app, cli);
  AddBundleCommands(app, cli);
  AddLicensingCommands(app, cli);
  AddDeviceCommands(app, cli);
  AddSyncCommands(app, cli);
  AddCentralCommands(app, cli);
  AddBackupCommands(app, cli);
  AddReloadCommands(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      const std::string unknown =
          UnknownCommandMessage(app, std::vector<std::string>(argv + 1, argv + argc));
      if (!unknown.empty()) {
        std::cerr << "outpost: " << unknown << "\nRun with --help for more information.\n";
        return kExitUsage;
      }
    }
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Usage errors look like every other error: "outpost: <what>", then where to look.
    std::cerr << "outpost: " << e.what() << "\nRun with --help for more information.\n";
    return kExitUsage;
  }
  return cli.run ? cli.run() : kExitUsage;
}

}  // namespace
}  // namespace outpost::cli

int main(int argc, char** argv) {
  // A peer or a pipe that goes away must be an error code, not the end of the process.
  signal(SIGPIPE, SIG_IGN);
#ifdef OUTPOST_WITH_MIMALLOC
  // mimalloc 2.0 decommits a freed page only after a delay (25 ms), and only when the thread
  // that owns its segment next takes a page from that segment; mi_collect does not force it. So
  // after a connection flood (~85 KB per connection), I/O threads that went back to their usual
  // load kept 30-90 MB resident for good. Decommitting at once gives it back as the
  // connections close (docs/reliability.md, "Floods and overload"). MIMALLOC_DECOMMIT_DELAY in
  // the environment still wins, for A/B measurements.
  if (getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr) mi_option_set(mi_option_decommit_delay, 0);
#endif
  // Exceptions stop here (and in each connection's handler); anything else is a bug.
  try {
    return outpost::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "outpost: internal error: " << e.what() << "\n";
    return 1;
  }
}
