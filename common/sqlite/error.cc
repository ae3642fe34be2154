#include "common/sqlite/error.h"

#include <sqlite3.h>

#include <string>

namespace outpost::sqlite {
namespace {

// Advice for the operator reading the message; empty when the SQLite message says it all.
std::string_view AdviceFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another connection or process holds a lock on the database; retry later";
    case SQLITE_FULL:
      return "the disk holding the database is full; free space on it";
    case SQLITE_CANTOPEN:
      return "check that the file and its directory exist and that outpost may read and write them";
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "check the permissions of the database file and its directory";
    case SQLITE_READONLY:
      return "the connection or the file is read-only; writes go through the writer";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is not a valid outpost database or is corrupt; restore it from a backup";
    case SQLITE_IOERR:
      return "the operating system reported an I/O error; check the disk and the file system";
    default:
      return {};
  }
}

}  // namespace

Errc ErrcForSqliteCode(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return Errc::kAlreadyExists;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_INTERRUPT:
      return Errc::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Errc::kFailedPrecondition;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Errc::kDataLoss;
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return Errc::kInvalidArgument;
    default:
      return Errc::kInternal;
  }
}

bool IsStorageFault(int rc) { return (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR; }

Status SqliteError(int rc, sqlite3* db, std::string_view what) {
  const char* filename = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::filesystem::path path = filename != nullptr && *filename != '\0' ? filename : ":memory:";
  return SqliteError(rc, message != nullptr ? message : sqlite3_errstr(rc), path, what);
}

Status SqliteError(int rc, std::string_view sqlite_message, const std::filesystem::path& path,
                   std::string_view what) {
  std::string message(what);
  message += " on ";
  message += path.string();
  message += ": ";
  message += sqlite_message;
  message += " (sqlite code ";
  message += std::to_string(rc);
  message += ")";
  if (std::string_view advice = AdviceFor(rc); !advice.empty()) {
    message += "; ";
    message += advice;
  }
  return Status(ErrcForSqliteCode(rc), std::move(message));
}

std::string QuotedSql(std::string_view sql) {
  constexpr size_t kMax = 120;
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) sql.remove_prefix(1);
  std::string out = "'";
  out += sql.substr(0, kMax);
  if (sql.size() > kMax) out += "...";
  out += "'";
  return out;
}

}  // namespace outpost::sqlite
