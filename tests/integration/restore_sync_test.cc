// A satellite restored from an older backup syncs with central again (docs/operations.md, "What
// a restore means for sync"): central accepts the restore once and restarts the satellite's
// sequence from the backup; usage the copy that ran on already reported counts once; the copy
// that was replaced, and responses made for it, are refused.

#include "server/backup/backup.h"
#include "tests/integration/sync_world.h"

namespace outpost::sync_testing {
namespace {

constexpr char kPassphrase[] = "restore drill passphrase";

class RestoreSyncTest : public SyncE2eTest {
 protected:
  void Backup(const Sat& s, const std::filesystem::path& file) {
    server::backup::BackupOptions o;
    o.kdf = {1 << 10, 8, 1};
    o.clock = &clock_;
    ASSERT_OK(server::backup::CreateBackup(DataDir(s.dir), file, kPassphrase, o).status());
  }

  // Restores `file` into a new directory and serves it with the same admin credentials.
  std::unique_ptr<Sat> RestoreAndServe(const Sat& from, const std::filesystem::path& file,
                                       const std::string& name, std::string* restore_id) {
    server::backup::RestoreOptions o;
    o.clock = &clock_;
    o.newest_schema_version = 99;
    auto restored = server::backup::RestoreBackup(file, DataDir(tmp_ / name), kPassphrase, o);
    EXPECT_TRUE(restored.ok()) << restored.status().ToString();
    if (!restored.ok()) return nullptr;
    *restore_id = restored->restore_id();
    auto s = std::make_unique<Sat>();
    s->dir = tmp_ / name;
    s->report = from.report;
    RestartSatellite(*s);
    return s;
  }

  // How many usage reports central holds for `hour` of (va, tag) from satellite `id`.
  int CentralSamples(const std::string& id, const std::string& va, const std::string& tag,
                     int64_t hour) {
    auto db = sqlite::Connection::Open(central::CentralDataDir(tmp_ / "central").database());
    EXPECT_OK(db.status());
    auto stmt =
        db->Query("SELECT report FROM usage_reports WHERE satellite_id = ? AND va = ? AND tag = ?",
                  id, va, tag);
    EXPECT_OK(stmt.status());
    int count = 0;
    while (true) {
      auto row = (*stmt)->Step();
      if (!row.ok() || !*row) break;
      v1::UsageReport r;
      EXPECT_TRUE(r.ParseFromString((*stmt)->ColumnBlob(0)));
      for (const auto& sample : r.samples()) count += sample.hour_start() == hour ? 1 : 0;
    }
    return count;
  }
};

TEST_F(RestoreSyncTest, ARestoredSatelliteSyncsAgainWithoutReplayingOrLosingUsage) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  const std::string id = a_->report.satellite_id;
  RoundTrip(*a_);  // request 1: the seeded hours

  // Usage of the current hour, not reported yet when the backup is taken.
  const int64_t now = ToUnixSeconds(clock_.Now());
  const int64_t hour = now - now % 3600;
  {
    auto db = sqlite::Connection::Open(DataDir(a_->dir).database());
    ASSERT_OK(db);
    ASSERT_OK(db->ExecPrepared("INSERT INTO usage_samples(va, tag, hour, max_in_use) VALUES "
                               "('default', 'fw.base', ?, 4) ON CONFLICT(va, tag, hour) DO "
                               "UPDATE SET max_in_use = 4",
                               hour)
                  .status());
  }
  const auto file = tmp_ / "sat-a.bak";
  Backup(*a_, file);  // while serving

  // The satellite runs on after the backup: request 2 reports that hour.
  clock_.Advance(std::chrono::hours(1));
  const std::string lost_response = RoundTrip(*a_);
  EXPECT_EQ(CentralSamples(id, "default", "fw.base", hour), 1);
  const std::string stale_request = a_->Export();  // request 3 of the copy about to be replaced
  a_->client.reset();
  a_->satellite.reset();

  // The disk fails; the operator restores the backup on new hardware.
  std::string restore_id;
  b_ = RestoreAndServe(*a_, file, "sat-a-restored", &restore_id);
  ASSERT_TRUE(b_);
  EXPECT_EQ(b_->Audit("backup.restore").size(), 1u);
  EXPECT_EQ(b_->Status().last_request_sequence(), 1);

  // A response made for the replaced copy is refused and changes nothing.
  const std::string before = Snapshot(*b_);
  net::ClientResponse refused = b_->Import(lost_response);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("was made before this satellite was restored"), std::string::npos)
      << refused.body;
  EXPECT_EQ(Snapshot(*b_), before);

  // The restored satellite's next request restarts after the backup's last one and says why.
  const std::string request = b_->Export();
  const v1::SyncRequest parsed = ParseRequest(request);
  EXPECT_EQ(parsed.sequence(), 2);
  EXPECT_EQ(parsed.restore().restore_id(), restore_id);
  EXPECT_EQ(parsed.restore().backup_last_request_sequence(), 1);
  // The hour the backup had not reported is closed again (central counts it once, below).
  bool reports_hour = false;
  for (const auto& r : parsed.usage_reports()) {
    for (const auto& sample : r.samples()) {
      reports_hour |= r.va() == "default" && r.tag() == "fw.base" && sample.hour_start() == hour;
    }
  }
  EXPECT_TRUE(reports_hour);
  central::SyncOutcome outcome;
  const std::string response = Process(request, &outcome);
  ASSERT_FALSE(response.empty());
  EXPECT_EQ(outcome.summary.restore_accepted(), restore_id);
  const v1::SyncImportResult imported = b_->ImportOk(response);
  EXPECT_EQ(imported.entitlements(), 5);
  EXPECT_EQ(b_->Status().pending_usage_reports(), 0);
  // The hour counts once at central, although both copies reported it.
  EXPECT_EQ(CentralSamples(id, "default", "fw.base", hour), 1);

  // The replaced copy's request is refused from now on, with what to do.
  auto stale = central_->ProcessSyncRequest(stale_request);
  EXPECT_EQ(stale.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("comes from before the satellite was restored"),
            std::string::npos)
      << stale.status().ToString();

  // Later syncs are ordinary: the same request again gets the stored answer, a new one goes on.
  auto resent = central_->ProcessSyncRequest(request);
  ASSERT_OK(resent);
  EXPECT_TRUE(resent->summary.resent());
  clock_.Advance(std::chrono::hours(1));
  central::SyncOutcome next;
  const std::string request3 = b_->Export();
  EXPECT_EQ(ParseRequest(request3).sequence(), 3);
  b_->ImportOk(Process(request3, &next));
  EXPECT_EQ(next.summary.restore_accepted(), "");
  EXPECT_EQ(b_->Status().last_response_number(), 4);
  EXPECT_EQ(b_->Status().audit_alarm(), "");
}

TEST_F(RestoreSyncTest, OnlyTheSatelliteRestoredLastMaySync) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  const auto file = tmp_ / "sat-a.bak";
  Backup(*a_, file);
  a_->client.reset();
  a_->satellite.reset();

  std::string first_id, second_id;
  auto first = RestoreAndServe(*a_, file, "first", &first_id);
  ASSERT_TRUE(first);
  RoundTrip(*first);
  first->client.reset();
  first->satellite.reset();
  b_ = RestoreAndServe(*a_, file, "second", &second_id);
  ASSERT_TRUE(b_);
  ASSERT_NE(first_id, second_id);
  RoundTrip(*b_);

  // The first restore's line of history is over: its requests are refused, naming the restore.
  RestartSatellite(*first);
  auto late = central_->ProcessSyncRequest(first->Export());
  EXPECT_EQ(late.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(late.status().message().find("which a later restore"), std::string::npos)
      << late.status().ToString();
}

}  // namespace
}  // namespace outpost::sync_testing
