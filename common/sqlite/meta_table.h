#pragma once

// A settings table: one text value per key, such as the satellite's satellite_meta and the
// central's central_meta (CREATE TABLE name (key TEXT PRIMARY KEY, value TEXT NOT NULL)). The
// one place their SQL is written. The connection is the caller's: the writer's inside a unit of
// work (sqlite::Writer::Run), or a reader's (ReaderPool) to read.
//
// Thread-safety: a MetaTable is only a name; each Connection is used by one thread at a time.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::sqlite {

class MetaTable {
 public:
  // `table` names such a table. It is written into the SQL, so it is a constant of the program,
  // never input.
  constexpr explicit MetaTable(std::string_view table) : table_(table) {}

  // The value of `key`, or nullopt when it is not set.
  Result<std::optional<std::string>> Get(Connection& db, std::string_view key) const;
  // Every key with its value.
  Result<std::map<std::string, std::string>> GetAll(Connection& db) const;
  // Adds `key`; fails (the SQLite constraint error) when it is already set.
  Status Insert(Connection& db, std::string_view key, std::string_view value) const;
  // Sets `key` to `value`, replacing what it held.
  Status Set(Connection& db, std::string_view key, std::string_view value) const;
  // Removes `key`; Ok when it was not set.
  Status Erase(Connection& db, std::string_view key) const;

  std::string_view table() const { return table_; }

 private:
  std::string_view table_;
};

}  // namespace outpost::sqlite
