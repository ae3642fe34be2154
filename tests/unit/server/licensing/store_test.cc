// Loading the licensing state from the database (LoadLicensingState): the device and consumption
// tables read one after the other, or at the same time on two connections as start-up does, give
// the same registry and the same book as the rows say; rows the book cannot have written are
// refused either way.

#include "server/licensing/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing {
namespace {

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override { NewDatabase("outpost.db"); }

  // A new empty database named `name` replaces the current one.
  void NewDatabase(const std::string& name) {
    readers_.reset();
    writer_.reset();
    ids_.clear();
    devices_.clear();
    path_ = dir_ / name;
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer = sqlite::Writer::Create(path_, options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(writer).value();
    auto readers = sqlite::ReaderPool::Create(path_);
    ASSERT_OK(readers);
    readers_ = std::move(readers).value();
  }

  // `n` devices as varied as the registry packs them: UUIDs and other instance ids, short and
  // long UDIs, hex and other certificate serials, two VAs, and 0 to 3 grants each.
  void Populate(int n) {
    ASSERT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      const TimePoint now = clock_.Now();
      OUTPOST_RETURN_IF_ERROR(UpsertEntitlements(
          db, {MakeEntitlement("e1", "east", "fw", 100000, now, Enforcement::kEnforced),
               MakeEntitlement("e2", "west", "fw", 10, now),
               MakeEntitlement("e3", "east", "dna", 5, now)}));
      OUTPOST_RETURN_IF_ERROR(PersistReservation(db, {"east", "fw", MakeUdi("SN-r"), 3}));
      for (int i = 0; i < n; ++i) {
        DeviceRecord d;
        char uuid[40];
        std::snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", 7919 * i, i);
        d.instance_id = i % 5 == 0 ? "dev-" + std::to_string(i) : uuid;
        d.va = i % 3 == 0 ? "west" : "east";
        d.udi = i % 7 == 0 ? Udi{std::string(40, 'P'), "S" + std::to_string(i)}
                           : Udi{"C9300-" + std::to_string(i % 4), "FOC" + std::to_string(i)};
        d.token_id = "t";
        d.export_allowed = i % 2 == 0;
        d.cert_serial = i % 11 == 0 ? "" : i % 13 == 0 ? "NOT-HEX" : "0abc" + std::to_string(i);
        d.cert_not_after = now + std::chrono::hours(i);
        d.registered_at = now;
        OUTPOST_RETURN_IF_ERROR(InsertDevice(db, d));
        ConsumptionDelta delta;
        delta.instance_id = d.instance_id;
        const char* tags[] = {"dna", "fw", "lease"};
        for (int t = 0; t < i % 4; ++t) {
          delta.changes.push_back({tags[t], 0, 1 + (i + t) % 3, now + std::chrono::minutes(i + t)});
        }
        OUTPOST_RETURN_IF_ERROR(PersistDelta(db, delta));
        ids_.push_back(d.instance_id);
        devices_.push_back(d);
      }
      return Status::Ok();
    }));
  }

  // Loads into a new registry and `book`, in parallel or not.
  Status Load(bool parallel, DeviceRegistry& registry, PoolBook& book) {
    OUTPOST_ASSIGN_OR_RETURN(auto second, readers_->Acquire());
    return writer_->Run([&](sqlite::Connection& db) -> Status {
      PoolBook::Restorer restorer(book);
      OUTPOST_RETURN_IF_ERROR(
          LoadLicensingState(db, parallel ? &*second : nullptr, registry, restorer).status());
      return restorer.Finish(clock_.Now());
    });
  }

  // Changes the database behind the writer's back, as a hand edit would (foreign keys off).
  void HandEdit(const std::string& sql) {
    auto db = sqlite::Connection::Open(path_);
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("PRAGMA foreign_keys=OFF"));
    ASSERT_OK(db->Exec(sql));
  }

  BookState Stored() {
    BookState stored;
    EXPECT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(stored, LoadBookState(db));
      return Status::Ok();
    }));
    return stored;
  }

  testing::TempDir dir_;
  std::filesystem::path path_;
  testing::FakeClock clock_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<sqlite::ReaderPool> readers_;
  std::vector<std::string> ids_;
  std::vector<DeviceRecord> devices_;
};

TEST_F(LoadTest, InParallelGivesWhatOneAfterTheOtherGives) {
  Populate(3000);
  DeviceRegistry one_by_one_registry, parallel_registry;
  PoolBook one_by_one, parallel;
  ASSERT_OK(Load(false, one_by_one_registry, one_by_one));
  ASSERT_OK(Load(true, parallel_registry, parallel));

  const BookState stored = Stored();
  EXPECT_EQ(stored.consumption.size(), 4500u);  // 0+1+2+3 grants per 4 devices
  EXPECT_EQ(one_by_one.Snapshot(), stored);
  EXPECT_EQ(parallel.Snapshot(), stored);
  EXPECT_EQ(parallel.Compliance(clock_.Now()), one_by_one.Compliance(clock_.Now()));

  for (const DeviceRegistry* registry : {&one_by_one_registry, &parallel_registry}) {
    EXPECT_EQ(registry->size(), devices_.size());
    for (const DeviceRecord& d : devices_) {
      SCOPED_TRACE(d.instance_id);
      const std::optional<RegisteredDevice> found = registry->Find(d.instance_id);
      ASSERT_TRUE(found.has_value());
      EXPECT_EQ(*found, (RegisteredDevice{d.instance_id, d.va, d.udi, d.export_allowed,
                                          d.cert_serial, d.cert_not_after}));
      EXPECT_EQ(registry->FindByUdi(d.udi), d.instance_id);
      EXPECT_EQ(registry->FindByVaSerial(d.va, d.udi.serial), d.instance_id);
    }
    bool more = false;
    std::vector<std::string> sorted = ids_;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(registry->SortedIds(std::nullopt, sorted.size(), &more), sorted);
  }
  EXPECT_EQ(parallel_registry.CountByVa(), one_by_one_registry.CountByVa());
}

TEST_F(LoadTest, RowsOfUnregisteredInstancesAreSkippedEitherWay) {
  Populate(20);
  HandEdit(
      "INSERT INTO consumption(instance_id, tag, count, valid_until) VALUES ('ghost', 'fw', 5, 0)");
  for (bool parallel : {false, true}) {
    SCOPED_TRACE(parallel);
    DeviceRegistry registry;
    PoolBook book;
    ASSERT_OK(Load(parallel, registry, book));
    EXPECT_EQ(book.Snapshot(), Stored());  // the join drops the ghost too
    EXPECT_TRUE(book.DeviceConsumption("ghost").empty());
  }
}

TEST_F(LoadTest, ImpossibleRowsAreRefusedEitherWay) {
  struct Case {
    std::string name;
    std::string edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"count out of range", "UPDATE consumption SET count = 2000000 WHERE tag = 'fw'",
       "between 1 and"},
      {"bad tag", "UPDATE consumption SET tag = 'no tag!' WHERE tag = 'dna'", "license tag"},
      {"bad VA", "UPDATE devices SET va = 'no va!' WHERE va = 'east'", "virtual account name"},
      {"bad UDI", "UPDATE devices SET pid = 'C9300 24T' WHERE pid = 'C9300-1'", "UDI product id"},
      {"bad instance id",
       "PRAGMA defer_foreign_keys=ON; UPDATE consumption SET instance_id = 'dev 5' WHERE "
       "instance_id = 'dev-5'; UPDATE devices SET instance_id = 'dev 5' WHERE instance_id = "
       "'dev-5'",
       "instance id"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NewDatabase("case-" + std::to_string(++n) + ".db");
    Populate(20);
    HandEdit(c.edit);
    for (bool parallel : {false, true}) {
      SCOPED_TRACE(parallel);
      DeviceRegistry registry;
      PoolBook book;
      const Status s = Load(parallel, registry, book);
      EXPECT_EQ(s.code(), Errc::kDataLoss) << s.ToString();
      EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
      EXPECT_TRUE(book.Snapshot().consumption.empty()) << "the book is replaced only when whole";
    }
  }
}

}  // namespace
}  // namespace outpost::server::licensing
