#include "common/sqlite/statement.h"

#include <sqlite3.h>

#include <utility>

#include "common/sqlite/error.h"

namespace outpost::sqlite {

Statement::Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::BindResult(int rc, int index) {
  if (rc == SQLITE_OK) return Status::Ok();
  return SqliteError(rc, sqlite3_db_handle(stmt_),
                     "binding parameter " + std::to_string(index) + " of " + QuotedSql(sql()));
}

Status Statement::BindInt64(int index, int64_t value) {
  return BindResult(sqlite3_bind_int64(stmt_, index, value), index);
}

Status Statement::Bind(int index, double value) {
  return BindResult(sqlite3_bind_double(stmt_, index, value), index);
}

// SQLITE_TRANSIENT makes SQLite copy the bytes: callers bind temporaries freely, and a cached
// statement never points into memory its last user has freed.
Status Statement::Bind(int index, std::string_view text) {
  return BindResult(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

Status Statement::Bind(int index, Blob blob) {
  // A null data pointer would bind NULL instead of an empty blob.
  const char* data = blob.bytes.data() != nullptr ? blob.bytes.data() : "";
  return BindResult(sqlite3_bind_blob64(stmt_, index, data, blob.bytes.size(), SQLITE_TRANSIENT),
                    index);
}

Status Statement::Bind(int index, std::nullptr_t) {
  return BindResult(sqlite3_bind_null(stmt_, index), index);
}

Status Statement::ParameterCountMismatch(int given) const {
  return InvalidArgument("statement " + QuotedSql(sql()) + " has " +
                         std::to_string(ParameterCount()) + " parameters but " +
                         std::to_string(given) + " values were given");
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, sqlite3_db_handle(stmt_), "executing " + QuotedSql(sql()));
}

// sqlite3_reset returns the error of the last Step, which has already been reported.
void Statement::Reset() { sqlite3_reset(stmt_); }

void Statement::ClearBindings() { sqlite3_clear_bindings(stmt_); }

int Statement::ParameterCount() const { return sqlite3_bind_parameter_count(stmt_); }

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  // Fetch the pointer before the size: that order is the one SQLite documents as safe.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string_view Statement::ColumnTextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string_view Statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text != nullptr ? std::string_view(text) : std::string_view();
}

ScopedStatement::ScopedStatement(Statement* statement) : statement_(statement) {
  statement_->leased_ = true;
}

ScopedStatement::ScopedStatement(std::unique_ptr<Statement> statement)
    : statement_(statement.get()), owned_(std::move(statement)) {
  statement_->leased_ = true;
}

ScopedStatement::~ScopedStatement() { Release(); }

ScopedStatement::ScopedStatement(ScopedStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)), owned_(std::move(other.owned_)) {}

ScopedStatement& ScopedStatement::operator=(ScopedStatement&& other) noexcept {
  if (this != &other) {
    Release();
    statement_ = std::exchange(other.statement_, nullptr);
    owned_ = std::move(other.owned_);
  }
  return *this;
}

void ScopedStatement::Release() {
  if (statement_ == nullptr) return;
  statement_->Reset();
  statement_->ClearBindings();
  statement_->leased_ = false;
  statement_ = nullptr;
  owned_.reset();
}

}  // namespace outpost::sqlite
