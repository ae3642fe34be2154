// The registry and the book's devices as bytes (state_codec.h) come back exactly, and bytes that
// are not what was written are refused, never read past their end.

#include "server/licensing/core/state_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "server/licensing/core/registry.h"
#include "server/licensing/core/restorer.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

std::vector<RegisteredDevice> Devices() {
  const TimePoint t = TimePoint(std::chrono::seconds(1'800'000'000));
  return {
      {"0f1e2d3c-4b5a-4697-8877-66554433aabb", "default", {"C9300-24T", "FOC1"}, true, "0abc", t},
      {"dev-1", "lab", {std::string(40, 'P'), "S2"}, false, "", t + std::chrono::hours(1)},
      {"dev-2", "lab", {"C9300-24T", "FOC3"}, false, "NOT-HEX", t},
      {"1f1e2d3c-4b5a-4697-8877-66554433aabb",
       "default",
       {"C9500", std::string(64, 's')},
       true,
       std::string(40, 'f'),
       t},
  };
}

std::string Saved(const DeviceRegistry& registry) {
  StateWriter w;
  registry.SaveTo(w);
  return std::string(w.bytes());
}

TEST(RegistryStateTest, ComesBackExactly) {
  DeviceRegistry registry;
  for (const RegisteredDevice& d : Devices()) registry.Put(d);
  registry.Put({"gone", "default", {"C9300-24T", "GONE"}, false, "01", TimePoint()});
  ASSERT_TRUE(registry.Remove("gone"));  // a free slot is not saved

  DeviceRegistry loaded;
  const std::string bytes = Saved(registry);
  StateReader r(bytes);
  ASSERT_TRUE(loaded.LoadFrom(r));
  EXPECT_EQ(r.left(), 0u);
  EXPECT_EQ(loaded.size(), Devices().size());
  for (const RegisteredDevice& d : Devices()) {
    SCOPED_TRACE(d.instance_id);
    EXPECT_EQ(loaded.Find(d.instance_id), d);
    EXPECT_EQ(loaded.FindByUdi(d.udi), d.instance_id);
    EXPECT_EQ(loaded.FindByVaSerial(d.va, d.udi.serial), d.instance_id);
  }
  EXPECT_FALSE(loaded.Contains("gone"));
  EXPECT_EQ(loaded.CountByVa(), registry.CountByVa());
  bool more = false;
  EXPECT_EQ(loaded.SortedIds(std::nullopt, 10, &more), registry.SortedIds(std::nullopt, 10, &more));
  // It goes on like the original.
  loaded.Put({"dev-9", "lab", {"C9300-24T", "FOC9"}, false, "09", TimePoint()});
  EXPECT_EQ(loaded.FindByUdi(Udi{"C9300-24T", "FOC9"}), "dev-9");
}

TEST(RegistryStateTest, CutOrRepeatedBytesAreRefused) {
  DeviceRegistry registry;
  for (const RegisteredDevice& d : Devices()) registry.Put(d);
  const std::string bytes = Saved(registry);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    DeviceRegistry loaded;
    StateReader r(std::string_view(bytes).substr(0, cut));
    EXPECT_FALSE(loaded.LoadFrom(r)) << "cut at " << cut;
  }
  // The last device twice: its instance id (and UDI) would name two slots.
  std::string twice = bytes + bytes.substr(bytes.size() - 86);
  uint64_t count = 0;
  const size_t count_at = bytes.size() - 4 * 86 - sizeof count;
  std::memcpy(&count, twice.data() + count_at, sizeof count);
  ASSERT_EQ(count, 4u);
  ++count;
  std::memcpy(twice.data() + count_at, &count, sizeof count);
  DeviceRegistry loaded;
  StateReader r(twice);
  EXPECT_FALSE(loaded.LoadFrom(r));
}

class BookStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(book_.ReplaceEntitlements(
        {MakeEntitlement("e1", "default", "fw", 10, clock_.Now(), Enforcement::kEnforced),
         MakeEntitlement("e2", "lab", "fw", 2, clock_.Now()),
         MakeEntitlement("e3", "default", "dna", 5, clock_.Now())}));
    ASSERT_OK(book_.AddReservation({"default", "fw", MakeUdi("SN-r"), 2}, clock_.Now()));
    for (const char* id : {"a", "0f1e2d3c-4b5a-4697-8877-66554433aabb", "c"}) {
      ASSERT_OK(book_.Authorize(MakeDevice(id), {{"fw", 2}, {"dna", 1}}, clock_.Now()));
    }
    ASSERT_OK(book_.Authorize(MakeDevice("d", "lab"), {{"fw", 3}}, clock_.Now()));  // over
    ASSERT_OK(book_.Release("c", clock_.Now()));
    StateWriter w;
    book_.SaveDevices(w);
    bytes_ = std::string(w.bytes());
  }

  // A book from the saved devices and book_'s entitlements and reservations.
  Status Rebuild(PoolBook& book, std::string_view bytes) {
    PoolBook::Restorer restorer(book);
    const BookState state = book_.Snapshot();
    for (const Entitlement& e : state.entitlements) {
      OUTPOST_RETURN_IF_ERROR(restorer.AddEntitlement(e));
    }
    for (const Reservation& r : state.reservations) {
      OUTPOST_RETURN_IF_ERROR(restorer.AddReservation(r));
    }
    StateReader r(bytes);
    OUTPOST_RETURN_IF_ERROR(restorer.AddSavedDevices(r));
    if (r.left() != 0) return DataLoss("bytes left over");
    return restorer.Finish(clock_.Now());
  }

  testing::FakeClock clock_;
  PoolBook book_;
  std::string bytes_;
};

TEST_F(BookStateTest, ComesBackExactly) {
  PoolBook rebuilt;
  ASSERT_OK(Rebuild(rebuilt, bytes_));
  EXPECT_EQ(rebuilt.Snapshot(), book_.Snapshot());
  EXPECT_EQ(rebuilt.Compliance(clock_.Now()), book_.Compliance(clock_.Now()));
  for (PoolBook* b : {&book_, &rebuilt}) {
    auto taken =
        b->Authorize(DeviceRef{"e", "default", MakeUdi("SN-a"), false}, {{"fw", 1}}, clock_.Now());
    EXPECT_EQ(taken.status().code(), Errc::kFailedPrecondition);  // a's UDI
    auto denied = b->Authorize(MakeDevice("f"), {{"fw", 5}}, clock_.Now());
    ASSERT_OK(denied);
    EXPECT_EQ(denied->tags[0].status, TagStatus::kDenied);  // 10 - 4 in use - 2 reserved
    clock_.Advance(100 * kDay);
    EXPECT_EQ(b->Sweep(clock_.Now()).size(), 3u);
    clock_.Advance(-100 * kDay);
  }
}

TEST_F(BookStateTest, CutBytesAreRefusedAndChangeNothing) {
  PoolBook rebuilt;
  ASSERT_OK(rebuilt.ReplaceEntitlements({MakeEntitlement("x", "lab", "x", 1, clock_.Now())}));
  const BookState before = rebuilt.Snapshot();
  for (size_t cut = 0; cut < bytes_.size(); ++cut) {
    const Status s = Rebuild(rebuilt, std::string_view(bytes_).substr(0, cut));
    EXPECT_EQ(s.code(), Errc::kDataLoss) << "cut at " << cut;
    EXPECT_EQ(rebuilt.Snapshot(), before);
  }
}

// What a start after a crash does: the saved devices, then each instance changed since the save
// dropped and its rows now added back, gives the book as it is now (counts, pools, and no pool
// left behind by a dropped device).
TEST_F(BookStateTest, ChangedInstancesDroppedAndReAddedGiveTheCurrentBook) {
  const std::string changed_id = "0f1e2d3c-4b5a-4697-8877-66554433aabb";
  ASSERT_OK(book_.Release("a", clock_.Now()));
  ASSERT_OK(book_.Authorize(MakeDevice(changed_id), {{"fw", 1}}, clock_.Now()));
  ASSERT_OK(book_.Authorize(MakeDevice("g", "lab"), {{"fw", 1}}, clock_.Now()));
  const BookState now = book_.Snapshot();

  PoolBook rebuilt;
  PoolBook::Restorer restorer(rebuilt);
  for (const Entitlement& e : now.entitlements) ASSERT_OK(restorer.AddEntitlement(e));
  for (const Reservation& r : now.reservations) ASSERT_OK(restorer.AddReservation(r));
  StateReader r(bytes_);
  ASSERT_OK(restorer.AddSavedDevices(r));
  const std::vector<std::string> changed = {"a", changed_id, "g", "never-registered"};
  for (const std::string& id : changed) restorer.DropDevice(id);
  for (const std::string& id : changed) {
    for (const ConsumptionRow& row : now.consumption) {
      if (row.instance_id != id) continue;
      ASSERT_OK(restorer.AddConsumption(row.instance_id, row.va, row.udi.pid, row.udi.serial,
                                        row.tag, row.count, row.valid_until));
    }
  }
  ASSERT_OK(restorer.Finish(clock_.Now()));
  EXPECT_EQ(rebuilt.Snapshot(), now);
  EXPECT_EQ(rebuilt.Compliance(clock_.Now()), book_.Compliance(clock_.Now()));

  // Without the drop the saved grants of "a" would still count: the check above can fail.
  PoolBook stale;
  PoolBook::Restorer kept(stale);
  for (const Entitlement& e : now.entitlements) ASSERT_OK(kept.AddEntitlement(e));
  StateReader again(bytes_);
  ASSERT_OK(kept.AddSavedDevices(again));
  ASSERT_OK(kept.Finish(clock_.Now()));
  EXPECT_NE(stale.Snapshot().consumption, now.consumption);
}

TEST(StateChecksumTest, NoticesEveryFlippedBit) {
  std::string bytes(301, 'x');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  const uint64_t sum = StateChecksum::Of(bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = bytes;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      EXPECT_NE(StateChecksum::Of(changed), sum) << i << ":" << bit;
    }
  }
  EXPECT_NE(StateChecksum::Of(bytes + '\0'), sum);
}

TEST(StateChecksumTest, PiecesOfAnySizeGiveTheSameSum) {
  std::string bytes(1000, 'x');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 13);
  for (size_t piece : {1, 5, 31, 32, 33, 64, 999}) {
    StateChecksum sum;
    for (size_t at = 0; at < bytes.size(); at += piece) sum.Update(bytes.substr(at, piece));
    EXPECT_EQ(sum.Finish(), StateChecksum::Of(bytes)) << piece;
  }
}

// More than one buffer's worth, written through a sink and read back through a source that gives
// a few bytes at a time: the same devices, the same checksum.
TEST(RegistryStateTest, StreamsThroughSmallPieces) {
  DeviceRegistry registry;
  const TimePoint t = TimePoint(std::chrono::seconds(1'800'000'000));
  for (int i = 0; i < 20000; ++i) {
    registry.Put({"dev-" + std::to_string(i), "va-" + std::to_string(i % 3),
                  Udi{"C9300-24T", "FOC" + std::to_string(i)}, i % 2 == 0,
                  "0abc" + std::to_string(i), t + std::chrono::seconds(i)});
  }
  std::string file;
  StateWriter w([&](std::string_view bytes) {
    file.append(bytes);
    return true;
  });
  registry.SaveTo(w);
  ASSERT_TRUE(w.Flush());
  ASSERT_GT(file.size(), StateWriter::kChunk);
  EXPECT_EQ(w.size(), file.size());
  EXPECT_EQ(w.checksum(), StateChecksum::Of(file));
  EXPECT_EQ(file, Saved(registry));

  size_t at = 0;
  StateReader r(
      [&](char* out, size_t max) {
        const size_t n = std::min({max, size_t{7}, file.size() - at});
        std::memcpy(out, file.data() + at, n);
        at += n;
        return n;
      },
      file.size());
  DeviceRegistry loaded;
  ASSERT_TRUE(loaded.LoadFrom(r));
  EXPECT_EQ(r.left(), 0u);
  EXPECT_EQ(r.checksum(), w.checksum());
  for (int i = 0; i < 20000; i += 997) {
    EXPECT_EQ(loaded.Find("dev-" + std::to_string(i)), registry.Find("dev-" + std::to_string(i)));
  }
  EXPECT_EQ(loaded.size(), registry.size());
}

}  // namespace
}  // namespace outpost::server::licensing
