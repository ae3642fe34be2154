#pragma once

// Shared by the `outpost central ...` command files (central_commands.cc: the catalogue,
// enrollment and sync; central_key_commands.cc: status, the signing key and audit heads).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/status.h"
#include "sync/central/central.h"

namespace outpost::cli {

// The flags of every `central` command (each command binds the ones it takes).
struct CentralFlags {
  std::string data_dir;
  std::string account;
  std::string va;
  std::string name;
  std::string tag;
  int64_t count = 0;
  std::string start;
  std::string end;
  bool enforced = false;
  bool floating = false;
  bool export_controlled = false;
  std::string output;
  std::string input;
  bool armor = false;
  std::string url;
  bool offline = false;
  std::string listen;
  std::vector<std::string> hostnames;
  std::string response_validity = "30d";
  std::string authorization_validity;
  std::string authorization_renewal;
  std::string floating_lease;
  std::string sync_interval;
  std::string satellite;
  std::string reason;
  std::string key_id;
  bool remove = false;
  bool force = false;
};

// Opens central's data directory --data-dir. A satellite's data directory is refused with a
// message saying so (kInvalidArgument); otherwise central::Central::Open's errors.
Result<std::unique_ptr<central::Central>> OpenCentral(const CentralFlags& f, const Clock& clock);

// Ok unless `path` exists and `force` is false (kAlreadyExists suggesting --force). Commands call
// it before they change or write anything.
Status CheckOutputFile(const std::string& path, bool force);

// "-" for 0, else the UTC time of unix `seconds`.
std::string When(int64_t seconds);

using CentralRunFn = int (*)(const GlobalFlags&, const CentralFlags&);

// A subcommand of `group` with --data-dir (required) bound to `flags`; runs `run`.
CLI::App* AddCentralCommand(CLI::App* group, CommandLine& cli, const std::string& name,
                            const std::string& description, std::shared_ptr<CentralFlags> flags,
                            CentralRunFn run);

// `central status`, `central key [-o FILE]`, `central key rotate`, `central audit-heads`.
void AddCentralKeyCommands(CLI::App* central, CommandLine& cli);

}  // namespace outpost::cli
