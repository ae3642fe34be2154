// Randomized operations (fixed seed) against the invariants of the book: an ENFORCED pool never
// has more in use than purchased, in_use always equals the sum of the devices' consumption, every
// refused operation leaves the book unchanged, and the persisted deltas rebuild the same book.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::vector<std::string> kVas = {"default", "lab"};
const std::vector<std::string> kTags = {"regid.example.a", "regid.example.b", "regid.example.c",
                                        "regid.example.seat"};
constexpr int kDevices = 24;
constexpr int kOperations = 5000;

class PropertyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Entitlement> entitlements;
    int n = 0;
    for (const std::string& va : kVas) {
      for (const std::string& tag : kTags) {
        ++n;
        Entitlement e = MakeEntitlement("e" + std::to_string(n), va, tag, 6 + n % 5, clock_.Now(),
                                        Enforcement::kEnforced);
        e.floating = tag == "regid.example.seat";
        entitlements.push_back(e);
      }
    }
    ASSERT_OK(book_.ReplaceEntitlements(entitlements));
  }

  DeviceRef Device(int i) {
    // Devices 0..11 are in "default", the rest in "lab"; rehosts give them new instance ids.
    DeviceRef d = MakeDevice(instance_[i], i < kDevices / 2 ? "default" : "lab");
    d.udi = udi_[i];
    return d;
  }

  void CheckInvariants() {
    const BookState state = book_.Snapshot();
    std::map<std::pair<std::string, std::string>, int64_t> sums;
    for (const ConsumptionRow& row : state.consumption) {
      ASSERT_GT(row.count, 0);
      sums[{row.va, row.tag}] += row.count;
    }
    for (const ComplianceRow& row : book_.Compliance(clock_.Now())) {
      const std::pair<std::string, std::string> key{row.va, row.tag};
      ASSERT_EQ(row.in_use, sums[key]) << row.va << " " << row.tag;
      if (row.enforcement == Enforcement::kEnforced) {
        ASSERT_LE(row.in_use, row.purchased) << row.va << " " << row.tag;
      }
      ASSERT_LE(row.reserved, row.purchased) << row.va << " " << row.tag;
      sums.erase(key);
    }
    for (const auto& [pool, sum] : sums) {
      ASSERT_EQ(sum, 0) << pool.first << " " << pool.second;
    }
    ASSERT_EQ(table_.Rows(), state.consumption);
  }

  testing::FakeClock clock_;
  PoolBook book_;
  FakeConsumptionTable table_;
  std::vector<std::string> instance_ = [] {
    std::vector<std::string> ids;
    for (int i = 0; i < kDevices; ++i) ids.push_back("dev-" + std::to_string(i));
    return ids;
  }();
  std::vector<Udi> udi_ = [] {
    std::vector<Udi> udis;
    for (int i = 0; i < kDevices; ++i) udis.push_back(MakeUdi("SN-" + std::to_string(i)));
    return udis;
  }();
};

TEST_F(PropertyTest, RandomOperationsKeepEnforcedPoolsWithinPurchasedAndCountsExact) {
  std::mt19937 rng(20260528);
  const auto pick = [&](size_t n) {
    return static_cast<int>(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
  };
  int authorized = 0, denied = 0, refused = 0, swept = 0, rehosts = 0;
  for (int op = 0; op < kOperations; ++op) {
    SCOPED_TRACE("operation " + std::to_string(op));
    const int kind = pick(100);
    const int i = pick(kDevices);
    if (kind < 55) {
      std::vector<TagRequest> requests;
      for (const std::string& tag : kTags) {
        if (pick(3) == 0) requests.push_back({tag, 1 + pick(6)});
      }
      auto d = book_.Authorize(Device(i), requests, clock_.Now());
      ASSERT_OK(d);
      table_.Apply(d->delta);
      for (const TagDecision& t : d->tags) {
        ASSERT_NE(t.status, TagStatus::kOutOfCompliance);  // every pool is ENFORCED
        (t.status == TagStatus::kAuthorized ? authorized : denied)++;
      }
    } else if (kind < 62) {
      // Bad input: refused, and the book is exactly as before.
      const BookState before = book_.Snapshot();
      std::vector<TagRequest> bad = {{kTags[0], 1}};
      switch (pick(4)) {
        case 0:
          bad.push_back({kTags[0], 2});
          break;
        case 1:
          bad[0].count = -pick(3);
          break;
        case 2:
          bad[0].count = kMaxCount + 1 + pick(10);
          break;
        default:
          bad[0].tag = "bad tag";
      }
      ASSERT_FALSE(book_.Authorize(Device(i), bad, clock_.Now()).ok());
      ASSERT_FALSE(book_.ApplyMove("default", "lab", kTags[pick(4)], 1000, clock_.Now()).ok());
      ASSERT_EQ(book_.Snapshot(), before);
      ++refused;
    } else if (kind < 75) {
      auto released = book_.Release(instance_[i], clock_.Now());
      ASSERT_OK(released);
      table_.Apply(*released);
    } else if (kind < 88) {
      clock_.Advance(std::chrono::minutes(1 + pick(20)));
      const std::vector<ConsumptionDelta> deltas = book_.Sweep(clock_.Now());
      table_.Apply(deltas);
      swept += static_cast<int>(deltas.size());
    } else if (kind < 92) {
      const std::string fresh = instance_[i] + "r";
      const Udi udi = MakeUdi(udi_[i].serial + "r");
      auto rehost = book_.Rehost(instance_[i], fresh, udi);
      ASSERT_OK(rehost);
      table_.Apply(*rehost);
      instance_[i] = fresh;
      udi_[i] = udi;
      ++rehosts;
    } else if (kind < 96) {
      const BookState before = book_.Snapshot();
      if (pick(2) == 0 && !before.reservations.empty()) {
        const Reservation& r = before.reservations[pick(before.reservations.size())];
        ASSERT_OK(book_.RemoveReservation(r.va, r.tag, r.udi));
      } else {
        const Reservation r{Device(i).va, kTags[pick(4)], udi_[i], 1 + pick(3)};
        if (!book_.AddReservation(r, clock_.Now()).ok()) {
          ASSERT_EQ(book_.Snapshot(), before);
        }
      }
    } else if (kind < 98) {
      const int from = pick(2);
      const BookState before = book_.Snapshot();
      if (!book_.ApplyMove(kVas[from], kVas[1 - from], kTags[pick(4)], 1 + pick(3), clock_.Now())
               .ok()) {
        ASSERT_EQ(book_.Snapshot(), before);
      }
    } else {
      clock_.Advance(std::chrono::hours(24 * (1 + pick(40))));  // authorizations run out
    }
    CheckInvariants();
    if (HasFatalFailure()) return;
  }
  // The run exercised every path.
  EXPECT_GT(authorized, 1000);
  EXPECT_GT(denied, 100);
  EXPECT_GT(refused, 100);
  EXPECT_GT(swept, 50);
  EXPECT_GT(rehosts, 50);

  PoolBook rebuilt;
  BookState persisted = book_.Snapshot();
  persisted.consumption = table_.Rows();
  ASSERT_OK(rebuilt.Restore(persisted, clock_.Now()));
  EXPECT_EQ(rebuilt.Snapshot(), book_.Snapshot());
  EXPECT_EQ(rebuilt.Compliance(clock_.Now()), book_.Compliance(clock_.Now()));
}

}  // namespace
}  // namespace outpost::server::licensing
