#include "server/api/blocking_pool.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/thread_boundary.h"
#include "spdlog/spdlog.h"

namespace outpost::server::api {

BlockingPool::BlockingPool(size_t threads, size_t max_queued)
    : pool_(std::make_unique<boost::asio::thread_pool>(threads)), max_queued_(max_queued) {}

BlockingPool::~BlockingPool() { Join(); }

void BlockingPool::Post(std::function<void()> task) {
  queued_.fetch_add(1);
  boost::asio::post(*pool_, [this, task = std::move(task)]() mutable { Run(std::move(task)); });
}

bool BlockingPool::TryPost(std::function<void()> task) {
  size_t queued = queued_.load();
  do {
    if (max_queued_ != 0 && queued >= max_queued_) return false;
  } while (!queued_.compare_exchange_weak(queued, queued + 1));
  boost::asio::post(*pool_, [this, task = std::move(task)]() mutable { Run(std::move(task)); });
  return true;
}

void BlockingPool::Run(std::function<void()> task) {
  Status s = CatchAtBoundary("an admin handler", [&] {
    // Destroyed inside the guard: a Reply captured by the task answers 500 from here.
    auto run = std::move(task);
    run();
  });
  queued_.fetch_sub(1);
  if (!s.ok()) spdlog::error("{}; the request was answered with 500", s.message());
}

void BlockingPool::Join() { pool_->join(); }

}  // namespace outpost::server::api
