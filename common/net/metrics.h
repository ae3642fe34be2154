#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::net {

// Prometheus metrics for the HTTP server plus gauges other components register (writer queue
// depth, batch size, sync state...). Recording is lock-free (fixed arrays of atomics indexed
// by route and status), so the hot path pays a few relaxed atomic adds. Thread-safe.
class Metrics {
 public:
  Metrics();
  // `routes` are (method, pattern) pairs in Router order; an extra "unmatched" route is kept
  // last. Called once by HttpServer::Create, before any request is recorded.
  void SetRoutes(const std::vector<std::pair<std::string, std::string>>& routes);

  // route_index -1 means no route matched (404/405 and framing errors).
  void RecordRequest(int route_index, int status, std::chrono::nanoseconds latency);
  void ConnectionOpened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
  void ConnectionRejected() { rejected_connections_.fetch_add(1, std::memory_order_relaxed); }
  void HandshakeFailed() { failed_handshakes_.fetch_add(1, std::memory_order_relaxed); }
  int64_t open_connections() const { return open_connections_.load(); }

  // Registers a value read at scrape time. `type` is "gauge" or "counter". Call before serving.
  void AddCallback(std::string name, std::string help, std::string type,
                   std::function<double()> read);

  // A metric with labels: one sample per label set.
  struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;  // (name, value), values as they are
    double value = 0;
  };
  struct Family {
    std::string name, help, type;  // type: "gauge" or "counter"
    std::vector<Sample> samples;
  };
  // Registers metric families read together at scrape time (one call per scrape, e.g. every
  // per-VA license gauge from one snapshot of the pools). Label values are escaped on output.
  // Call before serving.
  void AddFamilies(std::function<std::vector<Family>()> collect);

  // A label value as the text format needs it: backslash, double quote and newline escaped.
  static std::string EscapeLabelValue(std::string_view value);

  // The Prometheus text exposition format (version 0.0.4).
  std::string Render() const;

  static constexpr std::array<double, 13> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  static constexpr std::array<int, 18> kStatuses = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                                                    408, 409, 413, 415, 429, 431, 500, 503, 504};

 private:
  struct RouteSeries {
    std::string method;
    std::string pattern;
    // One slot per kStatuses entry plus "other".
    std::array<std::atomic<uint64_t>, kStatuses.size() + 1> by_status{};
    // Cumulative-at-render buckets: here each slot counts its own interval; +Inf is last.
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency{};
    std::atomic<uint64_t> latency_sum_ns{0};
  };
  struct Callback {
    std::string name, help, type;
    std::function<double()> read;
  };

  std::vector<std::unique_ptr<RouteSeries>> routes_;  // last one is "unmatched"
  std::atomic<int64_t> open_connections_{0};
  std::atomic<uint64_t> rejected_connections_{0};
  std::atomic<uint64_t> failed_handshakes_{0};
  std::vector<Callback> callbacks_;
  std::vector<std::function<std::vector<Family>()>> collectors_;
};

}  // namespace outpost::net
