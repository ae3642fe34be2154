#include "server/licensing/core/usage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kTag = "regid.example.fw";

class UsageTest : public ::testing::Test {
 protected:
  // `h` o'clock (UTC) on the test's first day; the clock starts at 10:00.
  TimePoint Hour(int h) const { return day_ + h * 1h; }

  const TimePoint day_ = std::chrono::floor<std::chrono::days>(FromUnixSeconds(1'780'000'000));
  testing::FakeClock clock_{Hour(10)};
  UsageTracker usage_;
};

TEST_F(UsageTest, EachClosedHourReportsItsHighestInUse) {
  usage_.Observe("default", kTag, 3, Hour(10) + 5min);
  usage_.Observe("default", kTag, 7, Hour(10) + 20min);
  usage_.Observe("default", kTag, 2, Hour(10) + 40min);
  EXPECT_TRUE(usage_.CloseHours(Hour(10) + 59min).empty());  // the hour is still open
  const std::vector<UsageSample> samples = usage_.CloseHours(Hour(11));
  EXPECT_EQ(samples, (std::vector<UsageSample>{{"default", kTag, Hour(10), 7}}));
  EXPECT_TRUE(usage_.CloseHours(Hour(11)).empty());  // returned once
}

TEST_F(UsageTest, LevelCarriesOverHoursWithoutChanges) {
  usage_.Observe("default", kTag, 4, Hour(10) + 30min);
  usage_.Observe("default", kTag, 1, Hour(10) + 50min);
  usage_.Observe("lab", kTag, 2, Hour(11) + 10min);
  const std::vector<UsageSample> samples = usage_.CloseHours(Hour(13) + 1min);
  EXPECT_EQ(samples, (std::vector<UsageSample>{{"default", kTag, Hour(10), 4},
                                               {"default", kTag, Hour(11), 1},
                                               {"lab", kTag, Hour(11), 2},
                                               {"default", kTag, Hour(12), 1},
                                               {"lab", kTag, Hour(12), 2}}));
}

TEST_F(UsageTest, HoursWithoutUseAreOmitted) {
  usage_.Observe("default", kTag, 2, Hour(10));
  usage_.Observe("default", kTag, 0, Hour(10) + 10min);
  usage_.Observe("lab", kTag, 0, Hour(10) + 10min);  // never used: nothing to say
  EXPECT_EQ(usage_.CloseHours(Hour(15)),
            (std::vector<UsageSample>{{"default", kTag, Hour(10), 2}}));
  usage_.Observe("default", kTag, 1, Hour(16) + 1min);
  EXPECT_EQ(usage_.CloseHours(Hour(17)),
            (std::vector<UsageSample>{{"default", kTag, Hour(16), 1}}));
}

TEST_F(UsageTest, BookFeedsTheTrackerOnEveryChange) {
  PoolBook book(&usage_);
  ASSERT_OK(book.ReplaceEntitlements({MakeEntitlement("e1", "default", kTag, 10, clock_.Now())}));
  ASSERT_OK(book.Authorize(MakeDevice("a"), {{kTag, 3}}, clock_.Now()));
  clock_.Advance(10min);
  ASSERT_OK(book.Authorize(MakeDevice("b"), {{kTag, 4}}, clock_.Now()));
  clock_.Advance(10min);
  ASSERT_OK(book.Release("b", clock_.Now()));
  clock_.Advance(1h);  // 11:20
  ASSERT_OK(book.Authorize(MakeDevice("a"), {{kTag, 5}}, clock_.Now()));
  AuthorizationPolicy policy;
  clock_.Set(Hour(10) + policy.validity);  // a's first grant was renewed; nothing expires yet
  EXPECT_TRUE(book.Sweep(clock_.Now()).empty());
  clock_.Set(Hour(11) + 20min + policy.validity);
  EXPECT_EQ(book.Sweep(clock_.Now()).size(), 1u);
  const std::vector<UsageSample> samples = usage_.CloseHours(clock_.Now() + 1h);
  ASSERT_GE(samples.size(), 3u);
  EXPECT_EQ(samples[0], (UsageSample{"default", kTag, Hour(10), 7}));
  EXPECT_EQ(samples[1], (UsageSample{"default", kTag, Hour(11), 5}));
  // The last hour holds the sweep: 5 until it released everything.
  EXPECT_EQ(samples.back().max_in_use, 5);
  EXPECT_EQ(samples.back().hour, std::chrono::floor<std::chrono::hours>(clock_.Now()));
}

TEST_F(UsageTest, RestoreSeedsTheLevels) {
  PoolBook book;
  ASSERT_OK(book.ReplaceEntitlements({MakeEntitlement("e1", "default", kTag, 10, clock_.Now())}));
  ASSERT_OK(book.Authorize(MakeDevice("a"), {{kTag, 3}}, clock_.Now()));
  PoolBook rebuilt(&usage_);
  ASSERT_OK(rebuilt.Restore(book.Snapshot(), clock_.Now()));
  EXPECT_EQ(usage_.CloseHours(Hour(11)),
            (std::vector<UsageSample>{{"default", kTag, Hour(10), 3}}));
}

}  // namespace
}  // namespace outpost::server::licensing
