#include "sync/central/admission_pool.h"

#include <algorithm>

namespace outpost::central {

AdmissionPool::AdmissionPool(size_t threads, size_t max_queued, size_t max_queued_per_key)
    : max_queued_(max_queued), max_queued_per_key_(max_queued_per_key) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    threads_.emplace_back([this] { Run(); });
}

AdmissionPool::~AdmissionPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool AdmissionPool::TryPost(const std::string& key, std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queued_ >= max_queued_) return false;
    auto [it, added] = queues_.try_emplace(key);
    if (it->second.size() >= max_queued_per_key_) return false;
    if (it->second.empty()) turns_.push_back(key);
    it->second.push_back(std::move(work));
    ++queued_;
  }
  cv_.notify_one();
  return true;
}

size_t AdmissionPool::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

void AdmissionPool::Run() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || queued_ > 0; });
      if (queued_ == 0) return;  // stopping, and everything queued has run
      // The key whose turn it is gives one item and, if it has more, waits for its next turn.
      const std::string key = std::move(turns_.front());
      turns_.pop_front();
      auto it = queues_.find(key);
      work = std::move(it->second.front());
      it->second.pop_front();
      --queued_;
      if (it->second.empty()) {
        queues_.erase(it);
      } else {
        turns_.push_back(key);
      }
    }
    work();
  }
}

}  // namespace outpost::central
