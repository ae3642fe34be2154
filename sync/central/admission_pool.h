#pragma once

// The threads that check sync requests before they reach the database writer (admission.h):
// few (checking is CPU work: parsing and signatures), with a short queue, so a flood of bad
// requests costs at most these threads and is refused beyond the queue, while the writer keeps
// serving requests that passed.
//
// Thread-safety: TryPost may be called from any thread. The destructor runs what is queued and
// joins the threads.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace outpost::central {

class AdmissionPool {
 public:
  AdmissionPool(size_t threads, size_t max_queued);
  ~AdmissionPool();
  AdmissionPool(const AdmissionPool&) = delete;
  AdmissionPool& operator=(const AdmissionPool&) = delete;

  // Queues `work` unless max_queued tasks are already waiting; false then (nothing queued).
  // `work` must not throw.
  bool TryPost(std::function<void()> work);
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace outpost::central
