#pragma once

// One SQLite connection with its per-connection statement cache.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/sqlite/statement.h"
#include "common/status.h"

struct sqlite3;

namespace outpost::sqlite {

enum class OpenMode {
  kReadWrite,  // creates the file if missing; switches it to WAL
  kReadOnly,   // the file must exist; any write fails with kFailedPrecondition
};

// PRAGMA synchronous. kFull makes every commit durable across power loss (a granted license
// must survive it); kNormal may lose the last commits on power loss and is for tests and
// benchmarks only.
enum class Synchronous { kFull, kNormal };

struct OpenOptions {
  OpenMode mode = OpenMode::kReadWrite;
  Synchronous synchronous = Synchronous::kFull;  // read-write connections only
  // How long a statement waits for a lock held by another connection before failing with
  // kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// An open SQLite connection. Move-only. Not thread-safe: one thread at a time may use it (and the
// statements it hands out); handing it to another thread needs external synchronization.
//
// Read-write connections run with journal_mode=WAL, the configured synchronous level,
// foreign_keys=ON and the busy timeout. Read-only connections see only committed data (WAL) and
// have foreign_keys=ON and the busy timeout.
//
// Errors carry the SQLite message and the database path; error.h lists how SQLite codes map to
// Errc.
class Connection {
 public:
  // Opens `path` and applies the settings above. Fails with kDataLoss if the file exists but is
  // not an SQLite database, kUnavailable if it cannot be opened (missing directory, or a missing
  // file in read-only mode), kFailedPrecondition if WAL cannot be enabled.
  static Result<Connection> Open(const std::filesystem::path& path,
                                 const OpenOptions& options = {});

  // Finalizes the cached statements and closes the connection. Statements handed out by
  // Prepare() become invalid.
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a script of zero or more statements separated by ';' (no parameters, rows discarded).
  // Stops at the first failing statement; earlier statements stay applied unless the caller
  // wrapped the script in a transaction.
  Status Exec(std::string_view sql);

  // The prepared statement for `sql` (exactly one statement), prepared on first use and cached by
  // SQL text for the life of the connection: pass constant SQL and bind values, never SQL built
  // from values. The Connection owns the statement. The caller must leave it reset (wrap it in a
  // ScopedStatement), and must not use it twice at once; PrepareScoped() handles both.
  Result<Statement*> Prepare(std::string_view sql);

  // Prepare() wrapped in a ScopedStatement. If the cached statement is already leased (the same
  // SQL used in a nested way, e.g. while iterating its own rows), returns a one-off statement
  // owned by the lease instead.
  Result<ScopedStatement> PrepareScoped(std::string_view sql);

  // PrepareScoped() with args bound to parameters 1..N; the caller steps through the rows.
  template <typename... Args>
  Result<ScopedStatement> Query(std::string_view sql, const Args&... args) {
    OUTPOST_ASSIGN_OR_RETURN(ScopedStatement statement, PrepareScoped(sql));
    OUTPOST_RETURN_IF_ERROR(statement->BindAll(args...));
    return statement;
  }

  // Runs one statement with args bound, stepping through any rows to completion. Returns the
  // number of rows it changed (Changes()).
  template <typename... Args>
  Result<int> ExecPrepared(std::string_view sql, const Args&... args) {
    OUTPOST_ASSIGN_OR_RETURN(ScopedStatement statement, Query(sql, args...));
    return StepToCompletion(*statement);
  }

  // The first column of the first row as an integer (0 for NULL). kNotFound if there is no row.
  template <typename... Args>
  Result<int64_t> QueryInt64(std::string_view sql, const Args&... args) {
    OUTPOST_ASSIGN_OR_RETURN(ScopedStatement statement, Query(sql, args...));
    return FirstInt64(*statement);
  }

  // Resets every statement of this connection that is in the middle of returning rows, ending any
  // read it keeps open. Does not touch an explicit transaction.
  void ResetActiveStatements();

  // True if a transaction is open (BEGIN without COMMIT/ROLLBACK).
  bool InTransaction() const;

  int64_t LastInsertRowId() const;
  int Changes() const;  // rows changed by the most recent INSERT/UPDATE/DELETE
  bool read_only() const { return read_only_; }
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using StatementCache =
      std::unordered_map<std::string, std::unique_ptr<Statement>, StringHash, std::equal_to<>>;

  Connection(sqlite3* db, std::filesystem::path path, bool read_only);
  Status Configure(const OpenOptions& options);
  Result<std::unique_ptr<Statement>> PrepareNew(std::string_view sql);
  Result<int> StepToCompletion(Statement& statement);
  Result<int64_t> FirstInt64(Statement& statement);
  void Close();

  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  bool read_only_ = false;
  StatementCache statements_;
};

}  // namespace outpost::sqlite
