#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kTag = "regid.2026-01.com.example.fw.base";

class ReservationTest : public ::testing::Test {
 protected:
  void SetUpPool(int64_t quantity, Enforcement enforcement = Enforcement::kEnforced) {
    ASSERT_OK(book_.ReplaceEntitlements(
        {MakeEntitlement("e1", "default", kTag, quantity, clock_.Now(), enforcement)}));
  }
  Reservation For(const DeviceRef& device, int64_t count) {
    return Reservation{device.va, kTag, device.udi, count};
  }
  TagDecision Ask(const DeviceRef& device, int64_t count) {
    auto d = book_.Authorize(device, {{kTag, count}}, clock_.Now());
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? d->tags.at(0) : TagDecision{};
  }

  testing::FakeClock clock_;
  PoolBook book_;
  const DeviceRef reserved_ = MakeDevice("reserved");
  const DeviceRef first_ = MakeDevice("first");
  const DeviceRef second_ = MakeDevice("second");
};

TEST_F(ReservationTest, FirstComeDevicesCannotTakeReservedUnits) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 4), clock_.Now()));
  const TagDecision greedy = Ask(first_, 7);
  EXPECT_EQ(greedy.status, TagStatus::kDenied);
  EXPECT_NE(greedy.reason.find("4 reserved for other devices"), std::string::npos) << greedy.reason;
  EXPECT_EQ(Ask(first_, 6).status, TagStatus::kAuthorized);
  EXPECT_EQ(Ask(second_, 1).status, TagStatus::kDenied);
  EXPECT_EQ(Ask(reserved_, 4).status, TagStatus::kAuthorized);
  EXPECT_EQ(InUse(book_, clock_.Now(), "default", kTag), 10);
}

TEST_F(ReservationTest, ReservedDeviceMayUseMoreThanItsReservationFromFreeUnits) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 2), clock_.Now()));
  EXPECT_EQ(Ask(reserved_, 5).status, TagStatus::kAuthorized);
  EXPECT_EQ(Ask(first_, 5).status, TagStatus::kAuthorized);
  EXPECT_EQ(Ask(second_, 1).status, TagStatus::kDenied);
}

TEST_F(ReservationTest, OnlyTheUnusedPartOfAReservationIsHeldBack) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 4), clock_.Now()));
  EXPECT_EQ(Ask(reserved_, 1).status, TagStatus::kAuthorized);
  // 10 - 1 used by the reserved device - 3 still held back for it.
  EXPECT_EQ(Ask(first_, 7).status, TagStatus::kDenied);
  EXPECT_EQ(Ask(first_, 6).status, TagStatus::kAuthorized);
  const ComplianceRow row = RowOf(book_, clock_.Now(), "default", kTag);
  EXPECT_EQ(row.reserved, 4);
  EXPECT_EQ(row.in_use, 7);
  EXPECT_EQ(row.available, 0);
}

TEST_F(ReservationTest, EnforcedPoolReservesOnlyFreeUnits) {
  SetUpPool(10);
  ASSERT_EQ(Ask(first_, 8).status, TagStatus::kAuthorized);
  const BookState before = book_.Snapshot();
  auto r = book_.AddReservation(For(reserved_, 5), clock_.Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("has 2 units free to reserve (10 purchased, 8 in use"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(book_.Snapshot(), before);
  // The device holding the units keeps them at renewal.
  EXPECT_EQ(Ask(first_, 8).status, TagStatus::kAuthorized);

  ASSERT_OK(book_.AddReservation(For(reserved_, 2), clock_.Now()));
  EXPECT_EQ(Ask(second_, 1).status, TagStatus::kDenied);
  EXPECT_EQ(Ask(reserved_, 2).status, TagStatus::kAuthorized);
  // A reserved device already using its units can have its reservation raised by what it uses.
  EXPECT_EQ(Ask(first_, 7).status, TagStatus::kAuthorized);
  ASSERT_OK(book_.AddReservation(For(reserved_, 1), clock_.Now()));
  EXPECT_EQ(Ask(reserved_, 3).status, TagStatus::kAuthorized);
  EXPECT_EQ(InUse(book_, clock_.Now(), "default", kTag), 10);
}

TEST_F(ReservationTest, ReportedPoolMayReserveUnitsOthersUse) {
  SetUpPool(10, Enforcement::kReported);
  ASSERT_EQ(Ask(first_, 8).status, TagStatus::kAuthorized);
  ASSERT_OK(book_.AddReservation(For(reserved_, 5), clock_.Now()));
  EXPECT_EQ(Ask(reserved_, 5).status, TagStatus::kAuthorized);
  const TagDecision renewal = Ask(first_, 8);
  EXPECT_EQ(renewal.status, TagStatus::kOutOfCompliance);
  EXPECT_EQ(renewal.granted, 8);  // still recorded: REPORTED pools only report
  EXPECT_EQ(InUse(book_, clock_.Now(), "default", kTag), 13);
}

TEST_F(ReservationTest, ReportedPoolHonoursReservationEvenWhenOthersExceedThePool) {
  SetUpPool(10, Enforcement::kReported);
  ASSERT_OK(book_.AddReservation(For(reserved_, 3), clock_.Now()));
  EXPECT_EQ(Ask(first_, 9).status, TagStatus::kOutOfCompliance);
  EXPECT_EQ(Ask(reserved_, 3).status, TagStatus::kAuthorized);
  EXPECT_EQ(Ask(reserved_, 4).status, TagStatus::kOutOfCompliance);
  EXPECT_EQ(InUse(book_, clock_.Now(), "default", kTag), 13);
}

TEST_F(ReservationTest, AddingAccumulatesAndRemovingReturnsCapacity) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 2), clock_.Now()));
  auto now_held = book_.AddReservation(For(reserved_, 3), clock_.Now());
  ASSERT_OK(now_held);
  EXPECT_EQ(now_held->count, 5);
  EXPECT_EQ(Ask(first_, 6).status, TagStatus::kDenied);
  ASSERT_OK(book_.RemoveReservation("default", kTag, reserved_.udi));
  EXPECT_EQ(Ask(first_, 10).status, TagStatus::kAuthorized);
}

TEST_F(ReservationTest, ReservingMoreThanPurchasedIsRefusedAndChangesNothing) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 6), clock_.Now()));
  const BookState before = book_.Snapshot();
  auto r = book_.AddReservation(For(first_, 5), clock_.Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("would total 11 but only 10 are purchased"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(book_.Snapshot(), before);

  Status s = book_.SetReservations({For(first_, 5), For(second_, 6)}, clock_.Now());
  EXPECT_EQ(s.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(book_.Snapshot(), before);

  Reservation elsewhere{"lab", kTag, first_.udi, 1};  // nothing purchased in "lab"
  EXPECT_EQ(book_.AddReservation(elsewhere, clock_.Now()).status().code(),
            Errc::kFailedPrecondition);
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(ReservationTest, MalformedReservationsAreRefusedAndChangeNothing) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 1), clock_.Now()));
  const BookState before = book_.Snapshot();
  Reservation bad_udi = For(first_, 1);
  bad_udi.udi.pid = "";
  EXPECT_EQ(book_.AddReservation(bad_udi, clock_.Now()).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(book_.AddReservation(For(first_, 0), clock_.Now()).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(book_.AddReservation(For(first_, -3), clock_.Now()).status().code(),
            Errc::kInvalidArgument);
  Status dup = book_.SetReservations({For(first_, 1), For(first_, 2)}, clock_.Now());
  EXPECT_EQ(dup.code(), Errc::kInvalidArgument);
  EXPECT_NE(dup.message().find("appears twice"), std::string::npos) << dup.message();
  Status missing = book_.RemoveReservation("default", kTag, first_.udi);
  EXPECT_EQ(missing.code(), Errc::kNotFound);
  EXPECT_NE(missing.message().find("C9300-24T:SN-first"), std::string::npos);
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(ReservationTest, SetReservationsReplacesAll) {
  SetUpPool(10);
  ASSERT_OK(book_.AddReservation(For(reserved_, 3), clock_.Now()));
  ASSERT_OK(book_.SetReservations({For(first_, 2)}, clock_.Now()));
  const BookState state = book_.Snapshot();
  ASSERT_EQ(state.reservations.size(), 1u);
  EXPECT_EQ(state.reservations[0], For(first_, 2));
  ASSERT_OK(book_.SetReservations({}, clock_.Now()));
  EXPECT_TRUE(book_.Snapshot().reservations.empty());
}

}  // namespace
}  // namespace outpost::server::licensing
