#pragma once

#include <span>

#include "common/sqlite/migrations.h"

namespace outpost::server::store {

// The satellite's schema as numbered migrations (PRAGMA user_version). Append only: never
// edit a migration that has shipped; add a new one.
std::span<const sqlite::Migration> SatelliteMigrations();

}  // namespace outpost::server::store
