#pragma once

// Compliance rows (DESIGN.md section 2, "Compliance and usage"), computed by
// PoolBook::Compliance from the entitlements valid at the time asked and the current
// consumption.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "server/licensing/core/types.h"

namespace outpost::server::licensing {

// How far ahead an ending entitlement makes its pool EXPIRING.
inline constexpr Duration kExpiringWithin = std::chrono::hours(24 * 30);

// In order of precedence: a pool that is several of these shows the first that applies
// (EXPIRED, then OUT_OF_COMPLIANCE, then EXPIRING).
enum class ComplianceStatus {
  kInCompliance,     // in_use <= purchased and nothing ends within kExpiringWithin
  kOutOfCompliance,  // in_use > purchased
  kExpiring,         // an entitlement contributing to purchased ends within kExpiringWithin
  kExpired,          // no entitlement valid now, and at least one (with quantity) has ended
};
// "IN_COMPLIANCE", "OUT_OF_COMPLIANCE", "EXPIRING", "EXPIRED".
std::string_view ComplianceStatusName(ComplianceStatus status);

// One (VA, tag) pool. A pool is listed when it has an entitlement (past, present or future),
// a reservation or consumption.
struct ComplianceRow {
  std::string va;
  std::string tag;
  int64_t purchased = 0;  // sum of the quantities of entitlements valid now
  int64_t in_use = 0;     // sum of the devices' recorded counts
  int64_t reserved = 0;   // sum of the reservations, used or not
  // purchased - in_use - reserved units not used by their devices, at least 0: what a device
  // without a reservation can still get.
  int64_t available = 0;
  ComplianceStatus status = ComplianceStatus::kInCompliance;
  // From the entitlements valid now (the strictest wins); REPORTED / false when there are none.
  Enforcement enforcement = Enforcement::kReported;
  bool floating = false;
  bool export_controlled = false;
  // The earliest end of an entitlement contributing to purchased (nullopt: all perpetual).
  std::optional<TimePoint> next_end;
  // EXPIRED pools: when the last entitlement ended.
  std::optional<TimePoint> expired_at;

  friend bool operator==(const ComplianceRow&, const ComplianceRow&) = default;
};

// A bounded walk over the pools in (va, tag) order (PoolBook::ComplianceMatching), for listings
// that page: the cost of a page is the pools it looks at, not the installation.
struct ComplianceQuery {
  std::optional<std::string> va;   // only this VA (the walk starts at it: no scan of others)
  std::optional<std::string> tag;  // only this tag (with `va`: at most the one pool)
  // Part of the VA name or of the tag, compared case-insensitively (ASCII); "" matches all.
  std::string search;
  // Start after this (va, tag): a previous page's resume_after.
  std::optional<std::pair<std::string, std::string>> after;
  size_t limit = std::numeric_limits<size_t>::max();     // rows at most (0 counts as 1)
  size_t max_walk = std::numeric_limits<size_t>::max();  // pools looked at, at most (0 as 1)
};

struct CompliancePage {
  std::vector<ComplianceRow> rows;
  // The (va, tag) to pass as `after` for the next page; nullopt when the walk reached the end of
  // what the query can match. Set when the page is full and at least one more pool matches, and
  // when the walk looked at `max_walk` pools first: then the page can hold fewer than `limit`
  // rows, even none, and the next page goes on from there.
  std::optional<std::pair<std::string, std::string>> resume_after;
};

}  // namespace outpost::server::licensing
