#include "common/net/metrics.h"

#include <algorithm>
#include <cstdio>

namespace outpost::net {
namespace {

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

Metrics::Metrics() { SetRoutes({}); }

void Metrics::SetRoutes(const std::vector<std::pair<std::string, std::string>>& routes) {
  routes_.clear();
  for (const auto& [method, pattern] : routes) {
    auto series = std::make_unique<RouteSeries>();
    series->method = method;
    series->pattern = pattern;
    routes_.push_back(std::move(series));
  }
  auto unmatched = std::make_unique<RouteSeries>();
  unmatched->pattern = "unmatched";
  routes_.push_back(std::move(unmatched));
}

void Metrics::RecordRequest(int route_index, int status, std::chrono::nanoseconds latency) {
  RouteSeries& series = route_index >= 0 && static_cast<size_t>(route_index) + 1 < routes_.size()
                            ? *routes_[route_index]
                            : *routes_.back();
  const auto* it = std::find(kStatuses.begin(), kStatuses.end(), status);
  series.by_status[it - kStatuses.begin()].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(latency).count();
  const auto* b = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
  series.latency[b - kLatencyBuckets.begin()].fetch_add(1, std::memory_order_relaxed);
  series.latency_sum_ns.fetch_add(static_cast<uint64_t>(latency.count()),
                                  std::memory_order_relaxed);
}

void Metrics::AddCallback(std::string name, std::string help, std::string type,
                          std::function<double()> read) {
  callbacks_.push_back({std::move(name), std::move(help), std::move(type), std::move(read)});
}

void Metrics::AddFamilies(std::function<std::vector<Family>()> collect) {
  collectors_.push_back(std::move(collect));
}

std::string Metrics::EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Metrics::Render() const {
  std::string out;
  out.reserve(8192);
  auto labels = [](const RouteSeries& s) {
    return "method=\"" + s.method + "\",route=\"" + s.pattern + "\"";
  };

  out += "# HELP outpost_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE outpost_http_requests_total counter\n";
  for (const auto& s : routes_) {
    for (size_t i = 0; i <= kStatuses.size(); ++i) {
      const uint64_t n = s->by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = i < kStatuses.size() ? std::to_string(kStatuses[i]) : "other";
      out += "outpost_http_requests_total{" + labels(*s) + ",status=\"" + code + "\"} " +
             std::to_string(n) + "\n";
    }
  }

  out += "# HELP outpost_http_request_duration_seconds Time from parsed request to reply.\n";
  out += "# TYPE outpost_http_request_duration_seconds histogram\n";
  for (const auto& s : routes_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kLatencyBuckets.size(); ++i) {
      cumulative += s->latency[i].load(std::memory_order_relaxed);
      const std::string le = i < kLatencyBuckets.size() ? FormatDouble(kLatencyBuckets[i]) : "+Inf";
      out += "outpost_http_request_duration_seconds_bucket{" + labels(*s) + ",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "outpost_http_request_duration_seconds_sum{" + labels(*s) + "} " +
           FormatDouble(static_cast<double>(s->latency_sum_ns.load()) / 1e9) + "\n";
    out += "outpost_http_request_duration_seconds_count{" + labels(*s) + "} " +
           std::to_string(cumulative) + "\n";
  }

  out += "# HELP outpost_http_open_connections Connections currently open.\n";
  out += "# TYPE outpost_http_open_connections gauge\n";
  out += "outpost_http_open_connections " + std::to_string(open_connections_.load()) + "\n";
  out += "# HELP outpost_http_rejected_connections_total Connections refused at the limit.\n";
  out += "# TYPE outpost_http_rejected_connections_total counter\n";
  out += "outpost_http_rejected_connections_total " + std::to_string(rejected_connections_.load()) +
         "\n";
  out += "# HELP outpost_tls_handshake_failures_total TLS handshakes that failed.\n";
  out += "# TYPE outpost_tls_handshake_failures_total counter\n";
  out += "outpost_tls_handshake_failures_total " + std::to_string(failed_handshakes_.load()) + "\n";

  for (const auto& c : callbacks_) {
    out += "# HELP " + c.name + " " + c.help + "\n";
    out += "# TYPE " + c.name + " " + c.type + "\n";
    out += c.name + " " + FormatDouble(c.read()) + "\n";
  }
  for (const auto& collect : collectors_) {
    for (const Family& f : collect()) {
      out += "# HELP " + f.name + " " + f.help + "\n";
      out += "# TYPE " + f.name + " " + f.type + "\n";
      for (const Sample& sample : f.samples) {
        out += f.name;
        if (!sample.labels.empty()) {
          out += "{";
          for (size_t i = 0; i < sample.labels.size(); ++i) {
            if (i > 0) out += ",";
            out +=
                sample.labels[i].first + "=\"" + EscapeLabelValue(sample.labels[i].second) + "\"";
          }
          out += "}";
        }
        out += " " + FormatDouble(sample.value) + "\n";
      }
    }
  }
  return out;
}

}  // namespace outpost::net
