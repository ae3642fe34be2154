#pragma once

// Numbered schema migrations tracked with PRAGMA user_version.

#include <span>
#include <string_view>

#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::sqlite {

// One schema change. `version` is its position in the list (1, 2, 3, ...); `name` is for
// messages; `sql` is a script for Connection::Exec. The script runs inside a transaction that
// Migrate opens, so it must not contain BEGIN, COMMIT or ROLLBACK; and because foreign_keys=ON
// cannot be switched off inside a transaction, a table rebuild must keep references valid.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Brings the schema of `db` (a read-write connection) to the newest version in `migrations`.
// Each migration newer than the database's user_version runs in its own BEGIN IMMEDIATE
// transaction, which also sets user_version to its number; so a failed migration leaves the
// database at the previous version with none of its changes, and the error names the migration.
// Already-applied migrations are skipped: running Migrate twice is a no-op.
//
// Errors: kInvalidArgument if the versions are not exactly 1..N in order (a programmer error);
// kFailedPrecondition if the database's version is newer than N (written by a newer outpost), with
// advice to upgrade outpost or restore a backup; otherwise the error of the failing statement.
Status Migrate(Connection& db, std::span<const Migration> migrations);

// The database's PRAGMA user_version: the number of the last migration applied (0 when none).
Result<int> SchemaVersion(Connection& db);

}  // namespace outpost::sqlite
