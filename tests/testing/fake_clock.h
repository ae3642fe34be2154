#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace outpost::testing {

// A Clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = FromUnixSeconds(1'780'000'000)) : now_(start) {}
  TimePoint Now() const override { return now_.load(); }
  void Set(TimePoint t) { now_.store(t); }
  void Advance(Duration d) { now_.store(now_.load() + d); }

 private:
  std::atomic<TimePoint> now_;
};

}  // namespace outpost::testing
