#include "server/licensing/core/compliance.h"

#include <algorithm>

#include "server/licensing/core/pool_internal.h"
#include "server/licensing/core/pools.h"

namespace outpost::server::licensing {

std::string_view ComplianceStatusName(ComplianceStatus status) {
  switch (status) {
    case ComplianceStatus::kInCompliance:
      return "IN_COMPLIANCE";
    case ComplianceStatus::kOutOfCompliance:
      return "OUT_OF_COMPLIANCE";
    case ComplianceStatus::kExpiring:
      return "EXPIRING";
    case ComplianceStatus::kExpired:
      return "EXPIRED";
  }
  return "UNKNOWN";
}

std::vector<ComplianceRow> PoolBook::Compliance(TimePoint now,
                                                std::optional<std::string_view> va) const {
  std::vector<ComplianceRow> rows;
  for (const auto& [key, pool] : pools_) {  // sorted by (va, tag)
    if (va && key.first != *va) continue;
    const PoolAvailability a = AvailabilityFor(key, nullptr, nullptr, now);
    ComplianceRow row;
    row.va = key.first;
    row.tag = key.second;
    row.purchased = a.purchased;
    row.in_use = a.in_use;
    row.reserved = a.reserved;
    row.available = std::max<int64_t>(0, a.available);
    row.enforcement = a.enforcement;
    row.floating = a.floating;
    row.export_controlled = a.export_controlled;
    row.next_end = a.next_end;
    if (!a.entitled && a.last_end) {
      row.status = ComplianceStatus::kExpired;
      row.expired_at = a.last_end;
    } else if (a.in_use > a.purchased) {
      row.status = ComplianceStatus::kOutOfCompliance;
    } else if (a.next_end && *a.next_end <= now + kExpiringWithin) {
      row.status = ComplianceStatus::kExpiring;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace outpost::server::licensing
