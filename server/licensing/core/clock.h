#pragma once

// The satellite's notion of "now" for licensing decisions (DESIGN.md section 2, "Clock").
//
// HighWaterClock remembers the highest wall-clock time it has seen and never answers less, so
// setting the system clock back cannot make an ended entitlement valid again or delay the expiry
// of an authorization. A step back by more than the tolerance is a rollback: it is reported once
// per episode (TakeRollback) so the caller raises CLOCK_ROLLBACK and audits it. An episode ends
// when the real clock is back within the tolerance of the high-water mark.
//
// The caller persists HighWater() (e.g. with every commit) and seeds the next start with it, so a
// rollback made while the satellite was stopped is detected at the first reading.
//
// Thread-safety: thread-safe, as every Clock.

#include <mutex>
#include <optional>

#include "common/clock.h"

namespace outpost::server::licensing {

// One rollback episode, as first observed.
struct ClockRollback {
  TimePoint real;        // what the wall clock said
  TimePoint high_water;  // the highest time seen before
  Duration behind;       // high_water - real (> tolerance)
};

class HighWaterClock final : public Clock {
 public:
  static constexpr Duration kDefaultTolerance = std::chrono::minutes(5);

  // `real` must outlive this clock. `persisted_high_water` is the last persisted HighWater()
  // (the epoch on a fresh satellite). A negative `tolerance` is treated as zero.
  explicit HighWaterClock(const Clock& real, TimePoint persisted_high_water = TimePoint(),
                          Duration tolerance = kDefaultTolerance);

  // max(high-water mark, real time); advances the mark when the real clock is ahead of it.
  TimePoint Now() const override;

  // The mark to persist. Reads the real clock first.
  TimePoint HighWater() const;

  // True while the real clock is more than the tolerance behind the mark. Reads the real clock.
  bool InRollback() const;

  // The rollback episode not yet reported, once: a second call in the same episode returns
  // nullopt, a new episode (after the clock came back within the tolerance) reports again.
  // Reads the real clock, so polling this alone detects a rollback.
  std::optional<ClockRollback> TakeRollback();

 private:
  // Reads the real clock and updates the mark and the episode. Requires mu_.
  TimePoint ObserveLocked() const;

  const Clock& real_;
  const Duration tolerance_;
  mutable std::mutex mu_;
  mutable TimePoint high_water_;
  mutable bool in_rollback_ = false;
  mutable std::optional<ClockRollback> unreported_;
};

}  // namespace outpost::server::licensing
