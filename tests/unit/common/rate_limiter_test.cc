#include "common/rate_limiter.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_clock.h"

namespace outpost {
namespace {

TEST(RateLimiterTest, BurstUpToTheRateThenWaitForRefill) {
  testing::FakeClock clock{FromUnixSeconds(1'800'000'000)};
  RateLimiter limiter(clock, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("10.0.0.1"), std::nullopt) << i;
  const std::optional<int> wait = limiter.Take("10.0.0.1");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, 20);  // one token every 20 s at 3 per minute
  // Other addresses have their own bucket.
  EXPECT_EQ(limiter.Take("10.0.0.2"), std::nullopt);
  clock.Advance(std::chrono::seconds(20));
  EXPECT_EQ(limiter.Take("10.0.0.1"), std::nullopt);
  EXPECT_TRUE(limiter.Take("10.0.0.1").has_value());
}

TEST(RateLimiterTest, CheckTakesNothing) {
  testing::FakeClock clock{FromUnixSeconds(1'800'000'000)};
  RateLimiter limiter(clock, 1);
  EXPECT_EQ(limiter.Check("a"), std::nullopt);
  EXPECT_EQ(limiter.Check("a"), std::nullopt);
  EXPECT_EQ(limiter.Take("a"), std::nullopt);
  EXPECT_EQ(limiter.Check("a"), 60);
}

TEST(RateLimiterTest, ForgetsOnlyRefilledBucketsWhenFull) {
  testing::FakeClock clock{FromUnixSeconds(1'800'000'000)};
  RateLimiter limiter(clock, 1, /*max_keys=*/2);
  EXPECT_EQ(limiter.Take("a"), std::nullopt);
  EXPECT_EQ(limiter.Take("b"), std::nullopt);
  // "a" and "b" are empty: a third key must not make either forget that.
  EXPECT_EQ(limiter.Take("c"), std::nullopt);
  EXPECT_TRUE(limiter.Take("a").has_value());
  EXPECT_TRUE(limiter.Take("b").has_value());
}

}  // namespace
}  // namespace outpost
