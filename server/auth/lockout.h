#pragma once

// Counting failed logins in memory, per key, and the lock they earn. Internal to server/auth:
// AuthStore keys it by (user name, client address) for every name, and by user name for names
// that do not exist (real users' per-name count lives in the users table).
//
// Thread-safe. Bounded: at most `max_keys` keys are held (see Fail).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace outpost::server::auth {

struct LockoutRule {
  int threshold = 5;  // consecutive failures that start a lock
  std::chrono::seconds initial = std::chrono::minutes(1);
  std::chrono::seconds max = std::chrono::hours(1);
};

// The lock after `failed` consecutive failures: none (0) below the threshold, `initial` at it,
// doubling with each further failure up to `max`.
std::chrono::seconds LockDuration(const LockoutRule& rule, int64_t failed);

class FailureCounter {
 public:
  FailureCounter(LockoutRule rule, size_t max_keys) : rule_(rule), max_keys_(max_keys) {}

  // Seconds until the lock of `key` ends; 0 when it is not locked.
  int64_t LockedFor(const std::string& key, int64_t now_s);

  struct Counted {
    int64_t failed = 0;  // consecutive failures of `key`, this one included; 0: not counted
    int64_t lock_s = 0;  // the lock this failure started; 0: none
  };
  // Counts one failure of `key`. When the table is full, the keys without a running lock are
  // forgotten first (their counts only lengthen a later lock); if every key is locked, the
  // failure is not counted here (`failed` 0) and the caller's other limits must hold.
  Counted Fail(const std::string& key, int64_t now_s);

  // Forgets `key` (a success), or every key starting with `prefix`.
  void Reset(const std::string& key);
  void ResetPrefix(std::string_view prefix);

  size_t size();

 private:
  struct Entry {
    int64_t failed = 0;
    int64_t locked_until = 0;
  };
  const LockoutRule rule_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace outpost::server::auth
