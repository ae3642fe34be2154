// Entitlement replacement (sync) and license moves between virtual accounts.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kTag = "regid.2026-01.com.example.fw.base";

class MoveTest : public ::testing::Test {
 protected:
  Entitlement Ent(std::string id, std::string va, int64_t quantity,
                  std::optional<Duration> ends_in = std::nullopt) {
    Entitlement e = MakeEntitlement(std::move(id), std::move(va), kTag, quantity, clock_.Now(),
                                    Enforcement::kEnforced);
    if (ends_in) e.end = clock_.Now() + *ends_in;
    return e;
  }
  int64_t Purchased(std::string_view va) { return RowOf(book_, clock_.Now(), va, kTag).purchased; }

  testing::FakeClock clock_;
  PoolBook book_;
};

TEST_F(MoveTest, MoveTransfersQuantityAndTheMovedUnitsKeepTheirTerms) {
  Entitlement lab = Ent("e1", "lab", 10, 200 * kDay);
  lab.export_controlled = true;
  ASSERT_OK(book_.ReplaceEntitlements({lab}));
  auto moved = book_.ApplyMove("lab", "branch-east", kTag, 4, clock_.Now());
  ASSERT_OK(moved);
  ASSERT_EQ(moved->size(), 2u);
  EXPECT_EQ((*moved)[0].id, "e1");
  EXPECT_EQ((*moved)[0].quantity, 6);
  const Entitlement& piece = (*moved)[1];
  EXPECT_EQ(piece.id, "e1@branch-east");
  EXPECT_EQ(piece.va, "branch-east");
  EXPECT_EQ(piece.quantity, 4);
  EXPECT_EQ(piece.start, lab.start);
  EXPECT_EQ(piece.end, lab.end);
  EXPECT_EQ(piece.enforcement, Enforcement::kEnforced);
  EXPECT_TRUE(piece.export_controlled);
  EXPECT_EQ(Purchased("lab"), 6);
  EXPECT_EQ(Purchased("branch-east"), 4);

  DeviceRef device = MakeDevice("a", "branch-east", /*export_allowed=*/true);
  auto d = book_.Authorize(device, {{kTag, 4}}, clock_.Now());
  ASSERT_OK(d);
  EXPECT_EQ(d->tags[0].status, TagStatus::kAuthorized);
}

TEST_F(MoveTest, MoveTakesTheSoonestEndingUnitsFirst) {
  ASSERT_OK(
      book_.ReplaceEntitlements({Ent("perpetual", "lab", 5), Ent("late", "lab", 5, 300 * kDay),
                                 Ent("soon", "lab", 2, 10 * kDay)}));
  auto moved = book_.ApplyMove("lab", "default", kTag, 4, clock_.Now());
  ASSERT_OK(moved);
  std::map<std::string, int64_t> quantities;
  for (const Entitlement& e : book_.Snapshot().entitlements) quantities[e.id] = e.quantity;
  EXPECT_EQ(
      quantities,
      (std::map<std::string, int64_t>{
          {"late", 3}, {"late@default", 2}, {"perpetual", 5}, {"soon", 0}, {"soon@default", 2}}));
}

TEST_F(MoveTest, MovingBackMergesIntoTheOriginalEntitlement) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10)}));
  ASSERT_OK(book_.ApplyMove("lab", "default", kTag, 4, clock_.Now()));
  ASSERT_OK(book_.ApplyMove("lab", "default", kTag, 1, clock_.Now()));
  auto back = book_.ApplyMove("default", "lab", kTag, 3, clock_.Now());
  ASSERT_OK(back);
  const BookState state = book_.Snapshot();
  ASSERT_EQ(state.entitlements.size(), 2u);
  EXPECT_EQ(state.entitlements[0].id, "e1");
  EXPECT_EQ(state.entitlements[0].quantity, 8);
  EXPECT_EQ(state.entitlements[1].id, "e1@default");
  EXPECT_EQ(state.entitlements[1].quantity, 2);
}

TEST_F(MoveTest, MovingMoreThanTheVaHasIsRefusedNamingWhatIsAvailable) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10)}));
  ASSERT_OK(book_.Authorize(MakeDevice("a", "lab"), {{kTag, 5}}, clock_.Now()));
  ASSERT_OK(book_.AddReservation({"lab", kTag, MakeUdi("SN-r"), 2}, clock_.Now()));
  const BookState before = book_.Snapshot();
  auto r = book_.ApplyMove("lab", "default", kTag, 4, clock_.Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("has 3 units of tag"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("(10 valid now, 5 in use, 2 reserved and unused)"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(book_.Snapshot(), before);
  ASSERT_OK(book_.ApplyMove("lab", "default", kTag, 3, clock_.Now()));
  EXPECT_EQ(Purchased("lab"), 7);
}

// An ENFORCED unit makes its pool ENFORCED: a move must not turn a REPORTED pool that uses more
// than it holds into an over-allocated ENFORCED one (found with `make demo`, issue 12).
TEST_F(MoveTest, EnforcedUnitsIntoAnOverusedReportedPoolAreRefused) {
  Entitlement reported = Ent("r1", "lab", 4);
  reported.enforcement = Enforcement::kReported;
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "default", 10), reported}));
  ASSERT_OK(book_.Authorize(MakeDevice("a", "lab"), {{kTag, 7}}, clock_.Now()));
  const BookState before = book_.Snapshot();
  auto refused = book_.ApplyMove("default", "lab", kTag, 2, clock_.Now());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("7 in use and only 6 purchased; move at least 3"),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(book_.Snapshot(), before);
  // Enough units to cover the use: the pool becomes ENFORCED and fits.
  ASSERT_OK(book_.ApplyMove("default", "lab", kTag, 3, clock_.Now()));
  const ComplianceRow row = RowOf(book_, clock_.Now(), "lab", kTag);
  EXPECT_EQ(row.enforcement, Enforcement::kEnforced);
  EXPECT_EQ(row.purchased, 7);
  EXPECT_EQ(row.in_use, 7);
}

// A move made before a sync is applied again on top of the response's set. Devices that used a
// REPORTED pool's units since (over its purchase, which REPORTED allows) must not undo it: only
// units valid at all count then (found by tests/crash: the pools lacked a pending move).
TEST_F(MoveTest, AMoveAppliedAgainAfterASyncCountsValidUnitsNotTheirUse) {
  Entitlement reported = Ent("r1", "lab", 4);
  reported.enforcement = Enforcement::kReported;
  ASSERT_OK(book_.ReplaceEntitlements({reported}));
  ASSERT_OK(book_.ApplyMove("lab", "default", kTag, 1, clock_.Now()));
  ASSERT_OK(book_.Authorize(MakeDevice("a", "lab"), {{kTag, 6}}, clock_.Now()));
  // Central's answer does not know the move yet: the whole 4 are in lab again.
  ASSERT_OK(book_.ReplaceEntitlements({reported}));
  auto checked = book_.ApplyMove("lab", "default", kTag, 1, clock_.Now());
  ASSERT_FALSE(checked.ok()) << "a new move still needs units nobody uses";
  EXPECT_EQ(checked.status().code(), Errc::kFailedPrecondition);
  auto again =
      book_.ApplyMove("lab", "default", kTag, 1, clock_.Now(), PoolBook::MoveCheck::kValidUnits);
  ASSERT_OK(again);
  EXPECT_EQ(Purchased("lab"), 3);
  EXPECT_EQ(Purchased("default"), 1);
  // More than the VA holds at all is still refused, and changes nothing.
  const BookState before = book_.Snapshot();
  auto too_many =
      book_.ApplyMove("lab", "default", kTag, 4, clock_.Now(), PoolBook::MoveCheck::kValidUnits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("holds 3 units of tag"), std::string::npos)
      << too_many.status().message();
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(MoveTest, BadMovesAreRefusedAndChangeNothing) {
  Entitlement future = Ent("e2", "lab", 5);
  future.tag = "regid.example.future";
  future.start = clock_.Now() + kDay;
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10), future}));
  const BookState before = book_.Snapshot();
  struct Case {
    std::string from, to, tag;
    int64_t count;
    Errc code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"lab", "lab", kTag, 1, Errc::kInvalidArgument, "to itself"},
      {"lab", "default", kTag, 0, Errc::kInvalidArgument, "moved count is 0"},
      {"lab", "default", kTag, -2, Errc::kInvalidArgument, "moved count is -2"},
      {"lab", "bad va", kTag, 1, Errc::kInvalidArgument, "virtual account name 'bad va'"},
      {"lab", "default", "", 1, Errc::kInvalidArgument, "license tag is empty"},
      {"default", "lab", kTag, 1, Errc::kFailedPrecondition, "has no entitlement"},
      {"lab", "default", "regid.example.future", 1, Errc::kFailedPrecondition,
       "has no entitlement for tag 'regid.example.future' valid at"},
      {"lab", "default", kTag, 11, Errc::kFailedPrecondition, "cannot move 11"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    auto r = book_.ApplyMove(c.from, c.to, c.tag, c.count, clock_.Now());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_EQ(book_.Snapshot(), before);
  }
}

TEST_F(MoveTest, ReplaceEntitlementsReplacesTheWholeSet) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10), Ent("e2", "default", 3)}));
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e3", "lab", 4)}));
  const BookState state = book_.Snapshot();
  ASSERT_EQ(state.entitlements.size(), 1u);
  EXPECT_EQ(state.entitlements[0].id, "e3");
  EXPECT_EQ(Purchased("lab"), 4);
  EXPECT_TRUE(book_.Compliance(clock_.Now(), "default").empty());
}

TEST_F(MoveTest, ReplaceEntitlementsKeepsConsumptionOfAShrunkPool) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10)}));
  ASSERT_OK(book_.Authorize(MakeDevice("a", "lab"), {{kTag, 8}}, clock_.Now()));
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 5)}));
  const ComplianceRow row = RowOf(book_, clock_.Now(), "lab", kTag);
  EXPECT_EQ(row.in_use, 8);
  EXPECT_EQ(row.status, ComplianceStatus::kOutOfCompliance);
  // The ENFORCED pool is not over-allocated again: the renewal is decided against 5.
  auto renewal = book_.Authorize(MakeDevice("a", "lab"), {{kTag, 8}}, clock_.Now());
  ASSERT_OK(renewal);
  EXPECT_EQ(renewal->tags[0].status, TagStatus::kDenied);
  EXPECT_EQ(InUse(book_, clock_.Now(), "lab", kTag), 0);
}

TEST_F(MoveTest, MalformedEntitlementSetsAreRefusedAndChangeNothing) {
  ASSERT_OK(book_.ReplaceEntitlements({Ent("e1", "lab", 10)}));
  const BookState before = book_.Snapshot();
  Entitlement negative = Ent("e2", "lab", -1);
  Entitlement reversed = Ent("e3", "lab", 1);
  reversed.end = reversed.start;
  Entitlement move_id = Ent("e4@default", "lab", 1);
  Entitlement two_ats = Ent("e6@x@lab", "lab", 1);
  Entitlement bad_tag = Ent("e5", "lab", 1);
  bad_tag.tag = "a b";
  const std::vector<std::pair<std::vector<Entitlement>, std::string>> cases = {
      {{Ent("e1", "lab", 1), Ent("e1", "default", 1)}, "'e1' appears twice"},
      {{negative}, "quantity -1 is outside"},
      {{reversed}, "is not after start"},
      {{move_id}, "is not its virtual account 'lab'"},
      {{two_ats}, "is not its virtual account 'lab'"},
      {{bad_tag}, "license tag 'a b'"},
  };
  for (const auto& [set, message] : cases) {
    SCOPED_TRACE(message);
    Status s = book_.ReplaceEntitlements(set);
    EXPECT_EQ(s.code(), Errc::kInvalidArgument);
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
    EXPECT_EQ(book_.Snapshot(), before);
  }
}

// Central names a piece split off by a move "<id>@<target VA>", including pieces left at 0 when
// the units move back; a response naming them must import (issue 12, item 1).
TEST_F(MoveTest, CentralsMovedPieceIdsAreAccepted) {
  ASSERT_OK(book_.ReplaceEntitlements(
      {Ent("e1", "default", 9), Ent("e1@lab", "lab", 1), Ent("e2@lab", "lab", 0)}));
  EXPECT_EQ(RowOf(book_, clock_.Now(), "lab", kTag).purchased, 1);
  EXPECT_EQ(RowOf(book_, clock_.Now(), "default", kTag).purchased, 9);
}

}  // namespace
}  // namespace outpost::server::licensing
