#pragma once

// The `outpost` command line, one command group per file (cli/*_commands.cc). Each
// Add...Commands registers its subcommands on the CLI11 app; when the parser picks one, the
// command's callback stores what to run in CommandLine::run, and main() runs it after parsing.
//
// Exit status (DESIGN.md section 6): 0 success, 1 failure ("outpost: <message>" on stderr, saying
// what and what to do), 2 usage error.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace outpost::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Flags every command accepts (before or after the command name).
struct GlobalFlags {
  bool json = false;  // print the answer's protobuf JSON mapping instead of a table
  std::string log_format;
  std::string log_level;
};

struct CommandLine {
  GlobalFlags global;
  // The chosen command, set by its parse callback; returns the exit status.
  std::function<int()> run;
};

// `init`, `serve`.
void AddSatelliteCommands(CLI::App& app, CommandLine& cli);
// `user add|list|disable|enable|passwd`, `whoami`.
void AddUserCommands(CLI::App& app, CommandLine& cli);
// `apikey create|list|revoke`.
void AddApiKeyCommands(CLI::App& app, CommandLine& cli);
// `token create|list|revoke`.
void AddTokenCommands(CLI::App& app, CommandLine& cli);
// `audit export|verify|head|checkpoint`.
void AddAuditCommands(CLI::App& app, CommandLine& cli);
// `bundle inspect`.
void AddBundleCommands(CLI::App& app, CommandLine& cli);
// `licenses`, `devices [release|rehost]`, `va move`, `reserve`.
void AddLicensingCommands(CLI::App& app, CommandLine& cli);
// `device register|authorize|status|release` (the device side, over the client library).
void AddDeviceCommands(CLI::App& app, CommandLine& cli);
// `sync export|import|now|status`, `convert`, `conversions`.
void AddSyncCommands(CLI::App& app, CommandLine& cli);
// `central ...` (the vendor side, on central's own database).
void AddCentralCommands(CLI::App& app, CommandLine& cli);
// `backup`, `restore` (a satellite data directory, encrypted).
void AddBackupCommands(CLI::App& app, CommandLine& cli);
// `reload` (the running satellite re-reads its configuration and TLS files).
void AddReloadCommands(CLI::App& app, CommandLine& cli);

}  // namespace outpost::cli
