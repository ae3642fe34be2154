#include "server/api/blocking_pool.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/thread_boundary.h"
#include "spdlog/spdlog.h"

namespace outpost::server::api {

BlockingPool::BlockingPool(size_t threads)
    : pool_(std::make_unique<boost::asio::thread_pool>(threads)) {}

BlockingPool::~BlockingPool() { Join(); }

void BlockingPool::Post(std::function<void()> task) {
  boost::asio::post(*pool_, [task = std::move(task)]() mutable {
    Status s = CatchAtBoundary("an admin handler", [&] {
      // Destroyed inside the guard: a Reply captured by the task answers 500 from here.
      auto run = std::move(task);
      run();
    });
    if (!s.ok()) spdlog::error("{}; the request was answered with 500", s.message());
  });
}

void BlockingPool::Join() { pool_->join(); }

}  // namespace outpost::server::api
