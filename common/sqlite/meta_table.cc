#include "common/sqlite/meta_table.h"

namespace outpost::sqlite {

// The SQL text is the same on every call, so each connection prepares it once (its statement
// cache is keyed by the text).

Result<std::optional<std::string>> MetaTable::Get(Connection& db, std::string_view key) const {
  OUTPOST_ASSIGN_OR_RETURN(
      ScopedStatement row,
      db.Query("SELECT value FROM " + std::string(table_) + " WHERE key = ?", key));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(row->ColumnText(0));
}

Result<std::map<std::string, std::string>> MetaTable::GetAll(Connection& db) const {
  OUTPOST_ASSIGN_OR_RETURN(ScopedStatement row,
                           db.Query("SELECT key, value FROM " + std::string(table_)));
  std::map<std::string, std::string> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (!found) return out;
    out[row->ColumnText(0)] = row->ColumnText(1);
  }
}

Status MetaTable::Insert(Connection& db, std::string_view key, std::string_view value) const {
  return db
      .ExecPrepared("INSERT INTO " + std::string(table_) + "(key, value) VALUES (?, ?)", key, value)
      .status();
}

Status MetaTable::Set(Connection& db, std::string_view key, std::string_view value) const {
  return db
      .ExecPrepared("INSERT INTO " + std::string(table_) +
                        "(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    key, value)
      .status();
}

Status MetaTable::Erase(Connection& db, std::string_view key) const {
  return db.ExecPrepared("DELETE FROM " + std::string(table_) + " WHERE key = ?", key).status();
}

}  // namespace outpost::sqlite
