#pragma once

#include <chrono>

namespace outpost {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

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

// Seconds since the Unix epoch, the unit stored in the database and on the wire.
inline int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixSeconds(int64_t s) { return TimePoint(std::chrono::seconds(s)); }

}  // namespace outpost
