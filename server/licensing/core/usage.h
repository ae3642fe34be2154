#pragma once

// Usage samples (DESIGN.md section 2, "Compliance and usage"): per (VA, tag), the highest
// in_use of each clock hour, kept for usage reports and the console's charts.
//
// PoolBook feeds the tracker after every change of a pool's in_use; the caller calls
// CloseHours periodically (at least hourly) and persists what it returns. A pool's level
// carries over hour boundaries, so an hour without changes has the level it started with.
// Hours whose high-water mark is 0 are not returned: a missing sample means no use.
// The hour being filled is not persisted; after a restart the book re-seeds the levels.
//
// Thread-safety: none; one owner, like the PoolBook that feeds it.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace outpost::server::licensing {

struct UsageSample {
  std::string va;
  std::string tag;
  TimePoint hour;  // start of the clock hour (UTC)
  int64_t max_in_use = 0;

  friend bool operator==(const UsageSample&, const UsageSample&) = default;
};

class UsageTracker {
 public:
  // The pool (va, tag) has `in_use` units in use from `at` on. An `at` before the hour being
  // filled (the clock went back) counts towards that hour.
  void Observe(std::string_view va, std::string_view tag, int64_t in_use, TimePoint at);

  // Closes every hour that ended at or before `now` and returns the samples of the hours closed
  // since the last call, sorted by (hour, va, tag).
  std::vector<UsageSample> CloseHours(TimePoint now);

 private:
  struct OpenHour {
    TimePoint hour;
    int64_t max_in_use = 0;
    int64_t level = 0;  // in_use now
  };
  // Closes the hours of `pool` before `until` (an hour start) into closed_.
  void CloseBefore(const std::pair<std::string, std::string>& pool, OpenHour& open,
                   TimePoint until);

  std::map<std::pair<std::string, std::string>, OpenHour> open_;
  std::vector<UsageSample> closed_;
};

}  // namespace outpost::server::licensing
