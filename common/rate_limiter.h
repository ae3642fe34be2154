#pragma once

// RateLimiter: a token bucket per key (a client address): up to `per_minute` events in a burst,
// refilled at `per_minute` per minute. Used where an attacker could otherwise spend the server's
// work freely: registrations, password logins, failed API keys.
//
// Thread-safety: all methods may be called from any thread.

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace outpost {

class RateLimiter {
 public:
  // `clock` must outlive the limiter. At most `max_keys` buckets are kept: beyond that, the
  // buckets that have refilled (which lose nothing by being forgotten) are dropped.
  RateLimiter(const Clock& clock, int per_minute, size_t max_keys = 100'000);

  // Takes one token for `key`: nullopt when allowed, else the whole seconds to wait (>= 1).
  std::optional<int> Take(const std::string& key);
  // As Take, without taking: whether `key` would be refused now. For limits counted on failures
  // only, checked before the work that might fail.
  std::optional<int> Check(const std::string& key);

  int per_minute() const { return per_minute_; }

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint last;
  };
  // The refilled bucket of `key` (created full), mu_ held.
  Bucket& Refill(const std::string& key, TimePoint now);
  const Clock& clock_;
  const int per_minute_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace outpost
