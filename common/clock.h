#pragma once

#include <chrono>

#include "common/time.h"

namespace outpost {

// Source of wall-clock time. Everything that makes a decision from time (expiry, renewal,
// overdue alarms, certificate validity) takes a Clock so tests can use a fake one.
// Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace outpost
