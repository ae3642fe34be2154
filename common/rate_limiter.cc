#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace outpost {

RateLimiter::RateLimiter(const Clock& clock, int per_minute, size_t max_keys)
    : clock_(clock), per_minute_(std::max(1, per_minute)), max_keys_(max_keys) {}

RateLimiter::Bucket& RateLimiter::Refill(const std::string& key, TimePoint now) {
  const double capacity = per_minute_;
  if (buckets_.size() >= max_keys_) {
    std::erase_if(buckets_, [&](const auto& entry) {
      const double elapsed = std::chrono::duration<double>(now - entry.second.last).count();
      return entry.second.tokens + elapsed * capacity / 60.0 >= capacity;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{capacity, now});
  Bucket& b = it->second;
  if (!inserted) {
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
    b.tokens = std::min(capacity, b.tokens + elapsed * capacity / 60.0);
    b.last = now;
  }
  return b;
}

std::optional<int> RateLimiter::Take(const std::string& key) {
  std::lock_guard lock(mu_);
  Bucket& b = Refill(key, clock_.Now());
  if (b.tokens < 1.0) {
    return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) * 60.0 / per_minute_)));
  }
  b.tokens -= 1.0;
  return std::nullopt;
}

std::optional<int> RateLimiter::Check(const std::string& key) {
  std::lock_guard lock(mu_);
  const Bucket& b = Refill(key, clock_.Now());
  if (b.tokens < 1.0) {
    return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) * 60.0 / per_minute_)));
  }
  return std::nullopt;
}

}  // namespace outpost
