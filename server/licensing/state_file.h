#pragma once

// The state file: the device registry and the pool book's devices as bytes (state_codec.h),
// written by LicensingService::SaveState at a clean stop and read at the next start instead of
// decoding a million device rows and two million consumption rows (docs/architecture.md,
// "Start-up"). It is a cache of the database, never the truth:
// - It carries a random token; the same token is committed to the database's licensing_state
//   table right after the file is in place, and triggers on the devices and consumption tables
//   delete that row on any change, by anyone (migration 8). So the file is used only while the
//   tables are exactly what it was written from: a crash after a change, a hand edit, a restored
//   backup or an older file all mean "read the tables".
// - A checksum per section and a length catch a torn or damaged file.
// - Entitlements and reservations are not in it: they are few, and always read from the tables.
//
// Thread-safety: free functions; the caller owns what it passes.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/licensing/core/registry.h"
#include "server/licensing/core/restorer.h"

namespace outpost::server::licensing {

// Writes `registry` and `book` with `token` to `path`, through a temporary file in the same
// directory renamed over it (no fsync: a file that did not reach the disk whole fails its
// checksum or its token, and the next start reads the tables).
Status WriteStateFile(const std::filesystem::path& path, std::string_view token,
                      const DeviceRegistry& registry, const PoolBook& book);

// The token in the file's header; nullopt when there is no file or it does not start like one.
std::optional<std::string> StateFileToken(const std::filesystem::path& path);

// Fills the empty `registry`, and `restorer` with the book's devices (AddSavedDevices; the
// caller adds entitlements and reservations and calls Finish), the two sections decoded on two
// threads. kNotFound when there is no file; kFailedPrecondition when it carries another token;
// kDataLoss when it is not whole. Either way the caller then loads from the tables.
Status ReadStateFile(const std::filesystem::path& path, std::string_view token,
                     DeviceRegistry& registry, PoolBook::Restorer& restorer);

}  // namespace outpost::server::licensing
