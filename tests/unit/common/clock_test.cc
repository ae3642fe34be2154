#include "common/clock.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_clock.h"

namespace outpost {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  testing::FakeClock clock(FromUnixSeconds(100));
  EXPECT_EQ(ToUnixSeconds(clock.Now()), 100);
  EXPECT_EQ(ToUnixSeconds(clock.Now()), 100);
  clock.Advance(std::chrono::hours(1));
  EXPECT_EQ(ToUnixSeconds(clock.Now()), 3700);
  clock.Set(FromUnixSeconds(50));  // a clock may go backwards; consumers must cope
  EXPECT_EQ(ToUnixSeconds(clock.Now()), 50);
}

TEST(SystemClockTest, IsAfterTheYear2020) {
  SystemClock clock;
  EXPECT_GT(ToUnixSeconds(clock.Now()), 1'577'836'800);
}

}  // namespace
}  // namespace outpost
