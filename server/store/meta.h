#pragma once

// satellite_meta, the satellite's settings (migration 1): its identity (satellite_id, created_at,
// signing_key_id, signing_public_key), the configuration's digest at the last start
// (config_sha256), the clock's high-water mark (clock_high_water) and the state of sync with
// central (account, central's key and URL, the last request and response, the central policy, the
// audit alarm). Read and written only through this table's accessor: on the writer's connection
// inside a unit of work, or on a reader's.

#include <string_view>

#include "common/sqlite/meta_table.h"

namespace outpost::server::store {

inline constexpr sqlite::MetaTable kSatelliteMeta("satellite_meta");

// The keys read in more than one place.
inline constexpr std::string_view kMetaSatelliteId = "satellite_id";
inline constexpr std::string_view kMetaSigningPublicKey = "signing_public_key";
// Written by `outpost restore` (server/backup/backup.h), read by sync: the restore's id and its
// RestoreNotice (hex of the serialized message), carried by every later sync request.
inline constexpr std::string_view kMetaRestoreId = "restore_id";
inline constexpr std::string_view kMetaRestoreNotice = "restore_notice";

}  // namespace outpost::server::store
