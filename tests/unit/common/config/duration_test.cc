#include "common/config/duration.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/testing/test_util.h"

namespace outpost::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::days;

Duration Parsed(std::string_view text) {
  Result<Duration> d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << " -> " << d.status().ToString();
  return d.ok() ? *d : Duration(-1);
}

TEST(ParseDurationTest, AcceptsEverySingleUnit) {
  EXPECT_EQ(Parsed("500ms"), 500ms);
  EXPECT_EQ(Parsed("30s"), 30s);
  EXPECT_EQ(Parsed("15m"), 15min);
  EXPECT_EQ(Parsed("1h"), 1h);
  EXPECT_EQ(Parsed("90d"), days(90));
}

TEST(ParseDurationTest, AcceptsCombinationsLargestUnitFirst) {
  EXPECT_EQ(Parsed("1h30m"), 90min);
  EXPECT_EQ(Parsed("1d12h"), 36h);
  EXPECT_EQ(Parsed("2m30s"), 150s);
  EXPECT_EQ(Parsed("1s500ms"), 1500ms);
  EXPECT_EQ(Parsed("1d2h3m4s5ms"), days(1) + 2h + 3min + 4s + 5ms);
}

TEST(ParseDurationTest, AcceptsZeroAndLeadingZeros) {
  EXPECT_EQ(Parsed("0s"), Duration::zero());
  EXPECT_EQ(Parsed("0ms"), Duration::zero());
  EXPECT_EQ(Parsed("007s"), 7s);
}

TEST(ParseDurationTest, AcceptsTheLargestValueThatFits) {
  // 2^63-1 ns is about 106751.99 days.
  EXPECT_EQ(Parsed("106751d"), days(106751));
}

void ExpectRejected(std::string_view text, std::string_view why) {
  Result<Duration> d = ParseDuration(text);
  ASSERT_FALSE(d.ok()) << text;
  EXPECT_EQ(d.status().code(), Errc::kInvalidArgument);
  const std::string& m = d.status().message();
  EXPECT_NE(m.find("\"" + std::string(text) + "\""), std::string::npos) << m;
  EXPECT_NE(m.find(why), std::string::npos) << m;
  EXPECT_NE(m.find("e.g. \"500ms\", \"30s\""), std::string::npos)
      << "names the accepted form: " << m;
}

TEST(ParseDurationTest, RejectsEmpty) { ExpectRejected("", "empty"); }
TEST(ParseDurationTest, RejectsNegative) { ExpectRejected("-5s", "negative"); }
TEST(ParseDurationTest, RejectsUnknownUnit) {
  ExpectRejected("5x", "unknown unit \"x\"");
  ExpectRejected("5sec", "unknown unit \"sec\"");
  ExpectRejected("5H", "unknown unit \"H\"");
  ExpectRejected("5us", "unknown unit \"us\"");
}
TEST(ParseDurationTest, RejectsNumberWithoutUnit) {
  ExpectRejected("30", "missing its unit");
  ExpectRejected("1h30", "missing its unit");
}
TEST(ParseDurationTest, RejectsUnitWithoutNumber) {
  ExpectRejected("h", "expected a number");
  ExpectRejected("+5s", "expected a number");
}
TEST(ParseDurationTest, RejectsFractions) { ExpectRejected("1.5h", "fractions"); }
TEST(ParseDurationTest, RejectsSpaces) {
  ExpectRejected(" 5s", "expected a number");
  ExpectRejected("1h 30m", "expected a number");
  ExpectRejected("5s ", "expected a number");
}
TEST(ParseDurationTest, RejectsUnitsOutOfOrderOrRepeated) {
  ExpectRejected("30m1h", "out of order");
  ExpectRejected("1h1h", "repeated");
  ExpectRejected("1s1m", "out of order");
}
TEST(ParseDurationTest, RejectsOverflow) {
  ExpectRejected("106752d", "too large");
  ExpectRejected("99999999999999999999999s", "too large");
  ExpectRejected("106751d23h59m59s999ms", "too large");
}

TEST(FormatDurationTest, WritesCanonicalLargestUnitFirstForm) {
  EXPECT_EQ(FormatDuration(days(90)), "90d");
  EXPECT_EQ(FormatDuration(90min), "1h30m");
  EXPECT_EQ(FormatDuration(36h), "1d12h");
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(1500ms), "1s500ms");
  EXPECT_EQ(FormatDuration(60s), "1m");
  EXPECT_EQ(FormatDuration(days(1) + 1s), "1d1s");
}

TEST(FormatDurationTest, WritesZeroAsZeroSeconds) {
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
  EXPECT_EQ(FormatDuration(std::chrono::microseconds(999)), "0s");
}

TEST(FormatDurationTest, TruncatesBelowMilliseconds) {
  EXPECT_EQ(FormatDuration(1s + std::chrono::microseconds(1500)), "1s1ms");
}

TEST(FormatDurationTest, MarksNegativeValues) {
  EXPECT_EQ(FormatDuration(-90s), "-1m30s");
  EXPECT_EQ(FormatDuration(Duration::min()), "-106751d23h47m16s854ms");
  EXPECT_FALSE(ParseDuration(FormatDuration(-90s)).ok());
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  for (Duration d : {Duration(500ms), Duration(1s), Duration(90min), Duration(days(365)),
                     Duration(days(1) + 2h + 3min + 4s + 5ms), Duration(Duration::zero())}) {
    EXPECT_EQ(Parsed(FormatDuration(d)), d) << FormatDuration(d);
  }
  const auto max_ms = std::chrono::floor<std::chrono::milliseconds>(Duration::max());
  EXPECT_EQ(Parsed(FormatDuration(max_ms)), max_ms);
}

}  // namespace
}  // namespace outpost::config
