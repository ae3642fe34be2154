// AdmissionPool: bounded, and fair between clients (issue 17, finding 1).

#include "sync/central/admission_pool.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::central {
namespace {

// One thread, held busy by a first item until `release` is set, so that the order in which
// the queued items run is the pool's choice alone.
struct HeldPool {
  std::unique_ptr<AdmissionPool> pool = std::make_unique<AdmissionPool>(1, 8, 3);
  std::promise<void> release;
  std::promise<void> started;
  std::mutex mu;
  std::vector<std::string> ran;

  HeldPool() {
    std::shared_future<void> go = release.get_future().share();
    EXPECT_TRUE(pool->TryPost("holder", [this, go] {
      started.set_value();
      go.wait();
    }));
    started.get_future().wait();
  }
  bool Post(const std::string& client, const std::string& name) {
    return pool->TryPost(client, [this, name] {
      std::lock_guard lock(mu);
      ran.push_back(name);
    });
  }
  // Lets the holder finish; the pool's destructor runs what is queued and joins.
  std::vector<std::string> Drain() {
    if (pool) release.set_value();
    pool.reset();
    return ran;
  }
  ~HeldPool() { Drain(); }  // also after a failed assertion: never leave the holder waiting
};

TEST(AdmissionPoolTest, ClientsAreServedInTurnNotInArrivalOrder) {
  HeldPool held;
  ASSERT_TRUE(held.Post("attacker", "a1"));
  ASSERT_TRUE(held.Post("attacker", "a2"));
  ASSERT_TRUE(held.Post("attacker", "a3"));
  ASSERT_TRUE(held.Post("acme", "acme1"));
  ASSERT_TRUE(held.Post("other", "o1"));
  EXPECT_EQ(held.Drain(), (std::vector<std::string>{"a1", "acme1", "o1", "a2", "a3"}));
}

TEST(AdmissionPoolTest, RefusesBeyondThePerClientAndTheTotalBound) {
  HeldPool held;  // 8 in all, 3 per client
  EXPECT_TRUE(held.Post("attacker", "a1"));
  EXPECT_TRUE(held.Post("attacker", "a2"));
  EXPECT_TRUE(held.Post("attacker", "a3"));
  EXPECT_FALSE(held.Post("attacker", "a4")) << "a fourth item of one client was queued";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(held.Post("c" + std::to_string(i), "x"));
  EXPECT_EQ(held.pool->queued(), 8u);
  EXPECT_FALSE(held.Post("late", "y")) << "a ninth item was queued";
  EXPECT_EQ(held.Drain().size(), 8u);
}

}  // namespace
}  // namespace outpost::central
