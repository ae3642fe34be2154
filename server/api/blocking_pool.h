#pragma once

// BlockingPool: a few threads for admin handlers that block (password hashing, waiting for a
// commit), so the I/O threads never do. A task that throws is a bug of that task: the exception
// stops here (logged), the task's captured Reply is destroyed unanswered — which the HTTP layer
// answers with a 500 — and the pool goes on with the next task.
//
// Thread-safety: Post may be called from any thread; Join once, from the owner.

#include <cstddef>
#include <functional>
#include <memory>

namespace boost::asio {
class thread_pool;
}

namespace outpost::server::api {

class BlockingPool {
 public:
  explicit BlockingPool(size_t threads);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void Post(std::function<void()> task);
  // Waits for every posted task to finish; Post after Join runs nothing.
  void Join();

 private:
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace outpost::server::api
