#pragma once

// BlockingPool: a few threads for admin handlers that block (password hashing, waiting for a
// commit), so the I/O threads never do. A task that throws is a bug of that task: the exception
// stops here (logged), the task's captured Reply is destroyed unanswered — which the HTTP layer
// answers with a 500 — and the pool goes on with the next task.
//
// A pool may bound its queue (max_queued): TryPost then refuses work beyond it, so that a flood
// of expensive requests (password hashing) is answered 503 instead of queueing without end.
//
// Thread-safety: Post and TryPost may be called from any thread; Join once, from the owner.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

namespace boost::asio {
class thread_pool;
}

namespace outpost::server::api {

class BlockingPool {
 public:
  // `max_queued` = 0: unbounded.
  explicit BlockingPool(size_t threads, size_t max_queued = 0);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `task` on the pool, queueing without bound.
  void Post(std::function<void()> task);
  // As Post, but false (and `task` dropped) when max_queued tasks are waiting or running.
  bool TryPost(std::function<void()> task);
  // Waits for every posted task to finish; Post after Join runs nothing.
  void Join();

 private:
  void Run(std::function<void()> task);

  std::unique_ptr<boost::asio::thread_pool> pool_;
  const size_t max_queued_;
  std::atomic<size_t> queued_{0};
};

}  // namespace outpost::server::api
