#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kTag = "regid.2026-01.com.example.fw.base";

class ComplianceTest : public ::testing::Test {
 protected:
  Entitlement Ent(std::string id, int64_t quantity, std::optional<Duration> ends_in = {},
                  std::string va = "default") {
    Entitlement e = MakeEntitlement(std::move(id), std::move(va), kTag, quantity, clock_.Now());
    if (ends_in) e.end = clock_.Now() + *ends_in;
    return e;
  }
  void Use(const std::string& instance, int64_t count, std::string va = "default") {
    ASSERT_OK(book_.Authorize(MakeDevice(instance, std::move(va)), {{kTag, count}}, clock_.Now()));
  }
  ComplianceRow Row(std::string_view va = "default") {
    return RowOf(book_, clock_.Now(), va, kTag);
  }

  testing::FakeClock clock_;
  PoolBook book_;
};

TEST_F(ComplianceTest, PoolWithinPurchasedIsInCompliance) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 10)}));
  Use("a", 3);
  ASSERT_OK(book_.AddReservation({"default", kTag, MakeUdi("SN-r"), 2}, clock_.Now()));
  const ComplianceRow row = Row();
  EXPECT_EQ(row.purchased, 10);
  EXPECT_EQ(row.in_use, 3);
  EXPECT_EQ(row.reserved, 2);
  EXPECT_EQ(row.available, 5);
  EXPECT_EQ(row.status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(row.enforcement, Enforcement::kReported);
  EXPECT_FALSE(row.next_end.has_value());
}

TEST_F(ComplianceTest, InUseAbovePurchasedIsOutOfCompliance) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 2)}));
  Use("a", 2);
  EXPECT_EQ(Row().status, ComplianceStatus::kInCompliance);
  Use("b", 1);
  const ComplianceRow row = Row();
  EXPECT_EQ(row.status, ComplianceStatus::kOutOfCompliance);
  EXPECT_EQ(row.in_use, 3);
  EXPECT_EQ(row.available, 0);
}

TEST_F(ComplianceTest, EntitlementEndingWithin30DaysMakesThePoolExpiring) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 5), Ent("e2", 5, 31 * kDay)}));
  EXPECT_EQ(Row().status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(Row().next_end, clock_.Now() + 31 * kDay);
  clock_.Advance(kDay);  // now exactly 30 days before the end
  EXPECT_EQ(Row().status, ComplianceStatus::kExpiring);
  EXPECT_EQ(Row().purchased, 10);
  clock_.Advance(30 * kDay);  // ended: only the perpetual one is left
  EXPECT_EQ(Row().status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(Row().purchased, 5);
}

TEST_F(ComplianceTest, OnlyEntitlementsContributingNowMakeAPoolExpiring) {
  Entitlement future = Ent("future", 5, 40 * kDay);
  future.start = clock_.Now() + 20 * kDay;
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 5), future}));
  EXPECT_EQ(Row().status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(Row().purchased, 5);
}

TEST_F(ComplianceTest, PoolWhoseEntitlementsAllEndedIsExpired) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 5, 10 * kDay), Ent("e2", 3, 20 * kDay)}));
  Use("a", 2);
  clock_.Advance(20 * kDay);
  const ComplianceRow row = Row();
  EXPECT_EQ(row.status, ComplianceStatus::kExpired);  // wins over in_use > purchased
  EXPECT_EQ(row.purchased, 0);
  EXPECT_EQ(row.in_use, 2);
  EXPECT_EQ(row.expired_at, clock_.Now());
}

TEST_F(ComplianceTest, RenewalNotYetStartedLeavesThePoolExpired) {
  Entitlement renewal = Ent("renewal", 5);
  renewal.start = clock_.Now() + 2 * kDay;
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 5, kDay), renewal}));
  clock_.Advance(kDay);
  EXPECT_EQ(Row().status, ComplianceStatus::kExpired);
  clock_.Advance(kDay);
  EXPECT_EQ(Row().status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(Row().purchased, 5);
}

TEST_F(ComplianceTest, PoolWithOnlyFutureEntitlementsIsInComplianceWithNothingPurchased) {
  Entitlement future = Ent("future", 5);
  future.start = clock_.Now() + kDay;
  ASSERT_OK(book_.ReplaceEntitlements({future}));
  const ComplianceRow row = Row();
  EXPECT_EQ(row.status, ComplianceStatus::kInCompliance);
  EXPECT_EQ(row.purchased, 0);
}

TEST_F(ComplianceTest, RowsAreSortedAndFilteredByVa) {
  Entitlement other = Ent("e3", 1, {}, "default");
  other.tag = "aaa.first";
  other.enforcement = Enforcement::kEnforced;
  other.floating = true;
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", 5, {}, "lab"), Ent("e2", 5), other}));
  const std::vector<ComplianceRow> all = book_.Compliance(clock_.Now());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(std::make_pair(all[0].va, all[0].tag),
            std::make_pair(std::string("default"), std::string("aaa.first")));
  EXPECT_EQ(all[0].enforcement, Enforcement::kEnforced);
  EXPECT_TRUE(all[0].floating);
  EXPECT_EQ(std::make_pair(all[1].va, all[1].tag), std::make_pair(std::string("default"), kTag));
  EXPECT_EQ(std::make_pair(all[2].va, all[2].tag), std::make_pair(std::string("lab"), kTag));
  const std::vector<ComplianceRow> lab = book_.Compliance(clock_.Now(), "lab");
  ASSERT_EQ(lab.size(), 1u);
  EXPECT_EQ(lab[0], all[2]);
  EXPECT_TRUE(book_.Compliance(clock_.Now(), "nowhere").empty());
}

TEST_F(ComplianceTest, StatusNamesAreTheWireNames) {
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kInCompliance), "IN_COMPLIANCE");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kOutOfCompliance), "OUT_OF_COMPLIANCE");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kExpiring), "EXPIRING");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kExpired), "EXPIRED");
}

}  // namespace
}  // namespace outpost::server::licensing
