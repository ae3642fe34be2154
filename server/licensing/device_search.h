#pragma once

// Device search for GET /v1/admin/devices (docs/console-api.md): which registered devices match a
// query, a page at a time, with an opaque cursor — over the devices and consumption tables and
// their search indexes (schema version 9), so a page at 1,000,000 devices is a short index walk:
//
//   ?q=        UDI prefix, then hostname prefix (ASCII case-insensitive): the UDI matches first,
//              in UDI order, then the hostname matches that are not UDI matches, in hostname order
//   ?udi=      UDI prefix (an exact UDI is its own prefix), in UDI order
//   ?hostname= hostname prefix, in hostname order
//   ?tag=      devices holding the tag, in instance-id order
//   none       every device, in instance-id order
//
// The first of q, udi, hostname, tag that is given chooses the index walked; the others and ?va=
// filter the walk. A page walks at most `max_scanned` index entries: a narrow filter over a wide
// walk can answer fewer than `limit` devices (even none) with next_after set — follow it.
// A cursor is bound to the filters that made it; another search refuses it.
//
// Thread-safety: each call uses only `db` (a reader connection: one thread at a time).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::server::licensing {

inline constexpr int64_t kDefaultDevicePage = 100;
inline constexpr int64_t kMaxDevicePage = 10'000;  // the CLI lists up to 10,000 in one page
inline constexpr int64_t kDefaultMaxScanned = 50'000;
inline constexpr size_t kMaxSearchTextBytes = 256;

struct DeviceQuery {
  std::string q;
  std::string udi;
  std::string hostname;
  std::string tag;
  std::optional<std::string> va;
  std::string after;  // cursor from a previous page's next_after; "" for the first page
  int64_t limit = kDefaultDevicePage;
};

// What the devices row holds that memory does not (the rest comes from the registry).
struct DeviceSearchRow {
  std::string instance_id;
  std::string hostname;
  std::string token_id;
  int64_t registered_at = 0;
  std::optional<int64_t> last_seen_at;
};

struct DeviceSearchPage {
  std::vector<DeviceSearchRow> rows;
  std::string next_after;  // "" when nothing follows
};

// Checks the query without running it. kInvalidArgument (naming the parameter) for a limit outside
// 1..kMaxDevicePage, a search text over kMaxSearchTextBytes or holding control characters, and a
// cursor that is not one of ours (altered, or made under another key) or belongs to another
// search.
Status CheckDeviceQuery(const DeviceQuery& query, std::string_view cursor_key);

// One page of the search. Cursors carry an HMAC under `cursor_key` (any bytes; the service keeps
// a random one per process, so cursors do not outlive a restart): an altered cursor is refused.
// Errors: those of CheckDeviceQuery; otherwise SQLite's.
Result<DeviceSearchPage> SearchDevices(sqlite::Connection& db, const DeviceQuery& query,
                                       std::string_view cursor_key,
                                       int64_t max_scanned = kDefaultMaxScanned);

// ASCII lower case, as SQLite's lower() (the search indexes are built with it).
std::string AsciiLower(std::string_view text);

}  // namespace outpost::server::licensing
