#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace outpost {

RateLimiter::RateLimiter(const Clock& clock, int per_minute, size_t max_keys)
    : clock_(clock), per_minute_(std::max(1, per_minute)), max_keys_(max_keys) {}

std::optional<int> RateLimiter::Take(const std::string& key) {
  const double capacity = per_minute_;
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
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
  if (b.tokens < 1.0) {
    return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) * 60.0 / capacity)));
  }
  b.tokens -= 1.0;
  return std::nullopt;
}

}  // namespace outpost
