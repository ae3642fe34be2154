#pragma once

// The world of the sync integration tests: the reference central (sync/central) and real
// satellites (server/) in one test process, over loopback only. Offline round trips go through
// the satellite's admin API (/v1/admin/sync/export and /import) and Central::ProcessSyncRequest,
// exactly the bytes `outpost sync export` and `outpost central sync process` carry; online sync
// goes through a CentralServer on 127.0.0.1. Both sides share one FakeClock (started at the real
// time, so TLS certificates are valid) so that license start/end and SYNC_OVERDUE are tested
// without sleeping.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "common/config/config_file.h"
#include "common/net/https_client.h"
#include "common/sqlite/connection.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/bundle.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "outpost/v1/sync.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/satellite.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/central/central.h"
#include "sync/central/central_server.h"
#include "sync/central/data_dir.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::sync_testing {

using server::DataDir;

constexpr char kAccount[] = "acme";

// One satellite: its data directory, first admin and running server, seen through its API.
struct Sat {
  std::filesystem::path dir;
  server::InitReport report;
  std::unique_ptr<server::Satellite> satellite;
  std::unique_ptr<net::HttpsClient> client;

  std::map<std::string, std::string> Auth() const {
    return {{"authorization", "Bearer " + report.admin_api_key}};
  }

  net::ClientResponse Send(const std::string& method, const std::string& target,
                           const std::string& body = "", const std::string& type = "",
                           std::map<std::string, std::string> headers = {}) {
    auto h = Auth();
    h.insert(headers.begin(), headers.end());
    auto r = client->Send(method, target, body, type, h);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().ToString();
    return r.ok() ? *r : net::ClientResponse();
  }

  // POST /v1/admin/sync/export: the request bundle's bytes.
  std::string Export(int64_t expect_usage_reports = -1) {
    net::ClientResponse r = Send("POST", "/v1/admin/sync/export");
    EXPECT_EQ(r.status, 200) << r.body;
    if (expect_usage_reports >= 0) {
      EXPECT_EQ(r.headers["x-outpost-usage-reports"], std::to_string(expect_usage_reports));
    }
    return r.body;
  }

  // POST /v1/admin/sync/import; `result` is filled on success.
  net::ClientResponse Import(const std::string& bytes, v1::SyncImportResult* result = nullptr) {
    net::ClientResponse r = Send("POST", "/v1/admin/sync/import", bytes, "application/octet-stream",
                                 {{"accept", "application/x-protobuf"}});
    if (result != nullptr && r.status == 200) {
      EXPECT_TRUE(result->ParseFromString(r.body));
    }
    return r;
  }

  v1::SyncImportResult ImportOk(const std::string& bytes) {
    v1::SyncImportResult result;
    net::ClientResponse r = Import(bytes, &result);
    EXPECT_EQ(r.status, 200) << r.body;
    return result;
  }

  template <typename M>
  M Get(const std::string& target) {
    M out;
    EXPECT_OK(client->Call("GET", target, v1::Empty(), &out, Auth()));
    return out;
  }

  v1::SyncStatus Status() { return Get<v1::SyncStatus>("/v1/admin/sync/status"); }

  // Compliance pools keyed "va/tag" (computed_at left out: it changes on every call).
  std::map<std::string, v1::LicensePool> Licenses() {
    std::map<std::string, v1::LicensePool> out;
    const auto list = Get<v1::ListLicensesResponse>("/v1/admin/licenses");
    for (const auto& p : list.pools()) {
      out[p.va() + "/" + p.tag()] = p;
    }
    return out;
  }

  int64_t Purchased(const std::string& va_tag) {
    auto pools = Licenses();
    auto it = pools.find(va_tag);
    return it == pools.end() ? 0 : it->second.purchased();
  }

  // Audit records whose action is `action` (JSON lines).
  std::vector<std::string> Audit(const std::string& action) {
    net::ClientResponse r = Send("GET", "/v1/admin/audit/records?limit=10000&action=" + action);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < r.body.size()) {
      size_t end = r.body.find('\n', start);
      if (end == std::string::npos) end = r.body.size();
      std::string line = r.body.substr(start, end - start);
      if (line.find("\"" + action + "\"") != std::string::npos) lines.push_back(line);
      start = end + 1;
    }
    return lines;
  }

  // The value of an unlabelled metric in GET /metrics, or -1.
  double Metric(const std::string& name) {
    net::ClientResponse r = Send("GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    std::smatch m;
    const std::regex re("(^|\n)" + name + " ([0-9.e+]+)");
    if (!std::regex_search(r.body, m, re)) {
      ADD_FAILURE() << name << " missing from /metrics";
      return -1;
    }
    return std::stod(m[2].str());
  }
};

// Everything that must not change when a response is refused.
inline std::string Snapshot(Sat& s) {
  v1::SyncStatus status = s.Status();
  // A refusal is recorded for `sync status` (the only change it makes): compared separately.
  status.clear_last_failed_import_at();
  status.clear_last_failed_import_at_text();
  status.clear_last_failed_import_error();
  std::string out = status.SerializeAsString();
  for (const auto& [key, pool] : s.Licenses()) out += key + pool.SerializeAsString();
  return out;
}

// Parses a request bundle without verifying it (the test only reads what it carries).
inline v1::SyncRequest ParseRequest(const std::string& bytes) {
  auto bundle = sync::ParseBundleBytes(bytes);
  EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
  if (!bundle.ok()) return {};
  auto payload = sync::ParseUnverifiedPayload(*bundle);
  EXPECT_TRUE(payload.ok()) << payload.status().ToString();
  return payload.ok() ? payload->sync_request() : v1::SyncRequest();
}

inline std::set<std::string> ReportIds(const v1::SyncRequest& r) {
  std::set<std::string> ids;
  for (const auto& u : r.usage_reports()) ids.insert(u.report_id());
  return ids;
}

struct WorldOptions {
  Duration response_validity = central::kDefaultResponseValidity;
  bool online = false;
  uint64_t max_body_bytes = 0;  // 0: the satellite's default
  std::string proxy = "";       // sync.proxy of satellites started from now on
};

class SyncE2eTest : public ::testing::Test {
 protected:
  // Central with account acme (VAs default and lab) and its licenses; it is left open for the
  // test to process requests in-process.
  void StartCentral(const WorldOptions& o) {
    options_ = o;
    central_port_ = testing::FreeLoopbackPort();
    central::InitCentralOptions init;
    init.data_dir = tmp_.path() / "central";
    init.listen = "127.0.0.1:" + std::to_string(central_port_);
    init.response_validity = o.response_validity;
    ASSERT_OK(central::InitCentral(init, clock_));
    OpenCentral();
    ASSERT_OK(central_->CreateAccount(kAccount, "Acme Corp"));
    ASSERT_OK(central_->CreateVirtualAccount(kAccount, "lab"));
    const int64_t now = ToUnixSeconds(clock_.Now());
    // Two orders of the same tag add up; an ENFORCED, a FLOATING and an EXPORT-CONTROLLED one;
    // one that starts tomorrow and ends the day after.
    AddLicense("default", "fw.base", {.quantity = 10, .start = std::nullopt, .enforced = true});
    AddLicense("default", "fw.base",
               {.quantity = 5, .start = std::nullopt, .end = now + 400 * 86400});
    AddLicense("default", "fw.float", {.quantity = 4, .start = std::nullopt, .floating = true});
    AddLicense("lab", "fw.crypto",
               {.quantity = 2, .start = std::nullopt, .enforced = true, .export_controlled = true});
    AddLicense("default", "fw.future",
               {.quantity = 7, .start = now + 86400, .end = now + 2 * 86400});
  }

  void OpenCentral() {
    central::Central::Options co;
    co.synchronous = sqlite::Synchronous::kNormal;
    auto c = central::Central::Open(tmp_.path() / "central", clock_, co);
    ASSERT_OK(c);
    central_ = std::move(*c);
  }

  void StartCentralServer(central::CentralServerOptions so = {}) {
    // listen: what central init recorded (the fixed port)
    auto server = central::CentralServer::Create(*central_, so);
    ASSERT_OK(server);
    server_ = std::move(*server);
    ASSERT_OK(server_->Start());
    ASSERT_EQ(server_->port(), central_port_);
  }

  void StopCentral() {
    if (server_) server_->Shutdown();
    server_.reset();
    central_.reset();
  }

  void AddLicense(const std::string& va, const std::string& tag, central::LicenseTerms terms) {
    auto e = central_->AddLicense(kAccount, va, tag, terms);
    ASSERT_TRUE(e.ok()) << tag << ": " << e.status().ToString();
  }

  std::string CentralUrl() const { return "https://127.0.0.1:" + std::to_string(central_port_); }

  // Enrols a satellite at central and runs it (`outpost init --enroll FILE`, then serve). With
  // `enrollment`, installs that bundle instead (e.g. from `central satellite reenroll`).
  std::unique_ptr<Sat> StartSatellite(const std::string& name,
                                      std::optional<std::filesystem::path> enrollment = {}) {
    auto s = std::make_unique<Sat>();
    s->dir = tmp_.path() / name;
    const auto enrollment_file = enrollment.value_or(tmp_.path() / (name + ".enroll"));
    Result<v1::CentralEnrollment> enrolled = InvalidArgument("not enrolled here");
    if (!enrollment) {
      enrolled = central_->EnrollSatellite(kAccount, name, enrollment_file, false, std::nullopt);
      EXPECT_TRUE(enrolled.ok()) << enrolled.status().ToString();
      if (!enrolled.ok()) return nullptr;
    }

    server::InitOptions init;
    init.data_dir = s->dir;
    init.scrypt_log2_n = 10;
    EXPECT_OK(config::ApplyOverride(init.config, "listen", "127.0.0.1:0"));
    if (options_.online) {
      EXPECT_OK(config::ApplyOverride(init.config, "sync.mode", "online"));
      EXPECT_OK(config::ApplyOverride(init.config, "sync.central_url", CentralUrl()));
      EXPECT_OK(config::ApplyOverride(init.config, "sync.interval", "1h"));
      EXPECT_OK(config::ApplyOverride(init.config, "sync.jitter", "1m"));
    }
    if (!options_.proxy.empty()) {
      EXPECT_OK(config::ApplyOverride(init.config, "sync.proxy", options_.proxy));
    }
    if (options_.max_body_bytes != 0) {
      EXPECT_OK(config::ApplyOverride(init.config, "server.max_body_bytes",
                                      std::to_string(options_.max_body_bytes)));
    }
    init.enrollment_bundle = testing::ReadFileOrDie(enrollment_file);
    auto report = server::InitDataDir(init, clock_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) return nullptr;
    s->report = *report;
    if (enrolled.ok()) {
      EXPECT_EQ(report->satellite_id, enrolled->satellite().satellite_id());
      EXPECT_EQ(report->central_key_fingerprint, enrolled->central_key_fingerprint());
    }
    SeedUsage(s->dir);

    auto c = config::LoadLayeredConfig(
        DataDir(s->dir).config(), s->dir,
        [](const std::string&) { return std::optional<std::string>(); }, {});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    auto sat = server::Satellite::Open(s->dir, *c, clock_);
    EXPECT_TRUE(sat.ok()) << sat.status().ToString();
    if (!sat.ok()) return nullptr;
    s->satellite = std::move(*sat);
    EXPECT_OK(s->satellite->Start());

    net::ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(s->satellite->port());
    o.ca_pem = testing::ReadFileOrDie(DataDir(s->dir).ca_certificate());
    auto client = net::HttpsClient::Create(o);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return nullptr;
    s->client = std::move(*client);
    return s;
  }

  // Stops `s` and serves its data directory again (a new port, a new client).
  void RestartSatellite(Sat& s) {
    s.client.reset();
    s.satellite.reset();
    auto c = config::LoadLayeredConfig(
        DataDir(s.dir).config(), s.dir,
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    auto sat = server::Satellite::Open(s.dir, *c, clock_);
    ASSERT_OK(sat);
    s.satellite = std::move(*sat);
    ASSERT_OK(s.satellite->Start());
    net::ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(s.satellite->port());
    o.ca_pem = testing::ReadFileOrDie(DataDir(s.dir).ca_certificate());
    auto client = net::HttpsClient::Create(o);
    ASSERT_OK(client);
    s.client = std::move(*client);
  }

  // Consumption of the two hours before the current one, as the satellite's sampler records it
  // (usage reports are made from usage_samples by Export).
  void SeedUsage(const std::filesystem::path& dir) {
    auto db = sqlite::Connection::Open(DataDir(dir).database());
    ASSERT_OK(db);
    const int64_t now = ToUnixSeconds(clock_.Now());
    const int64_t hour = now - now % 3600;
    ASSERT_OK(db->ExecPrepared("INSERT INTO usage_samples(va, tag, hour, max_in_use) VALUES "
                               "('default', 'fw.base', ?, 3), ('default', 'fw.base', ?, 5), "
                               "('lab', 'fw.crypto', ?, 1)",
                               hour - 7200, hour - 3600, hour - 3600)
                  .status());
  }

  // Central answers a request file: the response bytes.
  std::string Process(const std::string& request, central::SyncOutcome* outcome = nullptr) {
    auto r = central_->ProcessSyncRequest(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    if (outcome != nullptr) *outcome = *r;
    return r->response_bytes;
  }

  // One full offline round trip; the response bytes.
  std::string RoundTrip(Sat& s) {
    const std::string response = Process(s.Export());
    s.ImportOk(response);
    return response;
  }

  void TearDown() override {
    for (auto* s : {&a_, &b_}) {
      if (*s && (*s)->satellite) (*s)->satellite->Shutdown();
    }
    StopCentral();
  }

  testing::TempDir tmp_;
  testing::FakeClock clock_{FromUnixSeconds(testing::UnixNow())};
  WorldOptions options_;
  uint16_t central_port_ = 0;
  std::unique_ptr<central::Central> central_;
  std::unique_ptr<central::CentralServer> server_;
  std::unique_ptr<Sat> a_, b_;
};

}  // namespace outpost::sync_testing
