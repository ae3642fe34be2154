#pragma once

// The audit retention policy (`[audit] retention` and `archive_dir` in outpost.toml): records
// older than the retention are archived, one UTC day per file, into the archive directory as
// sealed segments (archive.h), then removed from the database. docs/operations.md, "Audit
// archives and retention".
//
// Thread-safety: RunOnce may be called from any thread but the writer's, one call at a time.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"

namespace outpost::server::audit {

struct RetentionOptions {
  Duration retention = Duration::zero();  // zero: keep everything (no archiving)
  std::filesystem::path archive_dir;      // absolute, or relative to the working directory
  int max_segments_per_run = 31;          // days archived per round, so a round stays short
};

class Retention {
 public:
  // Everything passed in must outlive the Retention.
  Retention(sqlite::Writer& writer, sqlite::ReaderPool& readers, const crypto::PrivateKey& key,
            std::string satellite_id, const Clock& clock, RetentionOptions options);

  // One round: while the oldest record still in the database lies in a UTC day that ended more
  // than `retention` ago, seals that day's records, writes them to
  // archive_dir/audit-YYYY-MM-DD-<first>-<last>.outpost-audit (creating the directory, mode
  // 0700) and removes them; an audit.archived record by "system" names each file. A file left by
  // an interrupted round for the same segment is checked and reused. Returns the number of
  // segments archived. Errors stop the round and leave every record not yet archived in the
  // database.
  Result<int64_t> RunOnce();

  // Records after the returned seq are kept (the syslog forwarder's position: a record leaves
  // the database only once the collector has it); nullopt or no hook: no such limit. A day whose
  // last record is held waits, and every later day with it, until the hold moves past it.
  void SetHold(std::function<std::optional<int64_t>()> hold) { hold_ = std::move(hold); }

  // For tests: called once a file is durable, before its records are removed; an error stops the
  // round there, as a crash would.
  void SetAfterFileWritten(std::function<Status(const std::filesystem::path&)> hook) {
    after_file_written_ = std::move(hook);
  }

 private:
  sqlite::Writer& writer_;
  sqlite::ReaderPool& readers_;
  const crypto::PrivateKey& key_;
  std::string satellite_id_;
  const Clock& clock_;
  RetentionOptions options_;
  std::function<Status(const std::filesystem::path&)> after_file_written_;
  std::function<std::optional<int64_t>()> hold_;
};

}  // namespace outpost::server::audit
