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

namespace outpost::net {
namespace {

TEST(MetricsTest, FamiliesRenderEveryLabelledSampleFromOneCollection) {
  Metrics m;
  int collections = 0;
  m.AddFamilies([&collections] {
    ++collections;
    return std::vector<Metrics::Family>{
        {"outpost_things", "Things.", "gauge", {{{{"va", "lab"}, {"tag", "a"}}, 3}, {{}, 1.5}}},
        {"outpost_other_total", "Other.", "counter", {}}};
  });
  const std::string text = m.Render();
  EXPECT_EQ(collections, 1);
  EXPECT_TRUE(Contains(text, "# HELP outpost_things Things.\n# TYPE outpost_things gauge\n"));
  EXPECT_TRUE(Contains(text, "outpost_things{va=\"lab\",tag=\"a\"} 3\n")) << text;
  EXPECT_TRUE(Contains(text, "outpost_things 1.5\n")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE outpost_other_total counter\n")) << text;
}

// The text format allows any UTF-8 in a label value once backslash, double quote and newline
// are escaped; anything else escaped would be read back as something else.
TEST(MetricsTest, LabelValuesAreEscapedForTheTextFormat) {
  EXPECT_EQ(Metrics::EscapeLabelValue("plain.tag-1:x"), "plain.tag-1:x");
  EXPECT_EQ(Metrics::EscapeLabelValue("a\"b"), "a\\\"b");
  EXPECT_EQ(Metrics::EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(Metrics::EscapeLabelValue("a\nb"), "a\\nb");
  EXPECT_EQ(Metrics::EscapeLabelValue("\\\"\n"), "\\\\\\\"\\n");
  Metrics m;
  m.AddFamilies([] {
    return std::vector<Metrics::Family>{
        {"outpost_x", "X.", "gauge", {{{{"tag", "q\"b\\n\nend"}}, 1}}}};
  });
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "outpost_x{tag=\"q\\\"b\\\\n\\nend\"} 1\n")) << text;
  // One sample, one line: the newline inside the value did not break it.
  EXPECT_FALSE(Contains(text, "\nend")) << text;
}

}  // namespace
}  // namespace outpost::net
