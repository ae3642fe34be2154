#pragma once

// Builders and checks shared by the licensing tests. Times come from a FakeClock; entitlements
// made here started a year before the clock's start and are perpetual unless a test says else.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"
#include "server/licensing/core/pools.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server::licensing {

using namespace std::chrono_literals;
inline constexpr Duration kDay = std::chrono::hours(24);

inline Entitlement MakeEntitlement(std::string id, std::string va, std::string tag,
                                   int64_t quantity, TimePoint now,
                                   Enforcement enforcement = Enforcement::kReported) {
  Entitlement e;
  e.id = std::move(id);
  e.va = std::move(va);
  e.tag = std::move(tag);
  e.quantity = quantity;
  e.start = now - 365 * kDay;
  e.enforcement = enforcement;
  return e;
}

inline Udi MakeUdi(std::string serial) { return Udi{"C9300-24T", std::move(serial)}; }

// A device in `va` whose UDI serial is derived from the instance id.
inline DeviceRef MakeDevice(std::string instance_id, std::string va = "default",
                            bool export_allowed = false) {
  DeviceRef d;
  d.udi = MakeUdi("SN-" + instance_id);
  d.instance_id = std::move(instance_id);
  d.va = std::move(va);
  d.export_allowed = export_allowed;
  return d;
}

// Readable failure output (gtest finds these by argument-dependent lookup).
inline void PrintTo(const UsageSample& s, std::ostream* os) {
  *os << s.va << "/" << s.tag << " " << FormatRfc3339(s.hour) << " max " << s.max_in_use;
}
inline void PrintTo(const TagChange& c, std::ostream* os) {
  *os << c.tag << " " << c.old_count << "->" << c.new_count;
  if (c.valid_until) *os << " until " << FormatRfc3339(*c.valid_until);
}
inline void PrintTo(const ConsumptionRow& r, std::ostream* os) {
  *os << r.instance_id << " " << r.va << " " << r.udi.ToString() << " " << r.tag << " x" << r.count
      << " until " << FormatRfc3339(r.valid_until);
}

// The decision for `tag` (fails the test and returns a NOT_ENTITLED stub if absent).
inline TagDecision TagOf(const AuthorizationDecision& decision, std::string_view tag) {
  for (const TagDecision& d : decision.tags) {
    if (d.tag == tag) return d;
  }
  ADD_FAILURE() << "no decision for tag " << tag;
  return TagDecision{};
}

// The compliance row of (va, tag); an all-zero row if the pool is not listed.
inline ComplianceRow RowOf(const PoolBook& book, TimePoint now, std::string_view va,
                           std::string_view tag) {
  for (ComplianceRow& row : book.Compliance(now, va)) {
    if (row.tag == tag) return row;
  }
  ComplianceRow none;
  none.va = std::string(va);
  none.tag = std::string(tag);
  return none;
}

inline int64_t InUse(const PoolBook& book, TimePoint now, std::string_view va,
                     std::string_view tag) {
  return RowOf(book, now, va, tag).in_use;
}

// What the device holds now: tag -> count.
inline std::map<std::string, int64_t> Holdings(const PoolBook& book, std::string_view instance) {
  std::map<std::string, int64_t> out;
  for (const ConsumptionRow& row : book.DeviceConsumption(instance)) out[row.tag] = row.count;
  return out;
}

// The consumption table as the writer would keep it: applies deltas and checks that each change
// starts from what the table holds (a delta that does not is not persistable).
class FakeConsumptionTable {
 public:
  void Apply(const ConsumptionDelta& delta) {
    for (const TagChange& change : delta.changes) {
      const std::pair<std::string, std::string> key{delta.instance_id, change.tag};
      auto it = rows_.find(key);
      const int64_t stored = it == rows_.end() ? 0 : it->second.count;
      EXPECT_EQ(stored, change.old_count) << delta.instance_id << " " << change.tag;
      if (change.new_count == 0) {
        EXPECT_FALSE(change.valid_until.has_value());
        rows_.erase(key);
        continue;
      }
      EXPECT_TRUE(change.valid_until.has_value());
      rows_[key] = ConsumptionRow{delta.instance_id, delta.va,         delta.udi,
                                  change.tag,        change.new_count, *change.valid_until};
    }
  }
  void Apply(const std::vector<ConsumptionDelta>& deltas) {
    for (const ConsumptionDelta& d : deltas) Apply(d);
  }
  void Apply(const RehostDelta& delta) {
    Apply(delta.removed);
    Apply(delta.added);
  }
  std::vector<ConsumptionRow> Rows() const {
    std::vector<ConsumptionRow> out;
    for (const auto& [key, row] : rows_) out.push_back(row);
    return out;
  }

 private:
  std::map<std::pair<std::string, std::string>, ConsumptionRow> rows_;
};

}  // namespace outpost::server::licensing
