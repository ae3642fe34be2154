// The book rebuilt from what the writer persisted equals the book that produced it.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/licensing/core/pools.h"
#include "server/licensing/core/restorer.h"
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

// Start-up's way (LoadLicensingState): the consumption rows alone, then each instance's VA and UDI.
class GrantsThenIdentitiesTest : public RestoreTest {
 protected:
  // Feeds `state` to a restorer of `book` as start-up does; the identities come from the rows
  // unless `identities` replaces them.
  Status RestoreInTwoSteps(PoolBook& book, const BookState& state,
                           std::optional<std::map<std::string, Udi>> identities = std::nullopt,
                           std::string va = "default") {
    PoolBook::Restorer restorer(book);
    for (const Entitlement& e : state.entitlements) {
      OUTPOST_RETURN_IF_ERROR(restorer.AddEntitlement(e));
    }
    for (const Reservation& r : state.reservations) {
      OUTPOST_RETURN_IF_ERROR(restorer.AddReservation(r));
    }
    std::map<std::string, std::pair<std::string, Udi>> known;
    for (const ConsumptionRow& row : state.consumption) {
      OUTPOST_RETURN_IF_ERROR(
          restorer.AddGrant(row.instance_id, row.tag, row.count, row.valid_until));
      known[row.instance_id] = {row.va, row.udi};
    }
    if (identities) {
      known.clear();
      for (const auto& [id, udi] : *identities) known[id] = {va, udi};
    }
    std::vector<std::string> asked;
    OUTPOST_RETURN_IF_ERROR(restorer.AttachIdentities(
        [&](std::string_view id) -> std::optional<PoolBook::Restorer::Identity> {
          asked.emplace_back(id);
          auto it = known.find(std::string(id));
          if (it == known.end()) return std::nullopt;
          return PoolBook::Restorer::Identity{it->second.first, it->second.second.pid,
                                              it->second.second.serial};
        }));
    // Once per instance.
    EXPECT_EQ(std::set<std::string>(asked.begin(), asked.end()).size(), asked.size());
    return restorer.Finish(clock_.Now());
  }

  void Populate() {
    ASSERT_OK(book_.AddReservation({"default", kFw, MakeUdi("SN-r"), 2}, clock_.Now()));
    Auth(MakeDevice("a"), {{kFw, 3}, {kSeat, 1}});
    Auth(MakeDevice("b"), {{kFw, 2}});
    Auth(MakeDevice("c", "lab"), {{kFw, 6}});  // out of compliance, recorded
    Auth(MakeDevice("0f1e2d3c-4b5a-4697-8877-66554433aabb"), {{kSeat, 1}});
  }
};

TEST_F(GrantsThenIdentitiesTest, GivesTheBookThatRowsWithIdentitiesGive) {
  Populate();
  PoolBook whole;
  ASSERT_OK(whole.Restore(Persisted(), clock_.Now()));
  PoolBook in_two_steps;
  ASSERT_OK(RestoreInTwoSteps(in_two_steps, Persisted()));
  EXPECT_EQ(in_two_steps.Snapshot(), whole.Snapshot());
  EXPECT_EQ(in_two_steps.Snapshot(), book_.Snapshot());
  EXPECT_EQ(in_two_steps.Compliance(clock_.Now()), book_.Compliance(clock_.Now()));
  // And decides the same way from there: reservations, UDIs and expiry included.
  for (PoolBook* b : {&book_, &in_two_steps}) {
    auto d = b->Authorize(MakeDevice("f"), {{kFw, 4}}, clock_.Now());
    ASSERT_OK(d);
    EXPECT_EQ(d->tags[0].status, TagStatus::kDenied);  // 10 - 5 in use - 2 reserved
    auto other = b->Authorize(MakeDevice("g", "default"), {{kSeat, 1}}, clock_.Now());
    ASSERT_OK(other);
    EXPECT_FALSE(b->Authorize(DeviceRef{"h", "default", MakeUdi("SN-a"), false}, {{kFw, 1}},
                              clock_.Now())
                     .ok());  // a's UDI is taken
    clock_.Advance(90 * kDay);
    EXPECT_EQ(b->Sweep(clock_.Now()).size(), 5u);
    clock_.Advance(-90 * kDay);
  }
  EXPECT_EQ(in_two_steps.Snapshot(), book_.Snapshot());
}

TEST_F(GrantsThenIdentitiesTest, RowsOfUnknownInstancesAreLeftOut) {
  Populate();
  PoolBook rebuilt;
  // Only "a" and "c" are registered: b's rows are skipped, as the join of LoadBookState does.
  ASSERT_OK(
      RestoreInTwoSteps(rebuilt, Persisted(), std::map<std::string, Udi>{{"a", MakeUdi("SN-a")}}));
  BookState expected = Persisted();
  std::erase_if(expected.consumption, [](const ConsumptionRow& r) { return r.instance_id != "a"; });
  EXPECT_EQ(rebuilt.Snapshot(), expected);
  EXPECT_EQ(InUse(rebuilt, clock_.Now(), "default", kFw), 3);
  EXPECT_EQ(InUse(rebuilt, clock_.Now(), "lab", kFw), 0);
}

TEST_F(GrantsThenIdentitiesTest, CorruptRowsAndIdentitiesAreRefusedAndChangeNothing) {
  Populate();
  const BookState good = Persisted();
  const BookState before = book_.Snapshot();
  const auto row = [&](std::string instance, std::string tag, int64_t count) {
    return ConsumptionRow{std::move(instance), "default", MakeUdi("x"),
                          std::move(tag),      count,     clock_.Now() + kDay};
  };
  const auto expect_refused = [&](const std::string& name, Status s, const std::string& message) {
    SCOPED_TRACE(name);
    EXPECT_EQ(s.code(), Errc::kDataLoss);
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
    EXPECT_EQ(book_.Snapshot(), before);
  };
  const auto with_row = [&](ConsumptionRow extra) {
    BookState s = good;
    s.consumption.push_back(std::move(extra));
    return s;
  };
  expect_refused("zero count", RestoreInTwoSteps(book_, with_row(row("z", kFw, 0))), "is 0");
  expect_refused("tag twice", RestoreInTwoSteps(book_, with_row(row("a", kFw, 1))), "twice");
  expect_refused("bad tag", RestoreInTwoSteps(book_, with_row(row("z", "", 1))), "license tag");
  expect_refused("bad instance id", RestoreInTwoSteps(book_, with_row(row("z z", kFw, 1))),
                 "instance id");
  std::map<std::string, Udi> shared = {{"a", MakeUdi("same")}, {"b", MakeUdi("same")}};
  expect_refused("shared UDI", RestoreInTwoSteps(book_, good, shared), "held by two instances");
  std::map<std::string, Udi> bad_udi = {{"a", Udi{"C9300 24T", "SN-a"}}};
  expect_refused("bad UDI", RestoreInTwoSteps(book_, good, bad_udi), "UDI product id");
  std::map<std::string, Udi> fine = {{"a", MakeUdi("SN-a")}};
  expect_refused("bad VA", RestoreInTwoSteps(book_, good, fine, "no such va!"), "virtual account");
  ASSERT_OK(RestoreInTwoSteps(book_, good));
  EXPECT_EQ(book_.Snapshot(), before);
}

TEST_F(GrantsThenIdentitiesTest, TheTwoWaysDoNotMix) {
  Populate();
  const BookState good = Persisted();
  const BookState before = book_.Snapshot();
  {
    PoolBook::Restorer restorer(book_);
    ASSERT_OK(restorer.AddGrant("a", kFw, 1, clock_.Now()));
    const ConsumptionRow& r = good.consumption.front();
    EXPECT_EQ(restorer
                  .AddConsumption(r.instance_id, r.va, r.udi.pid, r.udi.serial, r.tag, r.count,
                                  r.valid_until)
                  .code(),
              Errc::kFailedPrecondition);
    // Without the identities the book cannot be finished.
    EXPECT_EQ(restorer.Finish(clock_.Now()).code(), Errc::kFailedPrecondition);
  }
  {
    PoolBook::Restorer restorer(book_);
    const ConsumptionRow& r = good.consumption.front();
    ASSERT_OK(restorer.AddConsumption(r.instance_id, r.va, r.udi.pid, r.udi.serial, r.tag, r.count,
                                      r.valid_until));
    EXPECT_EQ(restorer.AddGrant("b", kFw, 1, clock_.Now()).code(), Errc::kFailedPrecondition);
  }
  EXPECT_EQ(book_.Snapshot(), before);
}

}  // namespace
}  // namespace outpost::server::licensing
