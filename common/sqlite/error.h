#pragma once

// How SQLite result codes become outpost::Status values. Used by every file in this folder and
// available to code that calls the raw sqlite3 API through Connection::handle().

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;

namespace outpost::sqlite {

// The Errc for an SQLite result code (primary or extended):
//   SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN,
//   SQLITE_INTERRUPT                                                        -> kUnavailable
//   SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY / _ROWID                         -> kAlreadyExists
//   any other SQLITE_CONSTRAINT (FOREIGNKEY, CHECK, NOTNULL, TRIGGER, ...)  -> kFailedPrecondition
//   SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH                               -> kFailedPrecondition
//   SQLITE_CORRUPT, SQLITE_NOTADB                                           -> kDataLoss
//   SQLITE_RANGE, SQLITE_TOOBIG, SQLITE_MISMATCH                            -> kInvalidArgument
//   SQLITE_NOMEM, SQLITE_ERROR (bad SQL) and the rest                       -> kInternal
// A full disk and an I/O error are the environment's, not a bug, and pass once it is fixed: the
// caller may retry (503), see IsStorageFault.
// SQLITE_OK, SQLITE_ROW and SQLITE_DONE are not errors; passing them is a programmer error.
Errc ErrcForSqliteCode(int rc);

// True for the result codes (primary or extended) that mean the storage under the database
// failed a write: SQLITE_FULL (disk full) and SQLITE_IOERR (an I/O error from the OS).
bool IsStorageFault(int rc);

// A Status for a failed call on `db`: "<what> on <path>: <sqlite3_errmsg> (sqlite code N); <what
// to do>". The path comes from the connection (sqlite3_db_filename). Call it right after the
// failing call, before any other call on `db` replaces the error message.
Status SqliteError(int rc, sqlite3* db, std::string_view what);

// The same for failures without a usable connection (opening): the caller supplies the path and
// the SQLite message.
Status SqliteError(int rc, std::string_view sqlite_message, const std::filesystem::path& path,
                   std::string_view what);

// `sql` quoted and cut to a length fit for an error message ("..." marks a cut).
std::string QuotedSql(std::string_view sql);

}  // namespace outpost::sqlite
