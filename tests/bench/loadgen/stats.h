#pragma once

// What one load-generator run measured: completed requests inside the measured window, their
// latencies, and failures by kind. One Stats per I/O thread (no locking on the hot path); the
// threads' Stats are merged once at the end.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace outpost::bench {

class Stats {
 public:
  // A request that completed with the expected answer; `latency_us` counts from the moment it
  // was due (fixed-rate mode) or sent (fixed-concurrency mode).
  void RecordOk(uint32_t latency_us) {
    ++ok_;
    latencies_us_.push_back(latency_us);
  }
  // A failure of `kind` ("connect", "handshake", "timeout", "http_503", "not_authorized", ...).
  void RecordError(const std::string& kind) { ++errors_[kind]; }
  void Merge(Stats&& other);

  uint64_t ok() const { return ok_; }
  uint64_t error_count() const;
  const std::map<std::string, uint64_t>& errors() const { return errors_; }
  // Latency at quantile `q` (0..1) in microseconds; 0 with no samples. Sorts on first use.
  double PercentileUs(double q);
  double MeanUs() const;

 private:
  uint64_t ok_ = 0;
  std::map<std::string, uint64_t> errors_;
  std::vector<uint32_t> latencies_us_;
  bool sorted_ = false;
};

// The summary printed (text) and written (JSON) at the end of a run.
struct Report {
  std::string label;
  std::string mode;
  std::string target;  // "https://127.0.0.1:PORT"
  int connections = 0;
  int threads = 0;
  double rate_requested = 0;  // 0: fixed concurrency (closed loop)
  double window_s = 0;        // measured window (after warm-up)
};

// One line for people, e.g. "authorize  12345 req/s  p50 1.2 ms ...".
std::string FormatText(const Report& report, Stats& stats);
// A JSON object with every figure (latencies in milliseconds).
std::string FormatJson(const Report& report, Stats& stats);

}  // namespace outpost::bench
