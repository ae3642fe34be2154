// `outpost backup -o FILE --data-dir DIR` and `outpost restore FILE --data-dir DIR`: an encrypted,
// consistent copy of a satellite data directory, taken while it serves or not, and its restore
// into a new directory (server/backup/backup.h, docs/operations.md).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/input.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/time.h"
#include "server/backup/backup.h"
#include "server/store/schema.h"

#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "unknown"
#endif

namespace outpost::cli {
namespace {

struct BackupFlags {
  std::string data_dir;
  std::string output;
  std::string passphrase_file;
  bool force = false;
};

struct RestoreFlags {
  std::string file;
  std::string data_dir;
  std::string passphrase_file;
  bool force = false;
};

// From --passphrase-file FILE (surrounding whitespace ignored, one line), else standard input
// (prompted for without echo on a terminal).
Result<std::string> ReadPassphrase(const std::string& file) {
  if (!file.empty()) return ReadSecretArgument("@" + file, "--passphrase-file");
  auto text = ReadPasswordFromStdin("the backup (passphrase)");
  if (!text.ok()) {
    return text.status().WithContext(
        "reading the passphrase from standard input (or give --passphrase-file FILE)");
  }
  return text;
}

std::string DataDirOrEnv(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("OUTPOST_DATA_DIR");
  return env == nullptr ? "" : env;
}

std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f s", s);
  return text;
}

std::string Describe(const v1::BackupManifest& m) {
  return "satellite " + m.satellite_id() + ", schema " + std::to_string(m.schema_version()) +
         ", audit record " + std::to_string(m.audit_head_seq()) + ", sync request " +
         std::to_string(m.last_request_sequence());
}

int RunBackup(const GlobalFlags& g, const BackupFlags& f) {
  const std::string dir = DataDirOrEnv(f.data_dir);
  if (dir.empty()) return UsageError("backup needs --data-dir DIR (or OUTPOST_DATA_DIR)");
  auto passphrase = ReadPassphrase(f.passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  SystemClock clock;
  server::backup::BackupOptions options;
  options.replace_output = f.force;
  options.software_version = OUTPOST_VERSION;
  options.clock = &clock;
  auto result = server::backup::CreateBackup(server::DataDir(dir), f.output, *passphrase, options);
  if (!result.ok()) return Fail(result.status());
  if (g.json) {
    PrintJson(*result);
    return kExitOk;
  }
  const v1::BackupManifest& m = result->manifest();
  std::cout << "Wrote backup " << m.backup_id() << " of " << dir << " to " << result->file()
            << "\n";
  PrintFields(std::cout, {{"satellite", m.satellite_id()},
                          {"taken at", FormatRfc3339Seconds(m.created_at())},
                          {"schema version", std::to_string(m.schema_version())},
                          {"audit head", "record " + std::to_string(m.audit_head_seq())},
                          {"last sync request", std::to_string(m.last_request_sequence())},
                          {"files", std::to_string(m.files()) + " (database " +
                                        std::to_string(m.database_bytes()) + " bytes)"},
                          {"backup size", std::to_string(result->file_bytes()) + " bytes"},
                          {"took", Seconds(result->seconds())}});
  std::cout << "It holds the satellite's private keys, encrypted with the passphrase: keep the "
               "passphrase apart from the file. Restore with `outpost restore FILE --data-dir "
               "NEW_DIR`.\n";
  return kExitOk;
}

int RunRestore(const GlobalFlags& g, const RestoreFlags& f) {
  const std::string dir = DataDirOrEnv(f.data_dir);
  if (dir.empty()) return UsageError("restore needs --data-dir DIR (or OUTPOST_DATA_DIR)");
  auto passphrase = ReadPassphrase(f.passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  SystemClock clock;
  server::backup::RestoreOptions options;
  options.force = f.force;
  options.clock = &clock;
  options.newest_schema_version = static_cast<int>(server::store::SatelliteMigrations().size());
  auto result = server::backup::RestoreBackup(f.file, server::DataDir(dir), *passphrase, options);
  if (!result.ok()) return Fail(result.status());
  if (g.json) {
    PrintJson(*result);
    return kExitOk;
  }
  const v1::BackupManifest& m = result->manifest();
  std::cout << "Restored backup " << m.backup_id() << " into " << result->data_dir() << "\n";
  PrintFields(std::cout, {{"backup taken at", FormatRfc3339Seconds(m.created_at())},
                          {"contents", Describe(m)},
                          {"restore id", result->restore_id()}});
  if (!result->previous_contents().empty()) {
    std::cout << "The directory's previous contents are in " << result->previous_contents() << "\n";
  }
  std::cout << "The satellite is back at the time of the backup. Next: outpost serve --data-dir "
            << result->data_dir()
            << "; its next sync tells central about the restore. Devices registered since the "
               "backup register again; see docs/operations.md.\n";
  return kExitOk;
}

}  // namespace

void AddBackupCommands(CLI::App& app, CommandLine& cli) {
  auto backup_flags = std::make_shared<BackupFlags>();
  auto* backup = app.add_subcommand(
      "backup",
      "Write an encrypted, consistent backup of a satellite data directory (database, keys, "
      "certificates, configuration); safe while `outpost serve` runs");
  backup->add_option("-o,--output", backup_flags->output, "Backup file to write (mode 0600)")
      ->required();
  backup->add_option("--data-dir", backup_flags->data_dir,
                     "The satellite's data directory (default: OUTPOST_DATA_DIR)");
  backup->add_option("--passphrase-file", backup_flags->passphrase_file,
                     "Read the passphrase from FILE (default: standard input)");
  backup->add_flag("--force", backup_flags->force, "Replace an existing output file");
  backup->callback([&cli, backup_flags] {
    cli.run = [&cli, backup_flags] { return RunBackup(cli.global, *backup_flags); };
  });

  auto restore_flags = std::make_shared<RestoreFlags>();
  auto* restore = app.add_subcommand(
      "restore",
      "Restore a backup into a new or empty data directory (the satellite must not be running "
      "there); checks the whole file before writing anything");
  restore->add_option("FILE", restore_flags->file, "Backup file written by `outpost backup`")
      ->required();
  restore->add_option("--data-dir", restore_flags->data_dir,
                      "Directory to restore into (default: OUTPOST_DATA_DIR)");
  restore->add_option("--passphrase-file", restore_flags->passphrase_file,
                      "Read the passphrase from FILE (default: standard input)");
  restore->add_flag("--force", restore_flags->force,
                    "Replace a non-empty directory (its contents are moved aside, not deleted)");
  restore->callback([&cli, restore_flags] {
    cli.run = [&cli, restore_flags] { return RunRestore(cli.global, *restore_flags); };
  });
}

}  // namespace outpost::cli
