// `outpost init` and the satellite served from its data directory, in-process.

#include "server/satellite.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/config/config_file.h"
#include "common/ids.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "common/sqlite/connection.h"
#include "outpost/v1/common.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/store/meta.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

namespace fs = std::filesystem;

int ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

class SatelliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions options;
    options.data_dir = tmp_.path() / "sat";
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:0"));
    auto report = InitDataDir(options, clock_);
    ASSERT_OK(report);
    report_ = *report;
  }

  fs::path dir() const { return tmp_.path() / "sat"; }

  std::unique_ptr<Satellite> Serve() {
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    auto sat = Satellite::Open(dir(), *c, clock_);
    EXPECT_TRUE(sat.ok()) << sat.status().ToString();
    EXPECT_OK((*sat)->Start());
    return std::move(*sat);
  }

  std::unique_ptr<net::HttpsClient> Client(uint16_t port) {
    net::ClientOptions o;
    o.base_url = "https://localhost:" + std::to_string(port);
    o.ca_pem = testing::ReadFileOrDie(DataDir(dir()).ca_certificate());
    auto c = net::HttpsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }

  testing::TempDir tmp_;
  testing::FakeClock clock_{std::chrono::system_clock::now()};
  InitReport report_;
};

TEST_F(SatelliteTest, InitWritesEveryFileWithSafeModes) {
  const DataDir d(dir());
  for (const fs::path& p : {d.config(), d.database(), d.ca_certificate(), d.tls_certificate(),
                            d.ca_key(), d.signing_key(), d.tls_key()}) {
    EXPECT_TRUE(fs::exists(p)) << p;
  }
  EXPECT_EQ(ModeOf(d.ca_key()), 0600);
  EXPECT_EQ(ModeOf(d.signing_key()), 0600);
  EXPECT_EQ(ModeOf(d.tls_key()), 0600);
  EXPECT_EQ(ModeOf(d.keys()), 0700);
  EXPECT_EQ(ModeOf(d.database()), 0600);  // hashes of secrets and the audit trail
  EXPECT_TRUE(IsUuid(report_.satellite_id)) << report_.satellite_id;
  // The written configuration reads back and keeps the listen address given to init.
  auto c = config::LoadConfigFile(d.config());
  ASSERT_OK(c);
  EXPECT_EQ(c->listen.ToString(), "127.0.0.1:0");
}

TEST_F(SatelliteTest, InitRefusesAnInitialisedDirectoryAndChangesNothing) {
  const DataDir d(dir());
  const std::string config_before = testing::ReadFileOrDie(d.config());
  const std::string key_before = testing::ReadFileOrDie(d.signing_key());
  InitOptions again;
  again.data_dir = dir();
  auto second = InitDataDir(again, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Errc::kAlreadyExists);
  EXPECT_NE(second.status().message().find("already initialised"), std::string::npos);
  EXPECT_EQ(testing::ReadFileOrDie(d.config()), config_before);
  EXPECT_EQ(testing::ReadFileOrDie(d.signing_key()), key_before);
}

// A step that fails late (here the admin key file, in the way as a directory) removes every file
// and directory init created, and leaves what was there before.
TEST_F(SatelliteTest, InitThatFailsLateRemovesWhatItCreated) {
  const fs::path root = tmp_.path() / "late";
  fs::create_directories(root / "admin.apikey");
  InitOptions options;
  options.data_dir = root;
  auto failed = InitDataDir(options, clock_);
  ASSERT_FALSE(failed.ok());
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(root)) left.push_back(entry.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"admin.apikey"}) << failed.status().ToString();
}

TEST_F(SatelliteTest, ServesHealthReadinessAndMetricsOverTls) {
  auto sat = Serve();
  EXPECT_EQ(sat->satellite_id(), report_.satellite_id);
  auto client = Client(sat->port());

  auto health = client->Send("GET", "/healthz");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);
  v1::HealthResponse h;
  ASSERT_OK(FromJson(health->body, &h));
  EXPECT_EQ(h.status(), "ok");

  auto ready = client->Send("GET", "/readyz");
  ASSERT_OK(ready);
  EXPECT_EQ(ready->status, 200);
  ASSERT_OK(FromJson(ready->body, &h));
  EXPECT_EQ(h.checks().at("database"), "ok");
  EXPECT_EQ(h.checks().at("keys"), "ok");

  auto metrics = client->Send("GET", "/metrics");
  ASSERT_OK(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->content_type.find("text/plain"), std::string::npos);
  for (const char* needle :
       {"outpost_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
        "outpost_http_request_duration_seconds_bucket{method=\"GET\",route=\"/readyz\"",
        "outpost_http_open_connections 1", "outpost_db_writer_queue_depth 0",
        "outpost_db_writer_last_batch_size"}) {
    EXPECT_NE(metrics->body.find(needle), std::string::npos) << needle << "\n" << metrics->body;
  }
  sat->Shutdown();
}

TEST_F(SatelliteTest, ShutdownClosesTheDatabaseCleanly) {
  auto sat = Serve();
  sat->Shutdown();
  sat.reset();
  // The last connection checkpointed the WAL and removed it.
  EXPECT_FALSE(fs::exists(DataDir(dir()).database().string() + "-wal"));
  // Nothing holds the database any more: a writer can take it and the identity is intact.
  auto db = sqlite::Connection::Open(DataDir(dir()).database(), {});
  ASSERT_OK(db);
  ASSERT_OK(db->Exec("BEGIN IMMEDIATE; COMMIT;"));
  auto id = server::store::kSatelliteMeta.Get(*db, server::store::kMetaSatelliteId);
  ASSERT_OK(id);
  EXPECT_EQ(*id, report_.satellite_id);
}

TEST_F(SatelliteTest, OpenNamesTheMissingPieceOfAnUninitialisedDirectory) {
  config::Config c;
  auto sat = Satellite::Open(tmp_.path() / "empty", c, clock_);
  ASSERT_FALSE(sat.ok());
  EXPECT_EQ(sat.status().code(), Errc::kNotFound);
  EXPECT_NE(sat.status().message().find("outpost init"), std::string::npos)
      << sat.status().message();
}

TEST_F(SatelliteTest, ServeNarrowsADatabaseReadableByOthers) {
  const DataDir d(dir());
  fs::permissions(d.database(), fs::perms::owner_read | fs::perms::owner_write |
                                    fs::perms::group_read | fs::perms::others_read);
  auto sat = Serve();
  EXPECT_EQ(ModeOf(d.database()), 0600);
  EXPECT_EQ(ModeOf(d.database().string() + "-wal"), 0600);
}

TEST_F(SatelliteTest, OpenRefusesAKeyFileReadableByOthers) {
  const DataDir d(dir());
  fs::permissions(d.signing_key(), fs::perms::owner_read | fs::perms::owner_write |
                                       fs::perms::group_read | fs::perms::others_read);
  auto c = config::LoadConfigFile(d.config());
  ASSERT_OK(c);
  c->data_dir = dir();
  auto sat = Satellite::Open(dir(), *c, clock_);
  ASSERT_FALSE(sat.ok());
  EXPECT_NE(sat.status().message().find("signing.key"), std::string::npos)
      << sat.status().message();
}

int64_t StartRecords(const fs::path& data_dir) {
  sqlite::OpenOptions options;
  options.mode = sqlite::OpenMode::kReadOnly;
  auto db = sqlite::Connection::Open(DataDir(data_dir).database(), options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return -1;
  auto n = db->QueryInt64("SELECT count(*) FROM audit_log WHERE action = 'satellite.start'");
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : -1;
}

// Two processes on one database would allocate from two in-memory pools (issue 12, item 2).
TEST_F(SatelliteTest, SecondSatelliteOnTheSameDataDirectoryIsRefusedAndRecordsNoStart) {
  auto first = Serve();
  EXPECT_EQ(StartRecords(dir()), 1);
  auto c = config::LoadConfigFile(DataDir(dir()).config());
  ASSERT_OK(c);
  c->data_dir = dir();
  auto second = Satellite::Open(dir(), *c, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("is in use by process " + std::to_string(getpid())),
            std::string::npos)
      << second.status().message();
  EXPECT_EQ(StartRecords(dir()), 1);
  // An init into the served directory is refused as well, and changes nothing.
  InitOptions again;
  again.data_dir = dir();
  EXPECT_FALSE(InitDataDir(again, clock_).ok());

  first->Shutdown();
  first.reset();
  auto third = Serve();  // the lock went with the first
  EXPECT_EQ(StartRecords(dir()), 2);
}

TEST_F(SatelliteTest, StartThatCannotListenRecordsNoStart) {
  auto first = Serve();
  InitOptions options;
  options.data_dir = tmp_.path() / "other";
  ASSERT_OK(config::ApplyOverride(options.config, "listen",
                                  "127.0.0.1:" + std::to_string(first->port())));
  ASSERT_OK(InitDataDir(options, clock_));
  auto c = config::LoadConfigFile(DataDir(options.data_dir).config());
  ASSERT_OK(c);
  c->data_dir = options.data_dir;
  auto second = Satellite::Open(options.data_dir, *c, clock_);
  ASSERT_OK(second);
  Status started = (*second)->Start();
  EXPECT_EQ(started.code(), Errc::kUnavailable) << started.ToString();
  (*second)->Shutdown();
  second->reset();
  EXPECT_EQ(StartRecords(options.data_dir), 0);
}

}  // namespace
}  // namespace outpost::server
