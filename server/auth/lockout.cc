#include "server/auth/lockout.h"

#include <algorithm>

namespace outpost::server::auth {

std::chrono::seconds LockDuration(const LockoutRule& rule, int64_t failed) {
  if (failed < rule.threshold) return std::chrono::seconds(0);
  const int64_t doublings = std::min<int64_t>(failed - rule.threshold, 40);
  std::chrono::seconds lock = rule.initial;
  for (int64_t i = 0; i < doublings && lock < rule.max; ++i) lock *= 2;
  return std::min(lock, rule.max);
}

int64_t FailureCounter::LockedFor(const std::string& key, int64_t now_s) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until <= now_s) return 0;
  return it->second.locked_until - now_s;
}

FailureCounter::Counted FailureCounter::Fail(const std::string& key, int64_t now_s) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_keys_ && !entries_.contains(key)) {
    std::erase_if(entries_, [&](const auto& e) { return e.second.locked_until <= now_s; });
    if (entries_.size() >= max_keys_) return {};
  }
  Entry& entry = entries_[key];
  entry.failed += 1;
  Counted counted{entry.failed, LockDuration(rule_, entry.failed).count()};
  if (counted.lock_s > 0) entry.locked_until = now_s + counted.lock_s;
  return counted;
}

void FailureCounter::Reset(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void FailureCounter::ResetPrefix(std::string_view prefix) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const auto& e) { return e.first.starts_with(prefix); });
}

size_t FailureCounter::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace outpost::server::auth
