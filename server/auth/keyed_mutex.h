#pragma once

// Mutual exclusion per key (e.g. per user name) without a mutex per possible key. Internal to
// server/auth.

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace outpost::server::auth {

// Thread-safe. Holders of different keys never wait for each other; holders of one key take
// turns. Must outlive its locks.
class KeyedMutex {
 public:
  class Lock {
   public:
    ~Lock() {
      if (owner_ == nullptr) return;
      {
        std::lock_guard<std::mutex> lock(owner_->mu_);
        owner_->held_.erase(key_);
      }
      owner_->released_.notify_all();
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    friend class KeyedMutex;
    Lock(KeyedMutex* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    KeyedMutex* owner_;
    std::string key_;
  };

  // Blocks until no other Lock holds `key`.
  [[nodiscard]] Lock Acquire(std::string_view key) {
    std::unique_lock<std::mutex> lock(mu_);
    released_.wait(lock, [&] { return held_.find(key) == held_.end(); });
    held_.emplace(key);
    return Lock(this, std::string(key));
  }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  std::set<std::string, std::less<>> held_;  // guarded by mu_
};

}  // namespace outpost::server::auth
