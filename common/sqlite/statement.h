#pragma once

// Prepared statements with typed binders and column getters, and ScopedStatement, the RAII
// handle that leaves a (cached) statement reset and unbound for its next user.

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3_stmt;

namespace outpost::sqlite {

// Integers that SQLite's 64-bit signed INTEGER holds exactly, and those it may not.
template <typename T>
concept FitsInInt64 = std::signed_integral<T> ||
    (std::unsigned_integral<T> && sizeof(T) < sizeof(int64_t));
template <typename T>
concept MayNotFitInInt64 = std::unsigned_integral<T> && sizeof(T) >= sizeof(int64_t);

// Marks bytes to bind as a BLOB rather than TEXT. Blobs keep NUL bytes and are never
// interpreted as UTF-8.
struct Blob {
  std::string_view bytes;
};

// One prepared SQL statement. Owns its sqlite3_stmt (finalized on destruction). Not thread-safe:
// it belongs to one Connection, which is used by one thread at a time, and must be destroyed
// before that connection is closed (Connection does so for the statements it caches).
//
// Parameters are numbered from 1 (SQLite's convention); columns are numbered from 0. Bound text
// and blobs are copied, so the caller's buffers need not outlive the call. Column getters read
// the current row: call them only after Step() returned true, and copy what they return before
// the next Step().
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt);  // takes ownership; stmt must not be null
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binders. Errors (an index out of range, a value too big) name the statement's SQL.
  template <FitsInInt64 T>
  Status Bind(int index, T value) {
    return BindInt64(index, static_cast<int64_t>(value));
  }
  // Unsigned 64-bit values may not fit SQLite's int64; cast explicitly after checking.
  template <MayNotFitInInt64 T>
  Status Bind(int index, T value) = delete;
  Status Bind(int index, double value);
  Status Bind(int index, std::string_view text);
  Status Bind(int index, Blob blob);
  Status Bind(int index, std::nullptr_t);
  template <typename T>
  Status Bind(int index, const std::optional<T>& value) {
    return value.has_value() ? Bind(index, *value) : Bind(index, nullptr);
  }

  // Binds args to parameters 1..N. Fails with kInvalidArgument, binding nothing, if N differs
  // from the number of parameters in the SQL.
  template <typename... Args>
  Status BindAll(const Args&... args) {
    if (static_cast<int>(sizeof...(Args)) != ParameterCount()) {
      return ParameterCountMismatch(static_cast<int>(sizeof...(Args)));
    }
    Status status;
    int index = 0;
    ((status = status.ok() ? Bind(++index, args) : status), ...);
    return status;
  }

  // Advances to the next row: true if there is one, false when the statement is done. On error
  // the Status carries the SQLite message, the database path and the SQL (see error.h for the
  // Errc mapping, e.g. a UNIQUE violation is kAlreadyExists).
  Result<bool> Step();

  // Puts the statement back to its start. Keeps the bindings; ClearBindings() sets all to NULL.
  void Reset();
  void ClearBindings();

  int ParameterCount() const;
  int ColumnCount() const;
  bool ColumnIsNull(int column) const;
  int64_t ColumnInt64(int column) const;     // 0 for NULL
  double ColumnDouble(int column) const;     // 0.0 for NULL
  std::string ColumnText(int column) const;  // "" for NULL; embedded NULs are kept
  // ColumnText without the copy: valid until the next Step() or Reset() (loading many rows).
  std::string_view ColumnTextView(int column) const;
  std::string ColumnBlob(int column) const;  // "" for NULL

  std::string_view sql() const;
  sqlite3_stmt* handle() const { return stmt_; }
  bool leased() const { return leased_; }  // a ScopedStatement currently holds it

 private:
  friend class ScopedStatement;

  Status BindInt64(int index, int64_t value);
  Status BindResult(int rc, int index);
  Status ParameterCountMismatch(int given) const;

  sqlite3_stmt* stmt_;
  bool leased_ = false;  // a ScopedStatement currently refers to this statement
};

// Exclusive use of a Statement for one scope. On destruction (or when moved from and then
// destroyed) it resets the statement and clears its bindings, so a statement cached by the
// Connection is clean for its next user and holds no read snapshot open. Either borrows a
// statement (from the connection's cache) or owns a one-off statement (see
// Connection::PrepareScoped). Move-only. Must not outlive the Connection the statement belongs
// to.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* statement);                  // borrowed; must not be null
  explicit ScopedStatement(std::unique_ptr<Statement> statement);  // owned
  ~ScopedStatement();
  ScopedStatement(ScopedStatement&& other) noexcept;
  ScopedStatement& operator=(ScopedStatement&& other) noexcept;
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;

  Statement& operator*() const { return *statement_; }
  Statement* operator->() const { return statement_; }
  Statement* get() const { return statement_; }

 private:
  void Release();

  Statement* statement_;
  std::unique_ptr<Statement> owned_;
};

}  // namespace outpost::sqlite
