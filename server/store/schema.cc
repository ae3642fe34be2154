#include "server/store/schema.h"

#include <array>

namespace outpost::server::store {
namespace {

constexpr std::array<sqlite::Migration, 1> kMigrations = {{
    {1, "satellite identity",
     R"sql(
CREATE TABLE satellite_meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;
)sql"},
}};

}  // namespace

std::span<const sqlite::Migration> SatelliteMigrations() { return kMigrations; }

}  // namespace outpost::server::store
