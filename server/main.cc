// The `outpost` binary: parses the command line and runs one command (server/cli/). Exit
// status: 0 success, 1 failure (message on stderr), 2 usage error.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "server/cli/commands.h"

namespace outpost::cli {
namespace {

int Main(int argc, char** argv) {
  CLI::App app{"Outpost: an air-gapped, on-premises license satellite", "outpost"};
  app.require_subcommand(1);
  // Global flags are accepted after the command name too (`outpost user list --json`);
  // subcommands inherit this setting when they are added, so it comes first.
  app.fallthrough();
  CommandLine cli;
  app.add_flag("--json", cli.global.json, "Print the answer as protobuf JSON instead of a table");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return cli.run ? cli.run() : kExitUsage;
}

}  // namespace
}  // namespace outpost::cli

int main(int argc, char** argv) {
  // A peer or a pipe that goes away must be an error code, not the end of the process.
  signal(SIGPIPE, SIG_IGN);
  // Exceptions stop here (and in each connection's handler); anything else is a bug.
  try {
    return outpost::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "outpost: internal error: " << e.what() << "\n";
    return 1;
  }
}
