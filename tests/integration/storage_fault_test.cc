// The satellite when its disk fills up or fails writes (issue 14, I/O faults), in-process, with
// the faulty VFS (tests/testing/faulty_vfs.h) under every connection: writes are answered 503
// with Retry-After and a reason, /readyz names the fault, nothing acknowledged is lost, and the
// satellite serves again by itself once writes succeed.

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "common/config/config_file.h"
#include "common/crypto/keys.h"
#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/devices.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/satellite.h"
#include "tests/testing/faulty_vfs.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

using testing::FaultyVfs;

std::map<std::string, std::string> Bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class StorageFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = &FaultyVfs::Install();
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "warn"));
    InitOptions options;
    options.data_dir = dir();
    options.scrypt_log2_n = 10;
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:0"));
    auto report = InitDataDir(options, clock_);
    ASSERT_OK(report);
    api_key_ = report->admin_api_key;
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    ASSERT_OK(key);
    public_key_pem_ = key->public_key().ToPem();
    ASSERT_NO_FATAL_FAILURE(Start());
    v1::CreateTokenRequest req;
    req.set_va("default");
    v1::CreateTokenResponse created;
    ASSERT_OK(http_->Call("POST", "/v1/admin/tokens", req, &created, Bearer(api_key_)));
    token_ = created.token();
  }

  void TearDown() override {
    vfs_->Heal();
    Stop();
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "info"));
  }

  std::filesystem::path dir() const { return tmp_.path() / "sat"; }

  void Start() {
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    auto sat = Satellite::Open(dir(), *c, clock_);
    ASSERT_OK(sat);
    satellite_ = std::move(*sat);
    ASSERT_OK(satellite_->Start());
    net::ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(satellite_->port());
    o.ca_pem = testing::ReadFileOrDie(DataDir(dir()).ca_certificate());
    o.timeout = std::chrono::seconds(20);
    auto client = net::HttpsClient::Create(o);
    ASSERT_OK(client);
    http_ = std::move(*client);
  }

  void Stop() {
    http_.reset();
    if (satellite_) satellite_->Shutdown();
    satellite_.reset();
  }

  // Faults only this test's data directory.
  void Arm(FaultyVfs::Fault fault) { vfs_->Arm(fault, dir().string()); }

  net::ClientResponse Register(const std::string& serial) {
    v1::RegisterRequest req;
    req.set_token(token_);
    req.set_pid("IOFAULT");
    req.set_serial(serial);
    req.set_hostname("h-" + serial);
    req.set_public_key_pem(public_key_pem_);
    auto answer = http_->Send("POST", "/v1/devices/register", ToJson(req), "application/json");
    EXPECT_OK(answer);
    return answer.ok() ? *answer : net::ClientResponse{};
  }

  // (HTTP status, the storage check's text) of GET /readyz.
  std::pair<int, std::string> Readiness() {
    auto answer = http_->Send("GET", "/readyz");
    EXPECT_OK(answer);
    if (!answer.ok()) return {0, ""};
    v1::HealthResponse health;
    EXPECT_OK(FromJson(answer->body, &health));
    EXPECT_EQ(health.checks().count("storage"), 1u) << answer->body;
    EXPECT_EQ(health.checks().at("database"), "ok") << "reads still work: " << answer->body;
    return {answer->status, health.checks().at("storage")};
  }

  std::string Metrics() {
    auto answer = http_->Send("GET", "/metrics", "", "", Bearer(api_key_));
    EXPECT_OK(answer);
    return answer.ok() ? answer->body : "";
  }

  std::set<std::string> DeviceIds() {
    v1::ListDevicesResponse list;
    EXPECT_OK(
        http_->Call("GET", "/v1/admin/devices?limit=1000", v1::Empty(), &list, Bearer(api_key_)));
    std::set<std::string> ids;
    for (const auto& d : list.devices()) ids.insert(d.instance_id());
    return ids;
  }

  static std::string InstanceId(const net::ClientResponse& answer) {
    v1::RegisterResponse registered;
    EXPECT_OK(FromJson(answer.body, &registered));
    return registered.instance_id();
  }

  testing::TempDir tmp_;
  SystemClock clock_;
  FaultyVfs* vfs_ = nullptr;
  std::string api_key_;
  std::string token_;
  std::string public_key_pem_;
  std::unique_ptr<Satellite> satellite_;
  std::unique_ptr<net::HttpsClient> http_;
};

TEST_F(StorageFaultTest, FullDiskIsAnsweredWith503AndReadinessAndServiceComeBackByThemselves) {
  std::set<std::string> acknowledged;
  for (const char* serial : {"A1", "A2"}) {
    net::ClientResponse ok = Register(serial);
    ASSERT_EQ(ok.status, 200) << ok.body;
    acknowledged.insert(InstanceId(ok));
  }
  EXPECT_EQ(Readiness(), (std::pair<int, std::string>{200, "ok"}));
  EXPECT_TRUE(Contains(Metrics(), "outpost_alarm_storage 0"));

  Arm(FaultyVfs::Fault::kDiskFull);
  const uint64_t injected = vfs_->injected();
  for (const char* serial : {"F1", "F2", "F3"}) {
    net::ClientResponse refused = Register(serial);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.headers["retry-after"], "5");
    v1::ErrorResponse error;
    ASSERT_OK(FromJson(refused.body, &error));
    EXPECT_EQ(error.error().reason(), "unavailable");
    for (const char* part : {"the database disk is full", "free space on the file system holding",
                             "service resumes by itself"}) {
      EXPECT_TRUE(Contains(error.error().message(), part)) << part << "\n" << refused.body;
    }
  }
  EXPECT_GT(vfs_->injected(), injected);
  auto [status, storage] = Readiness();
  EXPECT_EQ(status, 503);
  EXPECT_TRUE(Contains(storage, "database writes have failed for")) << storage;
  EXPECT_TRUE(Contains(storage, "free on " + dir().string())) << storage;
  EXPECT_TRUE(Contains(storage, "the database disk is full")) << storage;
  const std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "outpost_alarm_storage 1")) << metrics;
  EXPECT_FALSE(Contains(metrics, "outpost_db_writer_storage_errors_total 0")) << metrics;

  // Space returns. No request writes, yet readiness clears: the idle writer's probe (every
  // second) finds that writes succeed. Bounded wait.
  vfs_->Heal();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Readiness().first != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Readiness(), (std::pair<int, std::string>{200, "ok"}));
  EXPECT_TRUE(Contains(Metrics(), "outpost_alarm_storage 0"));
  net::ClientResponse again = Register("B1");
  ASSERT_EQ(again.status, 200) << again.body;
  acknowledged.insert(InstanceId(again));
  EXPECT_EQ(DeviceIds(), acknowledged);

  // Everything acknowledged survives a restart; nothing refused appears.
  Stop();
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(DeviceIds(), acknowledged);
}

TEST_F(StorageFaultTest, IoErrorsAreAnswered503NotAsAnInternalError) {
  Arm(FaultyVfs::Fault::kIoError);
  net::ClientResponse refused = Register("E1");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "5");
  EXPECT_TRUE(Contains(refused.body, "the database disk failed a write")) << refused.body;
  EXPECT_TRUE(Contains(Readiness().second, "disk I/O error"));
  vfs_->Heal();
  net::ClientResponse ok = Register("E2");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Readiness(), (std::pair<int, std::string>{200, "ok"}));
  EXPECT_EQ(DeviceIds(), (std::set<std::string>{InstanceId(ok)}));
}

}  // namespace
}  // namespace outpost::server
