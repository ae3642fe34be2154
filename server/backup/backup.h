#pragma once

// `outpost backup` and `outpost restore` on a satellite data directory (server/data_dir.h;
// docs/operations.md). The file format is backup_file.h.
//
// Backup reads the data directory directly and is safe while `outpost serve` runs: the database
// is copied with `VACUUM INTO` on a connection of its own, one read transaction and so one
// consistent snapshot (WAL: the server's writer is never blocked), and the other files (keys,
// certificates, configuration, API key) are written only by `outpost init`. It never takes the
// directory's lock.
//
// Restore writes into a new or empty directory (or, with `force`, replaces one, keeping the old
// contents beside it), never into one a running satellite holds. It checks the whole file first
// and writes nothing before that; then it writes a scratch directory beside the target, checks
// again, and renames it into place. The restored database is marked as restored (a new
// restore id and a RestoreNotice in satellite_meta, an audit record `backup.restore`) so that
// the next sync tells central (docs/operations.md, "What a restore means for sync").
//
// Thread-safety: both functions are for a command-line process; they share no state.

#include <filesystem>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "outpost/v1/backup.pb.h"
#include "server/backup/backup_file.h"
#include "server/data_dir.h"

namespace outpost::server::backup {

struct BackupOptions {
  KdfParams kdf;
  bool replace_output = false;  // --force: replace an existing output file
  std::string software_version;
  const Clock* clock = nullptr;  // required
};

// Backs up `dir` into `output` (mode 0600, written to a temporary file and renamed, so a failed
// backup leaves no partial file). Refuses, before writing anything: a directory that is not a
// satellite data directory, an existing `output` (unless replace_output), a short passphrase.
Result<v1::BackupResult> CreateBackup(const DataDir& dir, const std::filesystem::path& output,
                                      std::string_view passphrase, const BackupOptions& options);

struct RestoreOptions {
  bool force = false;  // replace a non-empty directory (its contents are moved aside, not deleted)
  const Clock* clock = nullptr;  // required
  // The newest schema version this binary knows: a backup of a newer database is refused.
  int newest_schema_version = 0;
};

// Restores `file` into `target`. Refuses, before writing anything: a target a running satellite
// holds (its lock), a non-empty target without `force`, a wrong passphrase, a truncated,
// altered or foreign file, a backup of a newer schema than this binary knows.
Result<v1::RestoreResult> RestoreBackup(const std::filesystem::path& file, const DataDir& target,
                                        std::string_view passphrase, const RestoreOptions& options);

}  // namespace outpost::server::backup
