#include "server/licensing/core/clock.h"

#include <gtest/gtest.h>

#include <string>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

class HighWaterClockTest : public ::testing::Test {
 protected:
  testing::FakeClock real_;
};

TEST_F(HighWaterClockTest, FollowsTheRealClockForward) {
  HighWaterClock clock(real_);
  EXPECT_EQ(clock.Now(), real_.Now());
  real_.Advance(1h);
  EXPECT_EQ(clock.Now(), real_.Now());
  EXPECT_EQ(clock.HighWater(), real_.Now());
  EXPECT_FALSE(clock.InRollback());
  EXPECT_FALSE(clock.TakeRollback().has_value());
}

TEST_F(HighWaterClockTest, GoingBackAnHourIsReportedOnceAndTimeDoesNotGoBack) {
  HighWaterClock clock(real_);
  const TimePoint high = clock.Now();
  real_.Advance(-1h);
  EXPECT_EQ(clock.Now(), high);
  EXPECT_TRUE(clock.InRollback());
  const std::optional<ClockRollback> rollback = clock.TakeRollback();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->high_water, high);
  EXPECT_EQ(rollback->real, high - 1h);
  EXPECT_EQ(rollback->behind, 1h);
  // The same episode is not reported again, however long it lasts.
  real_.Advance(30min);
  EXPECT_EQ(clock.Now(), high);
  EXPECT_FALSE(clock.TakeRollback().has_value());
  // The real clock catches up; time moves on from the high-water mark.
  real_.Advance(31min);
  EXPECT_EQ(clock.Now(), high + 1min);
  EXPECT_FALSE(clock.InRollback());
}

TEST_F(HighWaterClockTest, JitterWithinTheToleranceIsNotReported) {
  HighWaterClock clock(real_);
  const TimePoint high = clock.Now();
  real_.Advance(-5min);  // exactly the tolerance
  EXPECT_EQ(clock.Now(), high);
  EXPECT_FALSE(clock.InRollback());
  EXPECT_FALSE(clock.TakeRollback().has_value());
  real_.Advance(-1s);
  EXPECT_TRUE(clock.TakeRollback().has_value());
}

TEST_F(HighWaterClockTest, ToleranceIsConfigurable) {
  HighWaterClock clock(real_, TimePoint(), 30s);
  clock.Now();
  real_.Advance(-1min);
  EXPECT_TRUE(clock.TakeRollback().has_value());
}

TEST_F(HighWaterClockTest, EachEpisodeIsReportedOnce) {
  HighWaterClock clock(real_);
  const TimePoint high = clock.Now();
  real_.Set(high - 2h);
  EXPECT_TRUE(clock.TakeRollback().has_value());
  real_.Set(high);  // fixed
  EXPECT_FALSE(clock.TakeRollback().has_value());
  real_.Set(high - 3h);  // set back again: a new episode
  const std::optional<ClockRollback> again = clock.TakeRollback();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->behind, 3h);
}

TEST_F(HighWaterClockTest, RollbackWhileStoppedIsDetectedFromThePersistedMark) {
  const TimePoint persisted = real_.Now() + 2 * kDay;
  HighWaterClock clock(real_, persisted);
  EXPECT_EQ(clock.Now(), persisted);
  const std::optional<ClockRollback> rollback = clock.TakeRollback();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->behind, 2 * kDay);
}

TEST_F(HighWaterClockTest, SettingTheClockBackDoesNotExtendLicenses) {
  HighWaterClock clock(real_);
  PoolBook book;
  const std::string tag = "regid.example.fw";
  Entitlement e = MakeEntitlement("e1", "default", tag, 5, clock.Now());
  e.end = clock.Now() + 2h;
  ASSERT_OK(book.ReplaceEntitlements({e}));
  auto d = book.Authorize(MakeDevice("a"), {{tag, 1}}, clock.Now());
  ASSERT_OK(d);

  real_.Advance(2h);  // the entitlement ends now; the satellite reads the clock
  EXPECT_EQ(clock.Now(), e.end);
  real_.Advance(-1h);  // an operator sets the clock back an hour
  EXPECT_EQ(clock.Now(), e.end);
  EXPECT_TRUE(clock.TakeRollback().has_value());
  auto later = book.Authorize(MakeDevice("b"), {{tag, 1}}, clock.Now());
  ASSERT_OK(later);
  EXPECT_EQ(later->tags[0].status, TagStatus::kNotEntitled);
  EXPECT_EQ(RowOf(book, clock.Now(), "default", tag).status, ComplianceStatus::kExpired);

  // An authorization's expiry is not pushed back either.
  real_.Set(d->valid_until);
  EXPECT_EQ(clock.Now(), d->valid_until);
  real_.Advance(-1h);
  EXPECT_EQ(book.Sweep(clock.Now()).size(), 1u);
}

}  // namespace
}  // namespace outpost::server::licensing
