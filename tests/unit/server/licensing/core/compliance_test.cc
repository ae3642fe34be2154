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

// Pools "a".."c" x "tag.0".."tag.4" (15 pools, sorted (va, tag)), each purchased 5.
class ComplianceMatchingTest : public ComplianceTest {
 protected:
  void SetUp() override {
    std::vector<Entitlement> all;
    for (const char* va : {"a", "b", "c"}) {
      for (int i = 0; i < 5; ++i) {
        all.push_back(MakeEntitlement(std::string(va) + std::to_string(i), va,
                                      "tag." + std::to_string(i), 5, clock_.Now()));
      }
    }
    all.back().tag = "Other.FW";  // c/Other.FW instead of c/tag.4 (sorts first in c)
    ASSERT_OK(book_.ReplaceEntitlements(all));
  }
  static std::vector<std::string> Keys(const CompliancePage& page) {
    std::vector<std::string> out;
    for (const ComplianceRow& r : page.rows) out.push_back(r.va + "/" + r.tag);
    return out;
  }
  // Every row the query matches, following resume_after; the pages' sizes in `sizes`.
  std::vector<std::string> Follow(ComplianceQuery query, std::vector<size_t>* sizes = nullptr) {
    std::vector<std::string> out;
    for (int i = 0; i < 100; ++i) {
      const CompliancePage page = book_.ComplianceMatching(clock_.Now(), query);
      EXPECT_LE(page.rows.size(), query.limit);
      if (sizes != nullptr) sizes->push_back(page.rows.size());
      for (const std::string& key : Keys(page)) out.push_back(key);
      if (!page.resume_after) return out;
      query.after = page.resume_after;
    }
    ADD_FAILURE() << "the pages never ended";
    return out;
  }
};

TEST_F(ComplianceMatchingTest, PagesFollowVaTagOrderAndEndExactlyAtTheLastRow) {
  std::vector<std::string> all;
  for (const ComplianceRow& r : book_.Compliance(clock_.Now())) all.push_back(r.va + "/" + r.tag);
  ASSERT_EQ(all.size(), 15u);
  ComplianceQuery query;
  query.limit = 5;
  std::vector<size_t> sizes;
  EXPECT_EQ(Follow(query, &sizes), all);
  // 15 rows in pages of 5: the third page is the last one (no empty fourth page).
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 5, 5}));
  query.limit = 16;
  const CompliancePage one = book_.ComplianceMatching(clock_.Now(), query);
  EXPECT_EQ(one.rows.size(), 15u);
  EXPECT_FALSE(one.resume_after);
}

TEST_F(ComplianceMatchingTest, VaStartsAtItsRangeAndStopsAtItsEnd) {
  ComplianceQuery query;
  query.va = "b";
  query.limit = 2;
  EXPECT_EQ(Follow(query),
            (std::vector<std::string>{"b/tag.0", "b/tag.1", "b/tag.2", "b/tag.3", "b/tag.4"}));
  // A cursor from before the VA starts at the VA; one past it lists nothing.
  query.after = std::make_pair(std::string("a"), std::string("tag.9"));
  EXPECT_EQ(Keys(book_.ComplianceMatching(clock_.Now(), query)),
            (std::vector<std::string>{"b/tag.0", "b/tag.1"}));
  query.after = std::make_pair(std::string("b"), std::string("tag.4"));
  const CompliancePage past = book_.ComplianceMatching(clock_.Now(), query);
  EXPECT_TRUE(past.rows.empty());
  EXPECT_FALSE(past.resume_after);
  query.va = "nowhere";
  query.after.reset();
  EXPECT_TRUE(book_.ComplianceMatching(clock_.Now(), query).rows.empty());
}

TEST_F(ComplianceMatchingTest, SearchMatchesPartOfVaOrTagInAnyCase) {
  ComplianceQuery query;
  query.search = "G.3";
  query.limit = 1;
  EXPECT_EQ(Follow(query), (std::vector<std::string>{"a/tag.3", "b/tag.3", "c/tag.3"}));
  query.search = "other.fw";
  EXPECT_EQ(Follow(query), (std::vector<std::string>{"c/Other.FW"}));
  query.search = "c";  // the VA "c": all of its pools
  EXPECT_EQ(Follow(query).size(), 5u);
  query.search = "nothing";
  EXPECT_TRUE(Follow(query).empty());
}

TEST_F(ComplianceMatchingTest, WalkIsBoundedAndResumesWhereItStopped) {
  ComplianceQuery query;
  query.search = "b";  // the five pools of VA b, the 6th..10th of 15
  query.limit = 100;
  query.max_walk = 4;
  std::vector<size_t> sizes;
  EXPECT_EQ(Follow(query, &sizes),
            (std::vector<std::string>{"b/tag.0", "b/tag.1", "b/tag.2", "b/tag.3", "b/tag.4"}));
  // 4 pools looked at per page: a/0-3 (none), a/4 b/0-2, b/3-4 c/Other c/0, c/1-3 (none, and the
  // end: nothing is left to look at, so no resume).
  EXPECT_EQ(sizes, (std::vector<size_t>{0, 3, 2, 0}));
  const CompliancePage first = book_.ComplianceMatching(clock_.Now(), query);
  ASSERT_TRUE(first.resume_after);
  EXPECT_EQ(*first.resume_after, std::make_pair(std::string("a"), std::string("tag.3")));
}

TEST_F(ComplianceMatchingTest, HasPoolsInNamesExactlyTheVasWithPools) {
  for (const char* va : {"a", "b", "c"}) EXPECT_TRUE(book_.HasPoolsIn(va)) << va;
  for (const char* va : {"", "0", "aa", "b-", "d", "A"}) EXPECT_FALSE(book_.HasPoolsIn(va)) << va;
}

TEST_F(ComplianceMatchingTest, TagWithVaIsOnePool) {
  ComplianceQuery query;
  query.va = "b";
  query.tag = "tag.2";
  const CompliancePage page = book_.ComplianceMatching(clock_.Now(), query);
  EXPECT_EQ(Keys(page), (std::vector<std::string>{"b/tag.2"}));
  EXPECT_FALSE(page.resume_after);
  EXPECT_EQ(page.rows[0], RowOf(book_, clock_.Now(), "b", "tag.2"));
  query.tag = "tag.9";
  EXPECT_TRUE(book_.ComplianceMatching(clock_.Now(), query).rows.empty());
  query.va.reset();
  query.tag = "tag.2";  // without a VA: that tag in every VA
  EXPECT_EQ(Keys(book_.ComplianceMatching(clock_.Now(), query)),
            (std::vector<std::string>{"a/tag.2", "b/tag.2", "c/tag.2"}));
}

TEST_F(ComplianceTest, StatusNamesAreTheWireNames) {
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kInCompliance), "IN_COMPLIANCE");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kOutOfCompliance), "OUT_OF_COMPLIANCE");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kExpiring), "EXPIRING");
  EXPECT_EQ(ComplianceStatusName(ComplianceStatus::kExpired), "EXPIRED");
}

}  // namespace
}  // namespace outpost::server::licensing
