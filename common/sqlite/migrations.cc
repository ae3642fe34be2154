#include "common/sqlite/migrations.h"

#include <string>

namespace outpost::sqlite {
namespace {

Status CheckContiguous(std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (migrations[i].version != expected) {
      return InvalidArgument("migration list is not numbered 1..N: entry " + std::to_string(i) +
                             " ('" + std::string(migrations[i].name) + "') has version " +
                             std::to_string(migrations[i].version) + ", expected " +
                             std::to_string(expected));
    }
  }
  return Status::Ok();
}

Status ApplyInTransaction(Connection& db, const Migration& migration) {
  OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status status = db.Exec(migration.sql);
  // PRAGMA takes no bound parameters; the version is an int we produced, not input.
  if (status.ok()) status = db.Exec("PRAGMA user_version=" + std::to_string(migration.version));
  if (status.ok()) status = db.Exec("COMMIT");
  if (!status.ok() && db.InTransaction()) {
    db.ResetActiveStatements();
    // If even the rollback fails the connection is unusable; the first error is the useful one.
    (void)db.Exec("ROLLBACK");
  }
  return status;
}

}  // namespace

Result<int> SchemaVersion(Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t version, db.QueryInt64("PRAGMA user_version"));
  return static_cast<int>(version);
}

Status Migrate(Connection& db, std::span<const Migration> migrations) {
  OUTPOST_RETURN_IF_ERROR(CheckContiguous(migrations));
  OUTPOST_ASSIGN_OR_RETURN(int current, SchemaVersion(db));
  const int newest = static_cast<int>(migrations.size());
  if (current < 0) {
    return DataLoss("database " + db.path().string() + " has invalid schema version " +
                    std::to_string(current) + "; restore a backup");
  }
  if (current > newest) {
    return FailedPrecondition("database " + db.path().string() + " has schema version " +
                              std::to_string(current) +
                              " but this outpost binary knows only up to " +
                              std::to_string(newest) + "; upgrade outpost or restore a backup");
  }
  for (const Migration& migration : migrations.subspan(static_cast<size_t>(current))) {
    Status status = ApplyInTransaction(db, migration);
    if (!status.ok()) {
      return status.WithContext("applying schema migration " + std::to_string(migration.version) +
                                " (" + std::string(migration.name) + ") to " + db.path().string() +
                                "; the database stays at version " +
                                std::to_string(migration.version - 1));
    }
  }
  return Status::Ok();
}

}  // namespace outpost::sqlite
