#include "server/licensing/core/clock.h"

#include <algorithm>
#include <utility>

namespace outpost::server::licensing {

HighWaterClock::HighWaterClock(const Clock& real, TimePoint persisted_high_water,
                               Duration tolerance)
    : real_(real),
      tolerance_(std::max(tolerance, Duration::zero())),
      high_water_(persisted_high_water) {}

TimePoint HighWaterClock::ObserveLocked() const {
  const TimePoint real = real_.Now();
  if (real > high_water_) high_water_ = real;
  // Jitter within the tolerance (NTP steps, VM pauses) is absorbed silently by the max(); only a
  // larger step is an episode, reported when it starts and closed when the clock catches up.
  const bool rolled_back = real < high_water_ - tolerance_;
  if (rolled_back && !in_rollback_) {
    unreported_ = ClockRollback{real, high_water_, high_water_ - real};
  }
  in_rollback_ = rolled_back;
  return high_water_;
}

TimePoint HighWaterClock::Now() const {
  std::lock_guard lock(mu_);
  return ObserveLocked();
}

TimePoint HighWaterClock::HighWater() const {
  std::lock_guard lock(mu_);
  return ObserveLocked();
}

bool HighWaterClock::InRollback() const {
  std::lock_guard lock(mu_);
  ObserveLocked();
  return in_rollback_;
}

std::optional<ClockRollback> HighWaterClock::TakeRollback() {
  std::lock_guard lock(mu_);
  ObserveLocked();
  return std::exchange(unreported_, std::nullopt);
}

}  // namespace outpost::server::licensing
