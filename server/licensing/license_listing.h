#pragma once

// The compliance listing for GET /v1/admin/licenses (docs/console-api.md): the query as the route
// read it, its checks and its cursor. Paged, a listing is a bounded walk over the pools in (va,
// tag) order (PoolBook::ComplianceMatching), so a page costs the pools it looks at — at most
// kLicenseMaxWalk — whatever the number of devices or pools; unpaged it is every matching row,
// as the CLI has always read it.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace outpost::server::licensing {

inline constexpr int64_t kDefaultLicensePage = 100;
inline constexpr int64_t kMaxLicensePage = 10'000;
inline constexpr size_t kLicenseMaxWalk = 50'000;
inline constexpr size_t kMaxLicenseSearchLength = 128;  // a tag's longest name

struct LicenseQuery {
  std::optional<std::string> va;   // only this VA (the caller checks that it exists)
  std::optional<std::string> tag;  // only this tag (with va: one pool; a tag's detail)
  std::string search;              // ?q=: part of a VA name or tag, any case; "" matches all
  // Paged when set: at most this many rows, starting after the cursor `after`, with next_after.
  std::optional<int64_t> limit;
  std::string after;  // a previous page's next_after; "" for the first page
};

// kInvalidArgument naming ?q= when it is longer than kMaxLicenseSearchLength or holds a character
// no VA name or tag can contain (letters, digits, '.', '_', ':' and '-' are allowed).
Status CheckLicenseSearch(std::string_view search);

// The cursor after the pool (va, tag): opaque text (base64url). It is a position in (va, tag)
// order, not bound to a search: any filters continue from it.
std::string EncodeLicenseCursor(std::string_view va, std::string_view tag);
// kInvalidArgument naming ?after= when `cursor` is not one EncodeLicenseCursor made.
Result<std::pair<std::string, std::string>> DecodeLicenseCursor(std::string_view cursor);

}  // namespace outpost::server::licensing
