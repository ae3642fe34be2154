#pragma once

// The threads that check sync requests before they reach the database writer (admission.h):
// few (checking is CPU work: parsing and signatures), with a bounded queue, so a flood of bad
// requests costs at most these threads and is refused beyond the queue, while the writer keeps
// serving requests that passed.
//
// Fair: work is queued per key (the client's address) and the threads take one item of each
// key in turn, so a client with many requests queued delays another client's one request by at
// most one item per busy key, not by its whole queue (issue 17, finding 1). Each key may have
// max_queued_per_key items waiting, all keys together max_queued.
//
// Thread-safety: TryPost may be called from any thread. The destructor runs what is queued and
// joins the threads.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace outpost::central {

class AdmissionPool {
 public:
  AdmissionPool(size_t threads, size_t max_queued, size_t max_queued_per_key);
  ~AdmissionPool();
  AdmissionPool(const AdmissionPool&) = delete;
  AdmissionPool& operator=(const AdmissionPool&) = delete;

  // Queues `work` under `key` unless the pool or that key is full; false then (nothing
  // queued). `work` must not throw.
  bool TryPost(const std::string& key, std::function<void()> work);
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  const size_t max_queued_per_key_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::deque<std::function<void()>>> queues_;  // guarded by mu_
  std::deque<std::string> turns_;  // keys with work, in the order they are served; guarded
  size_t queued_ = 0;              // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace outpost::central
