#include "server/licensing/core/usage.h"

#include <algorithm>
#include <tuple>

namespace outpost::server::licensing {
namespace {

TimePoint HourOf(TimePoint t) { return std::chrono::floor<std::chrono::hours>(t); }

}  // namespace

void UsageTracker::CloseBefore(const std::pair<std::string, std::string>& pool, OpenHour& open,
                               TimePoint until) {
  while (open.hour < until) {
    if (open.max_in_use > 0)
      closed_.push_back({pool.first, pool.second, open.hour, open.max_in_use});
    // An idle pool has nothing to report for the hours in between: jump instead of looping.
    open.hour = open.level == 0 ? until : open.hour + std::chrono::hours(1);
    open.max_in_use = open.level;
  }
}

void UsageTracker::Observe(std::string_view va, std::string_view tag, int64_t in_use,
                           TimePoint at) {
  std::pair<std::string, std::string> key{std::string(va), std::string(tag)};
  const TimePoint hour = HourOf(at);
  auto it = open_.find(key);
  if (it == open_.end()) {
    if (in_use == 0) return;  // nothing to remember about an unused pool
    open_.emplace(std::move(key), OpenHour{hour, in_use, in_use});
    return;
  }
  OpenHour& open = it->second;
  CloseBefore(it->first, open, hour);
  open.level = in_use;
  open.max_in_use = std::max(open.max_in_use, in_use);
}

std::vector<UsageSample> UsageTracker::CloseHours(TimePoint now) {
  const TimePoint hour = HourOf(now);
  for (auto it = open_.begin(); it != open_.end();) {
    CloseBefore(it->first, it->second, hour);
    if (it->second.level == 0 && it->second.max_in_use == 0) {
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<UsageSample> out = std::move(closed_);
  closed_.clear();
  std::sort(out.begin(), out.end(), [](const UsageSample& a, const UsageSample& b) {
    return std::tie(a.hour, a.va, a.tag) < std::tie(b.hour, b.va, b.tag);
  });
  return out;
}

}  // namespace outpost::server::licensing
