// The online schedule of SatelliteSync: the thread that syncs every `sync.interval` (with
// jitter, and exponential backoff after failures), started, reconfigured on reload and stopped
// here; one attempt is SyncNow (satellite_sync.cc).

#include <algorithm>
#include <random>

#include "common/thread_boundary.h"
#include "server/sync/satellite_sync.h"

namespace outpost::server::sync {
namespace {

constexpr Duration kMinBackoff = std::chrono::seconds(30);

}  // namespace

config::SyncConfig SatelliteSync::config() const {
  std::lock_guard lock(online_mu_);
  return config_;
}

void SatelliteSync::StartOnline() {
  std::lock_guard thread_lock(thread_mu_);
  {
    std::lock_guard lock(online_mu_);
    if (stopping_) return;
    started_ = true;
    if (config_.mode != config::SyncMode::kOnline) return;
  }
  online_thread_ = std::thread([this] { RunOnline(); });
}

void SatelliteSync::Reconfigure(config::SyncConfig config) {
  std::lock_guard thread_lock(thread_mu_);
  bool online = false;
  bool started = false;
  {
    std::lock_guard lock(online_mu_);
    config_ = std::move(config);
    ++config_generation_;
    online = config_.mode == config::SyncMode::kOnline;
    started = started_ && !stopping_;
  }
  online_cv_.notify_all();
  if (!online && online_thread_.joinable()) {
    // Offline now: the thread ends at its next wake-up, which the notification above brings.
    online_thread_.join();
    std::lock_guard lock(online_mu_);
    next_attempt_at_ = TimePoint();
  } else if (online && started && !online_thread_.joinable()) {
    online_thread_ = std::thread([this] { RunOnline(); });
  }
}

void SatelliteSync::RunOnline() {
  std::mt19937_64 rng(std::random_device{}());
  auto jitter = [&](Duration max_jitter) -> Duration {
    const auto max = std::chrono::duration_cast<std::chrono::milliseconds>(max_jitter).count();
    if (max <= 0) return Duration::zero();
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, max)(rng));
  };
  Duration wait = std::chrono::seconds(2);  // first attempt soon after start
  bool interval_wait = false;               // waiting a whole interval (not the first, no backoff)
  while (true) {
    {
      std::unique_lock lock(online_mu_);
      const auto began = std::chrono::steady_clock::now();
      const TimePoint began_at = licensing_.Now();
      auto deadline = began + wait;
      next_attempt_at_ = began_at + std::chrono::duration_cast<std::chrono::seconds>(wait);
      uint64_t generation = config_generation_;
      while (true) {
        const bool woken = online_cv_.wait_until(lock, deadline, [&] {
          return stopping_ || config_.mode != config::SyncMode::kOnline ||
                 config_generation_ != generation;
        });
        if (!woken) break;
        if (stopping_ || config_.mode != config::SyncMode::kOnline) return;
        // Reloaded: a new interval counts from when this wait began.
        generation = config_generation_;
        if (interval_wait) {
          const Duration new_wait = config_.interval + jitter(config_.jitter);
          deadline = began + new_wait;
          next_attempt_at_ = began_at + std::chrono::duration_cast<std::chrono::seconds>(new_wait);
        }
      }
    }
    // A thread boundary: an exception counts as a failed attempt, and the schedule goes on.
    Status outcome =
        CatchAtBoundary("online sync", [&] { return SyncNow(audit::Actor::System()).status(); });
    int64_t failures = 0;
    {
      std::lock_guard lock(online_mu_);
      failures = consecutive_failures_;
    }
    const config::SyncConfig cfg = config();
    interval_wait = outcome.ok() || failures == 0;
    if (interval_wait) {
      wait = cfg.interval + jitter(cfg.jitter);
    } else {
      Duration backoff = kMinBackoff;
      for (int64_t i = 1; i < failures && backoff < cfg.max_backoff; ++i) backoff *= 2;
      wait = std::min<Duration>(backoff, cfg.max_backoff) + jitter(cfg.jitter) / 10;
    }
  }
}

void SatelliteSync::Stop() {
  std::lock_guard thread_lock(thread_mu_);
  {
    std::lock_guard lock(online_mu_);
    stopping_ = true;
  }
  online_cv_.notify_all();
  if (online_thread_.joinable()) online_thread_.join();
}

// --- Status, alarms, conversions --------------------------------------------------------------

}  // namespace outpost::server::sync
