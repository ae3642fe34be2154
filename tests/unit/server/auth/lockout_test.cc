#include "server/auth/lockout.h"

#include <gtest/gtest.h>

#include <string>

namespace outpost::server::auth {
namespace {

using namespace std::chrono_literals;

TEST(LockDurationTest, NoneBelowTheThresholdThenDoublingUpToTheMaximum) {
  const LockoutRule rule{5, 60s, 3600s};
  EXPECT_EQ(LockDuration(rule, 4), 0s);
  EXPECT_EQ(LockDuration(rule, 5), 60s);
  EXPECT_EQ(LockDuration(rule, 6), 120s);
  EXPECT_EQ(LockDuration(rule, 11), 3600s);
  EXPECT_EQ(LockDuration(rule, 1'000'000), 3600s);
}

TEST(FailureCounterTest, LocksAtTheThresholdAndResetForgets) {
  FailureCounter counter({3, 60s, 3600s}, 100);
  EXPECT_EQ(counter.Fail("a", 1000).lock_s, 0);
  EXPECT_EQ(counter.Fail("a", 1000).lock_s, 0);
  const FailureCounter::Counted third = counter.Fail("a", 1000);
  EXPECT_EQ(third.failed, 3);
  EXPECT_EQ(third.lock_s, 60);
  EXPECT_EQ(counter.LockedFor("a", 1000), 60);
  EXPECT_EQ(counter.LockedFor("a", 1059), 1);
  EXPECT_EQ(counter.LockedFor("a", 1060), 0);
  EXPECT_EQ(counter.LockedFor("b", 1000), 0);
  counter.Reset("a");
  EXPECT_EQ(counter.Fail("a", 1100).failed, 1);
}

TEST(FailureCounterTest, ResetPrefixForgetsEveryAddressOfAName) {
  FailureCounter counter({1, 60s, 3600s}, 100);
  (void)counter.Fail("root\n10.0.0.1", 0);
  (void)counter.Fail("root\n10.0.0.2", 0);
  (void)counter.Fail("rooted\n10.0.0.1", 0);
  counter.ResetPrefix("root\n");
  EXPECT_EQ(counter.LockedFor("root\n10.0.0.1", 1), 0);
  EXPECT_EQ(counter.LockedFor("root\n10.0.0.2", 1), 0);
  EXPECT_EQ(counter.LockedFor("rooted\n10.0.0.1", 1), 59);
}

// Per-address state must stay bounded whatever an attacker sends.
TEST(FailureCounterTest, HoldsAtMostMaxKeysAndKeepsRunningLocks) {
  FailureCounter counter({2, 60s, 3600s}, 4);
  (void)counter.Fail("locked", 0);
  (void)counter.Fail("locked", 0);  // locked until 60
  for (int i = 0; i < 1000; ++i) (void)counter.Fail("k" + std::to_string(i), 10);
  EXPECT_LE(counter.size(), 4u);
  EXPECT_EQ(counter.LockedFor("locked", 10), 50);
  // When every held key is locked, a new key is not counted (the caller's other limits hold).
  FailureCounter full({1, 60s, 3600s}, 2);
  (void)full.Fail("x", 0);
  (void)full.Fail("y", 0);
  EXPECT_EQ(full.Fail("z", 1).failed, 0);
  EXPECT_EQ(full.size(), 2u);
  EXPECT_EQ(full.Fail("x", 1).failed, 2);  // a held key still counts
}

}  // namespace
}  // namespace outpost::server::auth
