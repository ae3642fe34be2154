#pragma once

#include <span>

#include "common/sqlite/migrations.h"

namespace outpost::central {

// The numbered migrations of central.db (PRAGMA user_version).
std::span<const sqlite::Migration> CentralMigrations();

}  // namespace outpost::central
