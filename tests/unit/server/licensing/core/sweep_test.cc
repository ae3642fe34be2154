// Expiry sweep, floating leases, release and rehost.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/time.h"
#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kFw = "regid.2026-01.com.example.fw.base";
const std::string kSeat = "regid.2026-01.com.example.seat";

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Entitlement seats =
        MakeEntitlement("e2", "default", kSeat, 2, clock_.Now(), Enforcement::kEnforced);
    seats.floating = true;
    ASSERT_OK(book_.ReplaceEntitlements(
        {MakeEntitlement("e1", "default", kFw, 5, clock_.Now(), Enforcement::kEnforced), seats}));
  }
  AuthorizationDecision Auth(const DeviceRef& device, std::vector<TagRequest> requests) {
    auto d = book_.Authorize(device, requests, clock_.Now());
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (d.ok()) table_.Apply(d->delta);
    return d.ok() ? *d : AuthorizationDecision{};
  }
  std::vector<ConsumptionDelta> Sweep() {
    std::vector<ConsumptionDelta> swept = book_.Sweep(clock_.Now());
    table_.Apply(swept);
    return swept;
  }
  int64_t Used(const std::string& tag) { return InUse(book_, clock_.Now(), "default", tag); }

  testing::FakeClock clock_;
  PoolBook book_;
  FakeConsumptionTable table_;
};

TEST_F(SweepTest, AuthorizationNotRenewedIsReleasedWhenValidUntilPasses) {
  const AuthorizationDecision d = Auth(MakeDevice("a"), {{kFw, 3}});
  clock_.Set(d.valid_until - 1s);
  EXPECT_TRUE(Sweep().empty());
  EXPECT_EQ(Used(kFw), 3);
  clock_.Set(d.valid_until);
  const std::vector<ConsumptionDelta> swept = Sweep();
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(swept[0].instance_id, "a");
  EXPECT_EQ(swept[0].va, "default");
  ASSERT_EQ(swept[0].changes.size(), 1u);
  EXPECT_EQ(swept[0].changes[0], (TagChange{kFw, 3, 0, std::nullopt}));
  EXPECT_EQ(Used(kFw), 0);
  EXPECT_TRUE(book_.DeviceConsumption("a").empty());
  EXPECT_TRUE(Sweep().empty());
  // The units are back in the pool.
  EXPECT_EQ(Auth(MakeDevice("b"), {{kFw, 5}}).tags[0].status, TagStatus::kAuthorized);
  EXPECT_EQ(table_.Rows(), book_.Snapshot().consumption);
}

TEST_F(SweepTest, RenewedAuthorizationSurvivesTheSweep) {
  Auth(MakeDevice("a"), {{kFw, 3}});
  clock_.Advance(60 * kDay);
  const AuthorizationDecision renewed = Auth(MakeDevice("a"), {{kFw, 3}});
  clock_.Advance(31 * kDay);  // past the first valid_until, before the renewed one
  EXPECT_TRUE(Sweep().empty());
  EXPECT_EQ(Used(kFw), 3);
  clock_.Set(renewed.valid_until);
  EXPECT_EQ(Sweep().size(), 1u);
  EXPECT_EQ(Used(kFw), 0);
}

TEST_F(SweepTest, FloatingLeaseReturnsWithinOneSweepAfterTheLease) {
  const Duration sweep_interval = 1min;
  const TimePoint start = clock_.Now();
  ASSERT_EQ(Auth(MakeDevice("a"), {{kSeat, 2}}).tags[0].status, TagStatus::kAuthorized);
  EXPECT_EQ(Auth(MakeDevice("b"), {{kSeat, 1}}).tags[0].status, TagStatus::kDenied);
  // The sweeper runs every minute; the lease must be back at the first run after it ended.
  while (clock_.Now() < start + 15min) {
    EXPECT_TRUE(Sweep().empty()) << "released early at " << FormatRfc3339(clock_.Now());
    clock_.Advance(sweep_interval);
  }
  EXPECT_LE(clock_.Now(), start + 15min + sweep_interval);
  EXPECT_EQ(Sweep().size(), 1u);
  EXPECT_EQ(Used(kSeat), 0);
  EXPECT_EQ(Auth(MakeDevice("b"), {{kSeat, 2}}).tags[0].status, TagStatus::kAuthorized);
}

TEST_F(SweepTest, HeartbeatKeepsAFloatingLease) {
  Auth(MakeDevice("a"), {{kSeat, 1}});
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(7min);  // before renew_after + a margin: inside the lease
    EXPECT_TRUE(Sweep().empty());
    Auth(MakeDevice("a"), {{kSeat, 1}});
  }
  EXPECT_EQ(Used(kSeat), 1);
}

TEST_F(SweepTest, SweepReleasesOnlyTheExpiredTagsOfADevice) {
  Auth(MakeDevice("a"), {{kFw, 2}, {kSeat, 1}});
  clock_.Advance(15min);
  const std::vector<ConsumptionDelta> swept = Sweep();
  ASSERT_EQ(swept.size(), 1u);
  ASSERT_EQ(swept[0].changes.size(), 1u);
  EXPECT_EQ(swept[0].changes[0].tag, kSeat);
  EXPECT_EQ(Holdings(book_, "a"), (std::map<std::string, int64_t>{{kFw, 2}}));
  EXPECT_EQ(Used(kFw), 2);
  EXPECT_EQ(Used(kSeat), 0);
  EXPECT_EQ(table_.Rows(), book_.Snapshot().consumption);
}

TEST_F(SweepTest, ReleaseReturnsEverythingAtOnce) {
  Auth(MakeDevice("a"), {{kFw, 2}, {kSeat, 1}});
  auto released = book_.Release("a", clock_.Now());
  ASSERT_OK(released);
  table_.Apply(*released);
  EXPECT_EQ(released->instance_id, "a");
  EXPECT_EQ(released->changes.size(), 2u);
  EXPECT_EQ(Used(kFw), 0);
  EXPECT_EQ(Used(kSeat), 0);
  EXPECT_TRUE(table_.Rows().empty());
  // The UDI is free again for a new instance.
  DeviceRef again = MakeDevice("a2");
  again.udi = MakeDevice("a").udi;
  EXPECT_EQ(Auth(again, {{kFw, 5}}).tags[0].status, TagStatus::kAuthorized);
}

TEST_F(SweepTest, ReleaseOfAnInstanceHoldingNothingChangesNothing) {
  Auth(MakeDevice("a"), {{kFw, 2}});
  const BookState before = book_.Snapshot();
  auto released = book_.Release("unknown", clock_.Now());
  ASSERT_OK(released);
  EXPECT_TRUE(released->empty());
  EXPECT_EQ(book_.Snapshot(), before);
  EXPECT_EQ(book_.Release("", clock_.Now()).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(SweepTest, RehostCarriesConsumptionToTheNewInstance) {
  const AuthorizationDecision d = Auth(MakeDevice("old"), {{kFw, 3}});
  const Udi new_udi = MakeUdi("SN-replacement");
  auto rehost = book_.Rehost("old", "new", new_udi);
  ASSERT_OK(rehost);
  table_.Apply(*rehost);
  EXPECT_TRUE(book_.DeviceConsumption("old").empty());
  const std::vector<ConsumptionRow> rows = book_.DeviceConsumption("new");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].count, 3);
  EXPECT_EQ(rows[0].udi, new_udi);
  EXPECT_EQ(rows[0].valid_until, d.valid_until);
  EXPECT_EQ(Used(kFw), 3);
  EXPECT_EQ(table_.Rows(), book_.Snapshot().consumption);

  // The replacement renewing the same use is idempotent; the old UDI may register afresh.
  DeviceRef replacement = MakeDevice("new");
  replacement.udi = new_udi;
  EXPECT_EQ(Auth(replacement, {{kFw, 3}}).delta.changes.size(), 0u);
  EXPECT_EQ(Auth(MakeDevice("old"), {{kFw, 2}}).tags[0].status, TagStatus::kAuthorized);
  EXPECT_EQ(Used(kFw), 5);
}

TEST_F(SweepTest, RehostOntoABusyInstanceOrUdiIsRefusedAndChangesNothing) {
  Auth(MakeDevice("a"), {{kFw, 1}});
  Auth(MakeDevice("b"), {{kFw, 1}});
  const BookState before = book_.Snapshot();
  auto onto_instance = book_.Rehost("a", "b", MakeUdi("SN-fresh"));
  EXPECT_EQ(onto_instance.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(onto_instance.status().message().find("'b' already holds licenses"), std::string::npos);
  auto onto_udi = book_.Rehost("a", "c", MakeDevice("b").udi);
  EXPECT_EQ(onto_udi.status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(book_.Rehost("a", "c", Udi{"", "x"}).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(book_.Snapshot(), before);
  auto unknown = book_.Rehost("nobody", "c", MakeUdi("SN-fresh"));
  ASSERT_OK(unknown);
  EXPECT_TRUE(unknown->removed.empty());
  EXPECT_TRUE(unknown->added.empty());
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(SweepTest, RehostToANewUdiKeepingTheInstanceId) {
  Auth(MakeDevice("a"), {{kFw, 2}});
  auto rehost = book_.Rehost("a", "a", MakeUdi("SN-board-swap"));
  ASSERT_OK(rehost);
  table_.Apply(*rehost);
  EXPECT_EQ(book_.DeviceConsumption("a").at(0).udi, MakeUdi("SN-board-swap"));
  EXPECT_EQ(table_.Rows(), book_.Snapshot().consumption);
}

}  // namespace
}  // namespace outpost::server::licensing
