#include "server/licensing/core/compliance.h"

#include <algorithm>
#include <iterator>

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

namespace {

char FoldAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `needle` is folded already.
bool ContainsFolded(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return FoldAscii(a) == b; }) != text.end();
}

}  // namespace

ComplianceRow PoolBook::RowFor(const PoolKey& key, TimePoint now) const {
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
  return row;
}

std::vector<ComplianceRow> PoolBook::Compliance(TimePoint now,
                                                std::optional<std::string_view> va) const {
  ComplianceQuery query;
  if (va) query.va = std::string(*va);
  return ComplianceMatching(now, query).rows;
}

bool PoolBook::HasPoolsIn(std::string_view va) const {
  const auto it = pools_.lower_bound(PoolKey(std::string(va), std::string()));
  return it != pools_.end() && it->first.first == va;
}

CompliancePage PoolBook::ComplianceMatching(TimePoint now, const ComplianceQuery& query) const {
  const size_t limit = std::max<size_t>(1, query.limit);
  const size_t max_walk = std::max<size_t>(1, query.max_walk);
  std::string needle = query.search;
  std::transform(needle.begin(), needle.end(), needle.begin(), FoldAscii);
  // pools_ is sorted by (va, tag): a VA (or one pool) is a contiguous range, and the cursor a
  // position in it, so the walk starts where the page starts.
  auto it = pools_.begin();
  if (query.va) it = pools_.lower_bound(PoolKey(*query.va, query.tag.value_or("")));
  if (query.after && (it == pools_.end() || it->first <= *query.after)) {
    it = pools_.upper_bound(*query.after);
  }
  CompliancePage page;
  size_t walked = 0;
  for (; it != pools_.end(); ++it) {
    const PoolKey& key = it->first;
    if (query.va && key.first != *query.va) break;
    if (query.va && query.tag && key.second != *query.tag) break;
    if (walked == max_walk) {
      page.resume_after = std::prev(it)->first;
      break;
    }
    ++walked;
    if (query.tag && key.second != *query.tag) continue;
    if (!needle.empty() && !ContainsFolded(key.first, needle) &&
        !ContainsFolded(key.second, needle)) {
      continue;
    }
    if (page.rows.size() == limit) {  // one more matches: there is a next page
      page.resume_after = PoolKey(page.rows.back().va, page.rows.back().tag);
      break;
    }
    page.rows.push_back(RowFor(key, now));
  }
  return page;
}

}  // namespace outpost::server::licensing
