#include "common/net/metrics.h"

#include <gtest/gtest.h>

namespace outpost::net {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(MetricsTest, CountsRequestsByRouteAndStatus) {
  Metrics m;
  m.SetRoutes({{"GET", "/healthz"}, {"POST", "/v1/devices/authorize"}});
  m.RecordRequest(0, 200, microseconds(100));
  m.RecordRequest(0, 200, microseconds(100));
  m.RecordRequest(1, 413, milliseconds(3));
  m.RecordRequest(-1, 404, microseconds(50));
  m.RecordRequest(1, 599, microseconds(50));
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(
      text, "outpost_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n"))
      << text;
  EXPECT_TRUE(Contains(text,
                       "outpost_http_requests_total{method=\"POST\",route=\"/v1/devices/"
                       "authorize\",status=\"413\"} 1\n"));
  EXPECT_TRUE(Contains(
      text, "outpost_http_requests_total{method=\"\",route=\"unmatched\",status=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(text, "status=\"other\"} 1\n"));
}

TEST(MetricsTest, LatencyHistogramIsCumulative) {
  Metrics m;
  m.SetRoutes({{"GET", "/x"}});
  m.RecordRequest(0, 200, microseconds(300));         // <= 0.0005
  m.RecordRequest(0, 200, milliseconds(3));           // <= 0.005
  m.RecordRequest(0, 200, std::chrono::seconds(10));  // +Inf
  const std::string text = m.Render();
  const std::string prefix =
      "outpost_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=";
  EXPECT_TRUE(Contains(text, prefix + "\"0.0005\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, prefix + "\"0.0025\"} 1\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"0.005\"} 2\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"5\"} 2\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(
      text, "outpost_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 3\n"));
}

TEST(MetricsTest, ConnectionGaugesAndCallbacks) {
  Metrics m;
  m.ConnectionOpened();
  m.ConnectionOpened();
  m.ConnectionClosed();
  m.ConnectionRejected();
  int depth = 7;
  m.AddCallback("outpost_db_writer_queue_depth", "Queued units.", "gauge",
                [&depth] { return static_cast<double>(depth); });
  std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "outpost_http_open_connections 1\n"));
  EXPECT_TRUE(Contains(text, "outpost_http_rejected_connections_total 1\n"));
  EXPECT_TRUE(Contains(text, "# TYPE outpost_db_writer_queue_depth gauge\n"));
  EXPECT_TRUE(Contains(text, "outpost_db_writer_queue_depth 7\n"));
  depth = 3;
  EXPECT_TRUE(Contains(m.Render(), "outpost_db_writer_queue_depth 3\n"));
}

}  // namespace
}  // namespace outpost::net
