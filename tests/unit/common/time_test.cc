#include "common/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

int64_t Millis(TimePoint t) {
  return std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
}

// The message of a refusal, or "" (failing the test) when `text` was accepted.
std::string Refusal(const std::string& text) {
  auto t = ParseRfc3339(text);
  EXPECT_FALSE(t.ok()) << "accepted " << text;
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), Errc::kInvalidArgument) << text;
  return t.status().message();
}

TEST(TimeTest, UnixSecondsRoundTrip) {
  EXPECT_EQ(ToUnixSeconds(FromUnixSeconds(1'780'000'123)), 1'780'000'123);
  EXPECT_EQ(ToUnixSeconds(FromUnixSeconds(-5)), -5);
}

TEST(TimeTest, FormatsWholeSecondsInUtcRoundingDown) {
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(1'780'000'000)), "2026-05-28T20:26:40Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(1'780'000'000) + milliseconds(999)),
            "2026-05-28T20:26:40Z");
  EXPECT_EQ(FormatRfc3339(TimePoint(milliseconds(-1))), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Seconds(1'709'211'661), "2024-02-29T13:01:01Z");
  EXPECT_EQ(FormatRfc3339Seconds(253'402'300'799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Seconds(-62'167'219'200), "0000-01-01T00:00:00Z");
}

TEST(TimeTest, FormatsMillisecondsWithThreeDigits) {
  EXPECT_EQ(FormatRfc3339Millis(1'780'000'000'123), "2026-05-28T20:26:40.123Z");
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(1'709'211'661'007), "2024-02-29T13:01:01.007Z");
  EXPECT_EQ(FormatRfc3339Millis(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
}

// Only a tampered row or bundle holds such values: they format without overflow, showing the
// year they stand for.
TEST(TimeTest, YearsBeyondFourDigitsAreWrittenOut) {
  EXPECT_EQ(FormatRfc3339Seconds(253'402'300'800), "10000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Seconds(-62'167'219'201), "-0001-12-31T23:59:59Z");
  for (int64_t extreme :
       {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    EXPECT_TRUE(FormatRfc3339Seconds(extreme).ends_with("Z")) << extreme;
    EXPECT_TRUE(FormatRfc3339Millis(extreme).ends_with("Z")) << extreme;
  }
  EXPECT_EQ(FormatRfc3339Seconds(std::numeric_limits<int64_t>::max()),
            "292277026596-12-04T15:30:07Z");
}

TEST(TimeTest, ParsesUtcTimesAndDates) {
  auto t = ParseRfc3339("2026-11-28T15:12:22Z");
  ASSERT_OK(t);
  EXPECT_EQ(ToUnixSeconds(*t), 1'795'878'742);
  auto d = ParseRfc3339("2026-11-28");
  ASSERT_OK(d);
  EXPECT_EQ(ToUnixSeconds(*d), 1'795'824'000);
  // RFC 3339, section 5.6: 'T' and 'Z' may be lower case.
  auto lower = ParseRfc3339("2026-11-28t15:12:22z");
  ASSERT_OK(lower);
  EXPECT_EQ(*lower, *t);
  auto before_1970 = ParseRfc3339("1969-12-31T23:59:59Z");
  ASSERT_OK(before_1970);
  EXPECT_EQ(ToUnixSeconds(*before_1970), -1);
}

TEST(TimeTest, ParsesFractionalSeconds) {
  auto half = ParseRfc3339("2026-11-28T15:12:22.5Z");
  ASSERT_OK(half);
  EXPECT_EQ(Millis(*half), 1'795'878'742'500);
  auto nanos = ParseRfc3339("2026-11-28T15:12:22.123456789Z");
  ASSERT_OK(nanos);
  EXPECT_EQ(*nanos - FromUnixSeconds(1'795'878'742),
            std::chrono::duration_cast<Duration>(nanoseconds(123'456'789)));
  // Digits beyond nanoseconds are dropped, not rounded.
  auto finer = ParseRfc3339("2026-11-28T15:12:22.1234567899Z");
  ASSERT_OK(finer);
  EXPECT_EQ(*finer, *nanos);
  // Whole seconds drop the fraction.
  EXPECT_EQ(ParseRfc3339Seconds("2026-11-28T15:12:22.999Z").value(), 1'795'878'742);
}

TEST(TimeTest, FormattedTimesParseBack) {
  for (int64_t s = -62'167'219'200; s <= 253'402'300'799; s += 7'777'777 * 13 + 1) {
    auto back = ParseRfc3339Seconds(FormatRfc3339Seconds(s));
    ASSERT_OK(back);
    ASSERT_EQ(*back, s) << FormatRfc3339Seconds(s);
  }
  EXPECT_EQ(ParseRfc3339Seconds("9999-12-31T23:59:59Z").value(), 253'402'300'799);
  EXPECT_EQ(ParseRfc3339Seconds("0000-01-01").value(), -62'167'219'200);
  for (int64_t ms :
       {int64_t{0}, int64_t{-1}, int64_t{1'780'000'000'123}, int64_t{951'782'400'001}}) {
    auto back = ParseRfc3339(FormatRfc3339Millis(ms));
    ASSERT_OK(back);
    EXPECT_EQ(Millis(*back), ms) << FormatRfc3339Millis(ms);
  }
  const TimePoint now = std::chrono::floor<std::chrono::seconds>(FromUnixSeconds(1'780'000'000));
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(now)).value(), now);
}

TEST(TimeTest, LeapSecondIsTheNextDaysFirstSecond) {
  EXPECT_EQ(ParseRfc3339Seconds("2016-12-31T23:59:60Z").value(),
            ParseRfc3339Seconds("2017-01-01").value());
  EXPECT_NE(Refusal("2016-12-31T12:00:60Z").find("second 60"), std::string::npos);
}

TEST(TimeTest, MalformedTextIsRefusedQuotingIt) {
  for (const char* bad :
       {"", "yesterday", "2026-1-28", "2026/11/28", " 2026-11-28", "2026-11-28 ", "+2026-11-28",
        "20261128", "2026-11-28T15:12Z", "2026-11-28T15:12:22.Z", "2026-11-28T15:12:22ZZ",
        "2026-11-28 15:12:22Z", "2026-11-28T1a:12:22Z", "2026-11-28T15:12:22UTC", "2026-11-28T"}) {
    const std::string message = Refusal(bad);
    EXPECT_NE(message.find("is not a time"), std::string::npos) << bad << ": " << message;
    EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
  }
  // Control characters are escaped in the message.
  EXPECT_NE(Refusal("2026\n").find("'2026\\x0a'"), std::string::npos);
}

TEST(TimeTest, OnlyUtcIsAccepted) {
  for (const char* offset :
       {"2026-11-28T15:12:22+01:00", "2026-11-28T15:12:22-05:00", "2026-11-28T15:12:22.5+00:00"}) {
    EXPECT_NE(Refusal(offset).find("has a UTC offset; write the time in UTC with a Z"),
              std::string::npos)
        << offset;
  }
  EXPECT_NE(Refusal("2026-11-28T15:12:22").find("has no time zone"), std::string::npos);
}

TEST(TimeTest, FieldsOutOfRangeAreRefusedNamingThem) {
  EXPECT_NE(Refusal("2026-13-01").find("month 13"), std::string::npos);
  EXPECT_NE(Refusal("2026-00-10").find("month 0"), std::string::npos);
  EXPECT_NE(Refusal("2026-11-28T24:00:00Z").find("hour 24"), std::string::npos);
  EXPECT_NE(Refusal("2026-11-28T23:60:00Z").find("minute 60"), std::string::npos);
  EXPECT_NE(Refusal("2026-11-28T23:00:61Z").find("second 61"), std::string::npos);
  for (const char* no_such_day : {"2026-11-31", "2027-02-29", "1900-02-29", "2026-04-00"}) {
    EXPECT_NE(Refusal(no_such_day).find("is not a day of the calendar"), std::string::npos)
        << no_such_day;
  }
  EXPECT_OK(ParseRfc3339("2028-02-29"));
  EXPECT_OK(ParseRfc3339("2000-02-29"));
  EXPECT_NE(Refusal("2027-02-29").find("2027-02 has days 01 to 28"), std::string::npos);
}

// A TimePoint counts nanoseconds in an int64 on this platform: years beyond its reach are
// refused, not wrapped around; as seconds they are fine.
TEST(TimeTest, TimesATimePointCannotHoldAreRefused) {
  const int64_t max_s =
      std::chrono::floor<std::chrono::seconds>(TimePoint::max().time_since_epoch()).count();
  const std::string past_the_end = FormatRfc3339Seconds(max_s + 1);
  EXPECT_NE(Refusal(past_the_end).find("is outside the times this program holds"),
            std::string::npos);
  EXPECT_NE(Refusal("0001-01-01").find("is outside the times"), std::string::npos);
  EXPECT_EQ(ParseRfc3339Seconds(past_the_end).value(), max_s + 1);
  EXPECT_OK(ParseRfc3339(FormatRfc3339Seconds(max_s - 1)));
}

}  // namespace
}  // namespace outpost
