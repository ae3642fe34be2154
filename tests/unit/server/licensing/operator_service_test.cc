// OperatorService (the operator facade) over a temporary database with the real migrations and
// the fake clock: release and rehost by an operator, moves and reservations audited with the
// operator's actor, and every bad operator input leaving the database and memory as they were.

#include "server/licensing/operator_service.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "common/crypto/encoding.h"
#include "common/crypto/merkle.h"
#include "server/licensing/store.h"
#include "tests/unit/server/licensing/service_test_fixture.h"

namespace outpost::server::licensing {
namespace {

using auth::Role;
using namespace service_testing;  // NOLINT: the shared fixture

// Tests of one facade over the shared fixture (service_test_fixture.h).
using OperatorServiceTest = LicensingServiceTest;

TEST_F(OperatorServiceTest, MovesAndReservationsArePersistedAndAudited) {
  Seed(Standard());
  v1::MoveLicensesRequest move;
  move.set_from_va("west");
  move.set_to_va("east");
  move.set_tag("fw");
  move.set_count(3);
  auto moved = operators().MoveLicenses(move, Oscar().actor());
  ASSERT_OK(moved);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM license_moves WHERE reported_at IS NULL"), 1);
  auto east = operators().Licenses("east");
  int64_t purchased = 0;
  for (const auto& p : east.pools()) {
    if (p.tag() == "fw") purchased = p.purchased();
  }
  EXPECT_EQ(purchased, 5);

  v1::ReservationRequest reserve;
  reserve.set_va("east");
  reserve.set_tag("fw");
  reserve.set_count(4);
  reserve.set_udi("C9300-24T:VIP");
  ASSERT_OK(operators().Reserve(reserve, Oscar().actor()));
  // Only one unit is left for everybody else.
  TestDevice a = MakeDevice("A");
  TestDevice b = MakeDevice("B");
  const std::string token = NewToken();
  RegisterOrDie(a, token);
  RegisterOrDie(b, token);
  auto ra = Authorize(a.Identity(), {{"fw", 1}});
  ASSERT_OK(ra);
  EXPECT_EQ(StatusOf(*ra, "fw"), "AUTHORIZED");
  auto rb = Authorize(b.Identity(), {{"fw", 1}});
  ASSERT_OK(rb);
  EXPECT_EQ(StatusOf(*rb, "fw"), "DENIED");
  auto reservations = operators().Reservations();
  ASSERT_OK(reservations);
  ASSERT_EQ(reservations->reservations_size(), 1);
  EXPECT_EQ(reservations->reservations(0).count(), 4);

  // All of it survives a restart.
  const BookState before = service_->Snapshot();
  OpenService();
  EXPECT_EQ(service_->Snapshot(), before);

  ASSERT_OK(operators().Unreserve(reserve, Oscar().actor()));
  auto rb2 = Authorize(b.Identity(), {{"fw", 1}});
  ASSERT_OK(rb2);
  EXPECT_EQ(StatusOf(*rb2, "fw"), "AUTHORIZED");
  std::vector<std::string> actions;
  for (const auto& row : AuditRows()) actions.push_back(row.action);
  for (const char* a : {"license.move", "license.reserve", "license.unreserve"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
  }
}

TEST_F(OperatorServiceTest, OperatorRehostMovesLicensesToTheNewUdi) {
  Seed(Standard());
  TestDevice old = MakeDevice("OLD");
  RegisterOrDie(old, NewToken());
  ASSERT_OK(Authorize(old.Identity(), {{"fw", 2}}));
  auto rehosted =
      operators().RehostDevice(old.registration.instance_id(), "C9300-24T:NEW", Oscar().actor());
  ASSERT_OK(rehosted);
  EXPECT_EQ(rehosted->udi(), "C9300-24T:NEW");
  EXPECT_FALSE(devices().Identify(old.Certificate()).ok());
  EXPECT_EQ(InUse("east", "fw"), 2);
  TestDevice replacement = MakeDevice("NEW");
  RegisterOrDie(replacement, NewToken());
  EXPECT_EQ(replacement.registration.replaced_instance_id(), old.registration.instance_id());
  auto self = devices().Self(replacement.Identity());
  ASSERT_OK(self);
  ASSERT_EQ(self->holdings_size(), 1);
  EXPECT_EQ(self->holdings(0).count(), 2);
}

TEST_F(OperatorServiceTest, BadOperatorInputsChangeNothing) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  const std::string before = DbState();
  const BookState book_before = service_->Snapshot();

  auto release = operators().ReleaseDevice("no-such-instance", Root().actor());
  EXPECT_EQ(release.status().code(), Errc::kNotFound);
  v1::MoveLicensesRequest move;
  move.set_from_va("east");
  move.set_to_va("west");
  move.set_tag("fw");
  move.set_count(5);  // east has 2, one in use
  auto moved = operators().MoveLicenses(move, Root().actor());
  EXPECT_EQ(moved.status().code(), Errc::kFailedPrecondition) << moved.status().ToString();
  move.set_to_va("east");
  EXPECT_EQ(operators().MoveLicenses(move, Root().actor()).status().code(), Errc::kInvalidArgument);
  move.set_to_va("west");
  move.set_count(-3);
  EXPECT_EQ(operators().MoveLicenses(move, Root().actor()).status().code(), Errc::kInvalidArgument);
  v1::ReservationRequest reserve;
  reserve.set_va("east");
  reserve.set_tag("fw");
  reserve.set_count(2);  // one is in use: only one is free in the ENFORCED pool
  reserve.set_udi("C9300-24T:SN9");
  EXPECT_EQ(operators().Reserve(reserve, Root().actor()).status().code(),
            Errc::kFailedPrecondition);
  reserve.set_udi("no-colon");
  EXPECT_EQ(operators().Reserve(reserve, Root().actor()).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(operators().RehostDevice("no-such-instance", "P:S", Root().actor()).status().code(),
            Errc::kNotFound);
  EXPECT_EQ(DbState(), before);
  EXPECT_EQ(service_->Snapshot(), book_before);
}

// The facade takes the caller as an audit::Actor (the routes convert their principal): every
// change is recorded with exactly that actor, and a move keeps it as its creator.
TEST_F(OperatorServiceTest, ChangesAreAuditedWithTheActorPassedIn) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  const audit::Actor by("apikey", "k-42", "oscar");
  v1::MoveLicensesRequest move;
  move.set_from_va("west");
  move.set_to_va("east");
  move.set_tag("fw");
  move.set_count(1);
  ASSERT_OK(operators().MoveLicenses(move, by));
  v1::ReservationRequest reserve;
  reserve.set_va("east");
  reserve.set_tag("fw");
  reserve.set_count(1);
  reserve.set_udi("C9300-24T:VIP");
  ASSERT_OK(operators().Reserve(reserve, by));
  ASSERT_OK(operators().Unreserve(reserve, by));
  ASSERT_OK(operators().ReleaseDevice(d.registration.instance_id(), by));
  for (const char* action :
       {"license.move", "license.reserve", "license.unreserve", "device.release"}) {
    const auto rows = AuditRowsWithAction(action);
    ASSERT_EQ(rows.size(), 1u) << action;
    EXPECT_EQ(rows[0].actor, by.ToString()) << action;
  }
  auto moves = operators().Moves();
  ASSERT_OK(moves);
  ASSERT_EQ(moves->moves_size(), 1);
  EXPECT_EQ(moves->moves(0).created_by(), "apikey:k-42 (oscar)");
}

}  // namespace
}  // namespace outpost::server::licensing
