#include "common/sqlite/connection.h"

#include <sqlite3.h>

#include <climits>
#include <utility>

#include "common/sqlite/error.h"

namespace outpost::sqlite {

Result<Connection> Connection::Open(const std::filesystem::path& path, const OpenOptions& options) {
  const bool read_only = options.mode == OpenMode::kReadOnly;
  // NOMUTEX: a Connection is used by one thread at a time (its contract), so SQLite's own
  // per-connection mutex would only cost time.
  int flags = SQLITE_OPEN_NOMUTEX |
              (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db != nullptr) rc = sqlite3_extended_errcode(db);
    sqlite3_close_v2(db);
    return SqliteError(rc, message, path,
                       read_only ? "opening database read-only" : "opening database");
  }
  sqlite3_extended_result_codes(db, 1);
  Connection connection(db, path, read_only);
  OUTPOST_RETURN_IF_ERROR(connection.Configure(options));
  return connection;
}

Connection::Connection(sqlite3* db, std::filesystem::path path, bool read_only)
    : db_(db), path_(std::move(path)), read_only_(read_only) {}

Connection::~Connection() { Close(); }

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      read_only_(other.read_only_),
      statements_(std::move(other.statements_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    read_only_ = other.read_only_;
    statements_ = std::move(other.statements_);
  }
  return *this;
}

void Connection::Close() {
  statements_.clear();
  // close_v2 rather than close: a one-off statement still held by a ScopedStatement would make
  // close fail with SQLITE_BUSY; close_v2 defers the close until that statement is finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Status Connection::Configure(const OpenOptions& options) {
  sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
  // sqlite3_open_v2 does not read the file. Reading the schema now turns "not a database" into
  // an error at open time, with the path in it, instead of at the first query.
  if (Status check = Exec("SELECT count(*) FROM sqlite_schema"); !check.ok()) {
    return check.WithContext("checking that the file is an SQLite database");
  }
  if (!read_only_) {
    OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<Statement> wal, PrepareNew("PRAGMA journal_mode=WAL"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, wal->Step());
    std::string mode = row ? wal->ColumnText(0) : std::string();
    if (mode != "wal") {
      return FailedPrecondition("cannot enable WAL journal mode on " + path_.string() +
                                " (journal mode is '" + mode +
                                "'); the database must be a file on a local file system");
    }
    OUTPOST_RETURN_IF_ERROR(Exec(options.synchronous == Synchronous::kFull
                                     ? "PRAGMA synchronous=FULL"
                                     : "PRAGMA synchronous=NORMAL"));
  }
  return Exec("PRAGMA foreign_keys=ON");
}

Status Connection::Exec(std::string_view sql) {
  std::string_view rest = sql;
  while (!rest.empty()) {
    if (rest.size() > INT_MAX) return InvalidArgument("SQL script too long on " + path_.string());
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &raw, &tail);
    if (rc != SQLITE_OK) return SqliteError(rc, db_, "preparing " + QuotedSql(rest));
    if (raw == nullptr) break;  // only whitespace or comments were left
    Statement statement(raw);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, statement.Step());
      if (!row) break;
    }
    rest.remove_prefix(static_cast<size_t>(tail - rest.data()));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Statement>> Connection::PrepareNew(std::string_view sql) {
  if (sql.size() > INT_MAX) return InvalidArgument("SQL statement too long on " + path_.string());
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  if (rc != SQLITE_OK) return SqliteError(rc, db_, "preparing " + QuotedSql(sql));
  if (raw == nullptr) {
    return InvalidArgument("cannot prepare " + QuotedSql(sql) + ": it contains no SQL statement");
  }
  auto statement = std::make_unique<Statement>(raw);
  // A second statement would silently never run; whatever follows the first must be only
  // whitespace, ';' or comments, which prepare to nothing.
  std::string_view rest = sql.substr(static_cast<size_t>(tail - sql.data()));
  sqlite3_stmt* extra = nullptr;
  rc = sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
  sqlite3_finalize(extra);
  if (rc != SQLITE_OK || extra != nullptr) {
    return InvalidArgument("cannot prepare " + QuotedSql(sql) +
                           ": it holds more than one statement; use Exec() for scripts");
  }
  return statement;
}

Result<Statement*> Connection::Prepare(std::string_view sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return it->second.get();
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<Statement> statement, PrepareNew(sql));
  Statement* result = statement.get();
  statements_.emplace(std::string(sql), std::move(statement));
  return result;
}

Result<ScopedStatement> Connection::PrepareScoped(std::string_view sql) {
  OUTPOST_ASSIGN_OR_RETURN(Statement * cached, Prepare(sql));
  if (!cached->leased()) return ScopedStatement(cached);
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<Statement> one_off, PrepareNew(sql));
  return ScopedStatement(std::move(one_off));
}

Result<int> Connection::StepToCompletion(Statement& statement) {
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, statement.Step());
    if (!row) break;
  }
  return Changes();
}

Result<int64_t> Connection::FirstInt64(Statement& statement) {
  OUTPOST_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) {
    return NotFound("query " + QuotedSql(statement.sql()) + " on " + path_.string() +
                    " returned no row");
  }
  return statement.ColumnInt64(0);
}

void Connection::ResetActiveStatements() {
  for (sqlite3_stmt* stmt = sqlite3_next_stmt(db_, nullptr); stmt != nullptr;
       stmt = sqlite3_next_stmt(db_, stmt)) {
    if (sqlite3_stmt_busy(stmt)) sqlite3_reset(stmt);
  }
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t Connection::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int Connection::Changes() const { return sqlite3_changes(db_); }

}  // namespace outpost::sqlite
