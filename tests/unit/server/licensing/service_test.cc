// LicensingService (what the satellite runs) over a temporary database with the real migrations
// and the fake clock: sweeps, restart consistency, last-seen flushes, reloads after a failed
// write, and clock rollback.

#include "server/licensing/service.h"

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

TEST_F(LicensingServiceTest, SweepReleasesExpiredLeasesAndAuthorizations) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  auto answer = Authorize(d.Identity(), {{"lease", 1}, {"fw", 1}});
  ASSERT_OK(answer);
  EXPECT_EQ(StatusOf(*answer, "lease"), "AUTHORIZED");
  EXPECT_EQ(answer->authorization().valid_until(),
            ToUnixSeconds(clock_.Now()) + 15 * 60);  // the floating lease is the earliest

  clock_.Advance(std::chrono::minutes(14));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(InUse("east", "lease"), 1);
  clock_.Advance(std::chrono::minutes(2));
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(InUse("east", "lease"), 0);  // lease gone
  EXPECT_EQ(InUse("east", "fw"), 1);     // device-counted: 90 days
  EXPECT_EQ(QueryInt("SELECT count(*) FROM consumption"), 1);
  clock_.Advance(91 * kDay);
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(InUse("east", "fw"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM consumption"), 0);
  // The device stays registered; renewing takes the license again.
  auto renewed = Authorize(d.Identity(), {{"fw", 1}});
  ASSERT_OK(renewed);
  EXPECT_EQ(InUse("east", "fw"), 1);
  int sweeps = 0;
  for (const auto& row : AuditRows()) sweeps += row.action == "license.sweep";
  EXPECT_EQ(sweeps, 2);
  // Hourly usage samples were closed and stored on the way.
  EXPECT_GT(QueryInt("SELECT count(*) FROM usage_samples"), 0);
}

TEST_F(LicensingServiceTest, RestartRebuildsWhatWasAcknowledged) {
  Seed(Standard());
  std::vector<TestDevice> devices;
  const std::string token = NewToken();
  for (int i = 0; i < 5; ++i) {
    devices.push_back(MakeDevice("SN" + std::to_string(i)));
    RegisterOrDie(devices.back(), token);
    ASSERT_OK(Authorize(devices.back().Identity(), {{"fw", 1}, {"dna", 1}}));
  }
  ASSERT_OK(operators().ReleaseDevice(devices[0].registration.instance_id(), Oscar().actor()));
  // The satellite sweeps once more when it stops; that writes the devices' last-seen times.
  ASSERT_OK(service_->Sweep(/*final=*/true));
  const BookState before = service_->Snapshot();
  const auto listing = operators().Devices(std::nullopt, 100);
  OpenService();
  EXPECT_EQ(service_->Snapshot(), before);
  EXPECT_EQ(operators().Devices(std::nullopt, 100).SerializeAsString(),
            listing.SerializeAsString());
  // Certificates keep working across the restart; the released one does not.
  EXPECT_OK(service_->devices().Identify(devices[1].Certificate()));
  EXPECT_FALSE(service_->devices().Identify(devices[0].Certificate()).ok());
  EXPECT_EQ(service_->reloads(), 0u);
}

TEST_F(LicensingServiceTest, LastSeenIsNotedInMemoryAndWrittenOncePerFlushInterval) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  const std::string id = d.registration.instance_id();
  auto stored = [&]() -> int64_t {
    int64_t at = -2;
    EXPECT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(
          at, db.QueryInt64("SELECT coalesce(last_seen_at, -1) FROM devices WHERE instance_id = ?",
                            id));
      return Status::Ok();
    }));
    return at;
  };
  auto listed = [&]() -> int64_t {
    const v1::ListDevicesResponse listing = operators().Devices(std::nullopt, 10);
    for (const v1::Device& device : listing.devices()) {
      if (device.instance_id() == id) return device.last_seen_at();
    }
    return -3;
  };
  ASSERT_OK(service_->Sweep());  // the first sweep writes what was noted (nothing yet)
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  const int64_t renewed_at = ToUnixSeconds(clock_.Now());
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(listed(), renewed_at) << "listings read it from memory";
  EXPECT_NE(stored(), renewed_at) << "not written before the flush interval";

  clock_.Advance(options_.last_seen_flush_interval);
  ASSERT_OK(service_->Sweep());
  EXPECT_EQ(stored(), renewed_at);
  EXPECT_EQ(listed(), renewed_at);

  // The final sweep writes at once.
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  ASSERT_OK(service_->Sweep(/*final=*/true));
  EXPECT_EQ(stored(), ToUnixSeconds(clock_.Now()));
}

TEST_F(LicensingServiceTest, FailedWriteReloadsStateFromTheDatabase) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  // The disk refuses rows of one tag: the unit fails after the book decided.
  ASSERT_OK(writer_->Run([](sqlite::Connection& db) {
    return db.Exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON consumption WHEN NEW.tag = 'dna' "
        "BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  }));
  auto failed = Authorize(d.Identity(), {{"fw", 2}, {"dna", 1}});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("disk says no"), std::string::npos);
  // The next unit reloads: memory equals the database (fw 1, no dna) again.
  auto next = Authorize(d.Identity(), {{"fw", 1}});
  ASSERT_OK(next);
  EXPECT_EQ(service_->reloads(), 1u);
  EXPECT_EQ(InUse("east", "fw"), 1);
  EXPECT_EQ(InUse("east", "dna"), 0);
  BookState stored;
  ASSERT_OK(writer_->Run([&stored](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(stored, LoadBookState(db));
    return Status::Ok();
  }));
  EXPECT_EQ(service_->Snapshot(), stored);
}

TEST_F(LicensingServiceTest, ClockRollbackIsAuditedAndCannotExtendLicenses) {
  Entitlement ending = MakeEntitlement("e1", "east", "trial", 5, clock_.Now());
  ending.end = clock_.Now() + std::chrono::minutes(5);
  Seed({ending});
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  auto before = Authorize(d.Identity(), {{"trial", 1}});
  ASSERT_OK(before);
  EXPECT_EQ(StatusOf(*before, "trial"), "AUTHORIZED");
  clock_.Advance(std::chrono::minutes(10));  // the entitlement ended...
  ASSERT_OK(service_->Sweep());
  clock_.Advance(-std::chrono::hours(1));  // ...and someone sets the clock back an hour
  ASSERT_OK(service_->Sweep());
  EXPECT_TRUE(service_->InClockRollback());
  auto after = Authorize(d.Identity(), {{"trial", 1}});
  ASSERT_OK(after);
  EXPECT_EQ(StatusOf(*after, "trial"), "NOT_ENTITLED");  // decided on the high-water time
  int alarms = 0;
  for (const auto& row : AuditRows()) {
    alarms += row.action == "alarm.clock_rollback" &&
              row.details.find("CLOCK_ROLLBACK") != std::string::npos;
  }
  EXPECT_EQ(alarms, 1);
  ASSERT_OK(service_->Sweep());  // the same episode is not reported twice
  alarms = 0;
  for (const auto& row : AuditRows()) alarms += row.action == "alarm.clock_rollback";
  EXPECT_EQ(alarms, 1);
}

}  // namespace
}  // namespace outpost::server::licensing
