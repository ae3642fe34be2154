#pragma once

// The state file: the device registry and the pool book's devices as bytes (state_codec.h),
// written by LicensingService::SaveState (at a clean stop, after a start that read the tables, and
// whenever many devices changed since the last save) and read at the next start instead of
// decoding a million device rows and two million consumption rows (docs/architecture.md,
// "Start-up"). It is a cache of the database, never the truth:
// - It carries a random token; the same token is committed to the database's licensing_state
//   table with the file's digest (the SHA-256 of its header, which holds the SHA-256 of each
//   section) in the unit that wrote the file. From then on triggers on the devices and
//   consumption tables list every instance whose rows change, by anyone, in licensing_changed
//   (migration 12); a start reads the file, then those instances' rows from the tables. So the
//   file stays usable after a crash, and a hand edit of the tables is seen like any change.
// - A file of another token or digest, a torn, damaged or edited one (length, a 64-bit checksum
//   and the SHA-256 of each section), or an older format means "read the tables". Changing the
//   file unnoticed needs the database changed too.
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
// digests, and the next start reads the tables). Returns the file's digest (lowercase hex).
Result<std::string> WriteStateFile(const std::filesystem::path& path, std::string_view token,
                                   const DeviceRegistry& registry, const PoolBook& book);

// The token in the file's header; nullopt when there is no file or it does not start like one.
std::optional<std::string> StateFileToken(const std::filesystem::path& path);

// Fills the empty `registry`, and `restorer` with the book's devices (AddSavedDevices; the
// caller adds entitlements and reservations and calls Finish), the two sections decoded on two
// threads. kNotFound when there is no file; kFailedPrecondition when it carries another token or
// digest; kDataLoss when it is not whole or a section's SHA-256 is not what its header says.
// Either way the caller then loads from the tables.
Status ReadStateFile(const std::filesystem::path& path, std::string_view token,
                     std::string_view digest, DeviceRegistry& registry,
                     PoolBook::Restorer& restorer);

}  // namespace outpost::server::licensing
