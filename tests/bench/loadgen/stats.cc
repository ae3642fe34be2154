#include "tests/bench/loadgen/stats.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace outpost::bench {

void Stats::Merge(Stats&& other) {
  ok_ += other.ok_;
  for (const auto& [kind, n] : other.errors_) errors_[kind] += n;
  latencies_us_.insert(latencies_us_.end(), other.latencies_us_.begin(), other.latencies_us_.end());
  sorted_ = false;
}

uint64_t Stats::error_count() const {
  uint64_t n = 0;
  for (const auto& [kind, count] : errors_) n += count;
  return n;
}

double Stats::PercentileUs(double q) {
  if (latencies_us_.empty()) return 0;
  if (!sorted_) {
    std::sort(latencies_us_.begin(), latencies_us_.end());
    sorted_ = true;
  }
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  const size_t n = latencies_us_.size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  return latencies_us_[rank - 1];
}

double Stats::MeanUs() const {
  if (latencies_us_.empty()) return 0;
  const double sum = std::accumulate(latencies_us_.begin(), latencies_us_.end(), 0.0);
  return sum / static_cast<double>(latencies_us_.size());
}

namespace {

double Rate(const Report& r, const Stats& s) {
  return r.window_s > 0 ? static_cast<double>(s.ok()) / r.window_s : 0;
}

}  // namespace

std::string FormatText(const Report& report, Stats& stats) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%-10s %-22s %9.0f req/s  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms"
                "  ok %llu  errors %llu",
                report.mode.c_str(), report.label.c_str(), Rate(report, stats),
                stats.PercentileUs(0.50) / 1000, stats.PercentileUs(0.90) / 1000,
                stats.PercentileUs(0.99) / 1000, stats.PercentileUs(0.999) / 1000,
                static_cast<unsigned long long>(stats.ok()),
                static_cast<unsigned long long>(stats.error_count()));
  std::string out = line;
  for (const auto& [kind, n] : stats.errors()) {
    out += "\n    error " + kind + ": " + std::to_string(n);
  }
  return out;
}

std::string FormatJson(const Report& report, Stats& stats) {
  namespace json = boost::json;
  json::object errors;
  for (const auto& [kind, n] : stats.errors()) errors[kind] = n;
  json::object out{
      {"label", report.label},
      {"mode", report.mode},
      {"target", report.target},
      {"connections", report.connections},
      {"threads", report.threads},
      {"rate_requested", report.rate_requested},
      {"window_s", report.window_s},
      {"ok", stats.ok()},
      {"errors_total", stats.error_count()},
      {"errors", errors},
      {"requests_per_s", Rate(report, stats)},
      {"latency_ms", json::object{{"mean", stats.MeanUs() / 1000},
                                  {"p50", stats.PercentileUs(0.50) / 1000},
                                  {"p90", stats.PercentileUs(0.90) / 1000},
                                  {"p99", stats.PercentileUs(0.99) / 1000},
                                  {"p999", stats.PercentileUs(0.999) / 1000},
                                  {"max", stats.PercentileUs(1.0) / 1000}}},
  };
  return json::serialize(out);
}

}  // namespace outpost::bench
