// The book rebuilt from what the writer persisted equals the book that produced it.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

const std::string kFw = "regid.2026-01.com.example.fw.base";
const std::string kSeat = "regid.2026-01.com.example.seat";

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Entitlement seats =
        MakeEntitlement("e2", "default", kSeat, 3, clock_.Now(), Enforcement::kEnforced);
    seats.floating = true;
    ASSERT_OK(book_.ReplaceEntitlements(
        {MakeEntitlement("e1", "default", kFw, 10, clock_.Now(), Enforcement::kEnforced), seats,
         MakeEntitlement("e3", "lab", kFw, 4, clock_.Now())}));
  }
  void Auth(const DeviceRef& device, std::vector<TagRequest> requests) {
    auto d = book_.Authorize(device, requests, clock_.Now());
    ASSERT_OK(d);
    table_.Apply(d->delta);
  }
  // What the writer would have stored: entitlements and reservations as set, consumption from
  // the deltas only.
  BookState Persisted() {
    BookState state = book_.Snapshot();
    state.consumption = table_.Rows();
    return state;
  }

  testing::FakeClock clock_;
  PoolBook book_;
  FakeConsumptionTable table_;
};

TEST_F(RestoreTest, BookRebuiltFromPersistedDeltasEqualsTheOriginal) {
  ASSERT_OK(book_.AddReservation({"default", kFw, MakeUdi("SN-r"), 2}, clock_.Now()));
  Auth(MakeDevice("a"), {{kFw, 3}, {kSeat, 1}});
  Auth(MakeDevice("b"), {{kFw, 2}});
  Auth(MakeDevice("c", "lab"), {{kFw, 6}});  // out of compliance, recorded
  Auth(MakeDevice("d"), {{kFw, 9}});         // denied, nothing recorded
  clock_.Advance(10min);
  Auth(MakeDevice("a"), {{kFw, 1}});  // drops the seat, renews fw
  Auth(MakeDevice("e"), {{kSeat, 2}});
  clock_.Advance(20min);
  table_.Apply(book_.Sweep(clock_.Now()));  // e's lease ends
  auto released = book_.Release("b", clock_.Now());
  ASSERT_OK(released);
  table_.Apply(*released);
  auto rehosted = book_.Rehost("a", "a2", MakeUdi("SN-a2"));
  ASSERT_OK(rehosted);
  table_.Apply(*rehosted);
  ASSERT_OK(book_.ApplyMove("default", "lab", kFw, 2, clock_.Now()));

  PoolBook rebuilt;
  ASSERT_OK(rebuilt.Restore(Persisted(), clock_.Now()));
  EXPECT_EQ(rebuilt.Snapshot(), book_.Snapshot());
  EXPECT_EQ(rebuilt.Compliance(clock_.Now()), book_.Compliance(clock_.Now()));

  // Both books go on to decide the same way.
  for (PoolBook* b : {&book_, &rebuilt}) {
    auto d = b->Authorize(MakeDevice("f"), {{kFw, 6}}, clock_.Now());
    ASSERT_OK(d);
    EXPECT_EQ(d->tags[0].status, TagStatus::kDenied);
    d = b->Authorize(MakeDevice("f"), {{kFw, 5}}, clock_.Now());
    ASSERT_OK(d);
    EXPECT_EQ(d->tags[0].status, TagStatus::kAuthorized);
    clock_.Advance(90 * kDay);
    EXPECT_EQ(b->Sweep(clock_.Now()).size(), 3u);  // a2, c and f
    clock_.Advance(-90 * kDay);
  }
  EXPECT_EQ(rebuilt.Snapshot(), book_.Snapshot());
}

TEST_F(RestoreTest, RestoreKeepsExpiredGrantsForTheNextSweep) {
  Auth(MakeDevice("a"), {{kSeat, 1}});
  clock_.Advance(1h);
  PoolBook rebuilt;
  ASSERT_OK(rebuilt.Restore(Persisted(), clock_.Now()));
  EXPECT_EQ(InUse(rebuilt, clock_.Now(), "default", kSeat), 1);
  EXPECT_EQ(rebuilt.Sweep(clock_.Now()).size(), 1u);
  EXPECT_EQ(InUse(rebuilt, clock_.Now(), "default", kSeat), 0);
}

TEST_F(RestoreTest, CorruptRowsAreRefusedAndChangeNothing) {
  Auth(MakeDevice("a"), {{kFw, 3}});
  const BookState good = Persisted();
  const BookState before = book_.Snapshot();
  const auto row = [&](std::string instance, std::string serial, std::string tag, int64_t count) {
    return ConsumptionRow{std::move(instance), "default", MakeUdi(std::move(serial)),
                          std::move(tag),      count,     clock_.Now() + kDay};
  };
  struct Case {
    std::string name;
    BookState state;
    std::string message;
  };
  std::vector<Case> cases;
  const auto with = [&](std::string name, std::string message, auto change) {
    BookState s = good;
    change(s);
    cases.push_back({std::move(name), std::move(s), std::move(message)});
  };
  with("zero count", "is 0", [&](BookState& s) { s.consumption.push_back(row("b", "b", kFw, 0)); });
  with("tag twice", "twice",
       [&](BookState& s) { s.consumption.push_back(row("a", "SN-a", kFw, 1)); });
  with("two UDIs", "another virtual account or UDI",
       [&](BookState& s) { s.consumption.push_back(row("a", "other", kSeat, 1)); });
  with("shared UDI", "held by two instances",
       [&](BookState& s) { s.consumption.push_back(row("b", "SN-a", kSeat, 1)); });
  with("bad tag", "license tag",
       [&](BookState& s) { s.consumption.push_back(row("b", "b", "", 1)); });
  with("duplicate entitlement", "appears twice",
       [&](BookState& s) { s.entitlements.push_back(s.entitlements.front()); });
  with("bad reservation", "reserved count", [&](BookState& s) {
    s.reservations.push_back({"default", kFw, MakeUdi("r"), 0});
  });
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = book_.Restore(c.state, clock_.Now());
    EXPECT_EQ(s.code(), Errc::kDataLoss);
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
    EXPECT_EQ(book_.Snapshot(), before);
  }
  ASSERT_OK(book_.Restore(good, clock_.Now()));
  EXPECT_EQ(book_.Snapshot(), before);
}

}  // namespace
}  // namespace outpost::server::licensing
