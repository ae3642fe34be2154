// End to end: the reference central (sync/central) and a real satellite (server/) in one test
// process, over loopback only. Offline round trips go through the satellite's admin API
// (/v1/admin/sync/export and /import) and Central::ProcessSyncRequest, exactly the bytes
// `outpost sync export` and `outpost central sync process` carry; online sync goes through a
// CentralServer on 127.0.0.1. Both sides share one FakeClock (started at the real time, so TLS
// certificates are valid) so that license start/end and SYNC_OVERDUE are tested without sleeping.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "common/config/config_file.h"
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
#include "sync/net/https_client.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using server::DataDir;

constexpr char kAccount[] = "acme";

// A port on 127.0.0.1 that was free a moment ago (bind to 0, read it, close).
uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

int64_t NowSeconds() { return ToUnixSeconds(std::chrono::system_clock::now()); }

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
std::string Snapshot(Sat& s) {
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
v1::SyncRequest ParseRequest(const std::string& bytes) {
  auto bundle = sync::ParseBundleBytes(bytes);
  EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
  if (!bundle.ok()) return {};
  auto payload = sync::ParseUnverifiedPayload(*bundle);
  EXPECT_TRUE(payload.ok()) << payload.status().ToString();
  return payload.ok() ? payload->sync_request() : v1::SyncRequest();
}

std::set<std::string> ReportIds(const v1::SyncRequest& r) {
  std::set<std::string> ids;
  for (const auto& u : r.usage_reports()) ids.insert(u.report_id());
  return ids;
}

struct WorldOptions {
  Duration response_validity = central::kDefaultResponseValidity;
  bool online = false;
  uint64_t max_body_bytes = 0;  // 0: the satellite's default
};

class SyncE2eTest : public ::testing::Test {
 protected:
  // Central with account acme (VAs default and lab) and its licenses; it is left open for the
  // test to process requests in-process.
  void StartCentral(const WorldOptions& o) {
    options_ = o;
    central_port_ = FreeLoopbackPort();
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

  void StartCentralServer() {
    central::CentralServerOptions so;  // listen: what central init recorded (the fixed port)
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

  // Enrols a satellite at central and runs it (`outpost init --enroll FILE`, then serve).
  std::unique_ptr<Sat> StartSatellite(const std::string& name) {
    auto s = std::make_unique<Sat>();
    s->dir = tmp_.path() / name;
    const auto enrollment_file = tmp_.path() / (name + ".enroll");
    auto enrolled = central_->EnrollSatellite(kAccount, name, enrollment_file, false, std::nullopt);
    EXPECT_TRUE(enrolled.ok()) << enrolled.status().ToString();
    if (!enrolled.ok()) return nullptr;

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
    if (options_.max_body_bytes != 0) {
      EXPECT_OK(config::ApplyOverride(init.config, "server.max_body_bytes",
                                      std::to_string(options_.max_body_bytes)));
    }
    init.enrollment_bundle = testing::ReadFileOrDie(enrollment_file);
    auto report = server::InitDataDir(init, clock_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) return nullptr;
    s->report = *report;
    EXPECT_EQ(report->satellite_id, enrolled->satellite().satellite_id());
    EXPECT_EQ(report->central_key_fingerprint, enrolled->central_key_fingerprint());
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
  testing::FakeClock clock_{FromUnixSeconds(NowSeconds())};
  WorldOptions options_;
  uint16_t central_port_ = 0;
  std::unique_ptr<central::Central> central_;
  std::unique_ptr<central::CentralServer> server_;
  std::unique_ptr<Sat> a_, b_;
};

// 1. enroll -> export -> process -> import: the satellite serves what central granted.
TEST_F(SyncE2eTest, OfflineRoundTripDeliversTheEntitlementsCentralGranted) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  v1::SyncStatus before = a_->Status();
  EXPECT_TRUE(before.enrolled());
  EXPECT_EQ(before.account_id(), kAccount);
  EXPECT_EQ(before.last_response_number(), 0);
  EXPECT_TRUE(a_->Licenses().empty());

  const std::string request = a_->Export();
  central::SyncOutcome outcome;
  const std::string response = Process(request, &outcome);
  EXPECT_TRUE(outcome.summary.key_bound());
  EXPECT_EQ(outcome.summary.response().entitlements_size(), 5);
  EXPECT_TRUE(std::filesystem::exists(DataDir(a_->dir).enrollment_secret()));
  const v1::SyncImportResult imported = a_->ImportOk(response);
  // The key is bound: the one-time secret is gone from the disk (issue 14).
  EXPECT_FALSE(std::filesystem::exists(DataDir(a_->dir).enrollment_secret()));
  EXPECT_FALSE(imported.already_imported());
  EXPECT_EQ(imported.response_number(), 1);
  EXPECT_EQ(imported.entitlements(), 5);

  auto pools = a_->Licenses();
  EXPECT_EQ(pools["default/fw.base"].purchased(), 15);  // both orders
  EXPECT_EQ(pools["default/fw.float"].purchased(), 4);
  EXPECT_TRUE(pools["default/fw.float"].floating());
  EXPECT_EQ(pools["lab/fw.crypto"].purchased(), 2);
  EXPECT_EQ(pools["lab/fw.crypto"].enforcement(), "ENFORCED");
  EXPECT_TRUE(pools["lab/fw.crypto"].export_controlled());
  // Not started yet: nothing to use.
  EXPECT_EQ(a_->Purchased("default/fw.future"), 0);
  // Central's license list and the satellite agree on the total.
  auto central_licenses = central_->ListLicenses(kAccount);
  ASSERT_OK(central_licenses);
  int64_t central_total = 0, satellite_total = 0;
  for (const auto& e : central_licenses->entitlements()) central_total += e.quantity();
  for (const auto& [k, p] : pools) satellite_total += p.purchased();
  EXPECT_EQ(central_total, satellite_total + 7);  // fw.future not counted yet

  v1::SyncStatus after = a_->Status();
  EXPECT_EQ(after.last_request_sequence(), 1);
  EXPECT_EQ(after.last_response_number(), 1);
  EXPECT_EQ(after.entitlements(), 5);
  EXPECT_FALSE(after.sync_overdue());
  EXPECT_EQ(after.pending_usage_reports(), 0);
  EXPECT_EQ(a_->Audit("sync.import").size(), 1u);

  // Start and end are the satellite's decisions, by its clock: tomorrow fw.future counts, and
  // the day after it has ended.
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(a_->Purchased("default/fw.future"), 7);
  clock_.Advance(std::chrono::hours(24));
  EXPECT_EQ(a_->Purchased("default/fw.future"), 0);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
}

// 2. Usage reaches central exactly once across a lost file and a repeated one.
TEST_F(SyncE2eTest, UsageReachesCentralExactlyOnceAcrossLostAndRepeatedFiles) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);

  const std::string lost = a_->Export(/*expect_usage_reports=*/2);  // carried... and lost
  const v1::SyncRequest lost_request = ParseRequest(lost);
  ASSERT_EQ(lost_request.usage_reports_size(), 2);
  EXPECT_EQ(a_->Status().pending_usage_reports(), 2);

  // Export again: the unacknowledged reports go again, with the same ids.
  const std::string request2 = a_->Export(2);
  const v1::SyncRequest second = ParseRequest(request2);
  EXPECT_EQ(second.sequence(), lost_request.sequence() + 1);
  EXPECT_EQ(ReportIds(second), ReportIds(lost_request));
  for (const auto& u : second.usage_reports()) {
    EXPECT_EQ(u.peak_in_use(), u.tag() == "fw.base" ? 5 : 1) << u.tag();
  }

  central::SyncOutcome first_outcome;
  const std::string response = Process(request2, &first_outcome);
  EXPECT_FALSE(first_outcome.summary.resent());
  EXPECT_EQ(first_outcome.summary.new_usage_reports(), 2);
  v1::SyncImportResult imported = a_->ImportOk(response);
  EXPECT_EQ(imported.acknowledged_usage_reports(), 2);
  EXPECT_EQ(a_->Status().pending_usage_reports(), 0);

  // The same request file processed again: central resends its stored answer byte for byte.
  central::SyncOutcome repeat_outcome;
  const std::string response_again = Process(request2, &repeat_outcome);
  EXPECT_TRUE(repeat_outcome.summary.resent());
  EXPECT_EQ(repeat_outcome.summary.new_usage_reports(), 0);
  EXPECT_EQ(response_again, response);
  const std::string before = Snapshot(*a_);
  v1::SyncImportResult again = a_->ImportOk(response_again);
  EXPECT_TRUE(again.already_imported());
  EXPECT_NE(again.message().find("already imported"), std::string::npos) << again.message();
  EXPECT_EQ(Snapshot(*a_), before);

  // The lost file turns up late: central refuses it as a replay and counts nothing.
  auto late = central_->ProcessSyncRequest(lost);
  EXPECT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("older"), std::string::npos) << late.status().ToString();

  // The next export carries no usage (all acknowledged); central's list still has each id once.
  central::SyncOutcome third;
  a_->ImportOk(Process(a_->Export(0), &third));
  EXPECT_EQ(third.summary.new_usage_reports(), 0);
  auto usage = central_->ListUsage(kAccount);
  ASSERT_OK(usage);
  std::multiset<std::string> ids;
  for (const auto& r : usage->reports()) ids.insert(r.report().report_id());
  EXPECT_EQ(ids.size(), 2u);
  for (const std::string& id : ReportIds(lost_request)) EXPECT_EQ(ids.count(id), 1u) << id;
}

// Central's signing key rotates (TUF-style): the announcement arrives in a response signed by the
// old key; the satellite pins the new key and is answered with it from then on; a satellite that
// has not synced since is still answered with the old key.
TEST_F(SyncE2eTest, CentralKeyRotationIsPinnedThroughAResponseSignedByTheOldKey) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  b_ = StartSatellite("sat-b");
  ASSERT_TRUE(a_ && b_);
  RoundTrip(*a_);
  const std::string old_key = a_->Status().central_key_id();
  auto rotation = central_->RotateSigningKey();
  ASSERT_OK(rotation);
  EXPECT_EQ(rotation->previous_key_id(), old_key);
  EXPECT_EQ(central_->RotateSigningKey().status().code(), Errc::kFailedPrecondition);

  // The next answer still comes from the old key and carries the announcement.
  central::SyncOutcome outcome;
  a_->ImportOk(Process(a_->Export(), &outcome));
  EXPECT_TRUE(outcome.summary.response().has_key_rotation());
  EXPECT_EQ(a_->Status().central_key_id(), rotation->new_key_id());
  // From now on the satellite names the new key and the answer is signed by it.
  const std::string request = a_->Export();
  auto request_bundle = sync::DecodeBundle(request);
  ASSERT_OK(request_bundle);
  auto opened = sync::ParseUnverifiedPayload(*request_bundle);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->sync_request().central_key_id(), rotation->new_key_id());
  const std::string response = Process(request, &outcome);
  EXPECT_FALSE(outcome.summary.response().has_key_rotation());
  auto response_bundle = sync::DecodeBundle(response);
  ASSERT_OK(response_bundle);
  EXPECT_EQ(response_bundle->key_id(), rotation->new_key_id());
  a_->ImportOk(response);
  // The rotation survives a restart of central; B, which never synced, still works.
  StopCentral();
  OpenCentral();
  b_->ImportOk(Process(b_->Export()));
  EXPECT_EQ(b_->Status().central_key_id(), rotation->new_key_id());
  a_->ImportOk(Process(a_->Export()));
}

// 3. An older response after a newer one: refused, clearly, and nothing changes.
TEST_F(SyncE2eTest, OlderResponseAfterANewerOneIsRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  const std::string response1 = RoundTrip(*a_);
  AddLicense("default", "fw.extra", {.quantity = 1, .start = std::nullopt});
  const std::string response2 = RoundTrip(*a_);
  EXPECT_EQ(a_->Status().last_response_number(), 2);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);

  const std::string before = Snapshot(*a_);
  const size_t refusals = a_->Audit("sync.import.refused").size();
  net::ClientResponse r = a_->Import(response1);
  EXPECT_EQ(r.status / 100, 4) << r.body;
  EXPECT_NE(r.body.find("older than the last imported response 2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("rollback refused"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);  // response 1 did not have it
  EXPECT_EQ(a_->Audit("sync.import.refused").size(), refusals + 1);
}

// 4. A response made for another satellite of the same account (signed by the same central).
TEST_F(SyncE2eTest, ResponseForAnotherSatelliteIsRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  b_ = StartSatellite("sat-b");
  ASSERT_TRUE(a_ && b_);
  b_->Export();  // so that B has exported a request 1 too
  const std::string for_a = Process(a_->Export());

  const std::string before = Snapshot(*b_);
  net::ClientResponse r = b_->Import(for_a);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("another satellite"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(a_->report.satellite_id), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*b_), before);
  EXPECT_TRUE(b_->Licenses().empty());
  EXPECT_EQ(b_->Audit("sync.import.refused").size(), 1u);
  // A accepts it.
  EXPECT_EQ(a_->ImportOk(for_a).response_number(), 1);
}

// 5. Damaged and oversized files: refused, nothing changes, each refusal audited.
TEST_F(SyncE2eTest, TamperedTruncatedAndOversizedResponsesAreRefusedAndAudited) {
  // With the default server.max_body_bytes (1 MiB): the import route takes files up to the
  // armored bundle limit, so the satellite's import code, not the HTTP layer, sees (and audits)
  // the oversized file.
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  AddLicense("default", "fw.extra", {.quantity = 1, .start = std::nullopt});
  const std::string response = Process(a_->Export());
  ASSERT_GT(response.size(), 200u);

  std::string tampered = response;
  tampered[tampered.size() / 2] ^= 0x01;
  const std::string truncated = response.substr(0, response.size() - 40);
  std::string oversized = response;
  oversized.resize(sync::kMaxBundleBytes + 1, '\0');

  const std::string before = Snapshot(*a_);
  size_t refusals = a_->Audit("sync.import.refused").size();
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, const std::string*>>{
           {"tampered", &tampered}, {"truncated", &truncated}, {"oversized", &oversized}}) {
    SCOPED_TRACE(name);
    net::ClientResponse r = a_->Import(*bytes);
    EXPECT_EQ(r.status, name == "oversized" ? 413 : r.status) << r.body;
    EXPECT_EQ(r.status / 100, 4) << r.body;
    const Status why = net::StatusFromResponse(r);
    EXPECT_FALSE(why.message().empty());
    EXPECT_EQ(Snapshot(*a_), before);
    EXPECT_EQ(a_->Purchased("default/fw.extra"), 0);
    // Offline as online, `sync status` shows the last refused import (issue 12, item 6).
    const v1::SyncStatus status = a_->Status();
    EXPECT_EQ(status.last_failed_import_error(), why.message());
    EXPECT_NE(status.last_failed_import_at(), 0);
    const auto audited = a_->Audit("sync.import.refused");
    EXPECT_EQ(audited.size(), ++refusals);
    if (!audited.empty()) {
      EXPECT_NE(audited.back().find(why.reason()), std::string::npos) << audited.back();
    }
  }
  // The genuine response still imports after all that, and clears the failure.
  EXPECT_EQ(a_->ImportOk(response).response_number(), 2);
  EXPECT_EQ(a_->Status().last_failed_import_error(), "");
  EXPECT_EQ(a_->Status().last_failed_import_at(), 0);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 1);
  EXPECT_EQ(a_->Audit("sync.import.refused").size(), refusals);
}

// 6. Online: scheduled and on-demand sync against central serve; central down is visible
// (status, metrics, audit) and sync recovers when central is back on the same URL.
TEST_F(SyncE2eTest, OnlineSyncFailsVisiblyWhileCentralIsDownAndRecovers) {
  StartCentral({.online = true});
  StartCentralServer();
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);

  // The scheduler's first attempt comes ~2 s after start.
  v1::SyncStatus st;
  for (int i = 0; i < 100 && (st = a_->Status()).last_attempt_at() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(st.mode(), "online");
  EXPECT_EQ(st.central_url(), CentralUrl());
  EXPECT_TRUE(st.last_attempt_ok()) << st.last_error();
  EXPECT_EQ(st.last_response_number(), 1);
  EXPECT_NE(st.next_attempt_at(), 0);

  v1::SyncImportResult now;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  EXPECT_EQ(now.response_number(), 2);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
  EXPECT_EQ(a_->Metric("outpost_sync_online_failures_total"), 0);

  StopCentral();
  net::ClientResponse down = a_->Send("POST", "/v1/admin/sync/now", "", "application/json");
  EXPECT_EQ(down.status / 100, 5) << down.body;
  EXPECT_NE(down.body.find(CentralUrl()), std::string::npos) << down.body;
  st = a_->Status();
  EXPECT_FALSE(st.last_attempt_ok());
  EXPECT_FALSE(st.last_error().empty());
  EXPECT_GE(st.consecutive_failures(), 1);
  EXPECT_GE(a_->Metric("outpost_sync_online_failures_total"), 1);
  EXPECT_GE(a_->Audit("sync.online.failure").size(), 1u);
  // The satellite keeps serving what it has.
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);

  // Central back, same data directory and port; it has a new license meanwhile.
  OpenCentral();
  AddLicense("default", "fw.extra", {.quantity = 3, .start = std::nullopt});
  StartCentralServer();
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/sync/now", v1::Empty(), &now, a_->Auth()));
  EXPECT_EQ(now.response_number(), 3);
  st = a_->Status();
  EXPECT_TRUE(st.last_attempt_ok());
  EXPECT_TRUE(st.last_error().empty()) << st.last_error();
  EXPECT_EQ(st.consecutive_failures(), 0);
  EXPECT_EQ(a_->Purchased("default/fw.extra"), 3);
}

// 7. SYNC_OVERDUE once the last response's valid_until has passed; cleared by the next sync.
TEST_F(SyncE2eTest, SyncOverdueWhenTheLastResponseExpires) {
  StartCentral({.response_validity = std::chrono::hours(1)});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  EXPECT_FALSE(a_->Status().sync_overdue());  // never synced: nothing expired
  RoundTrip(*a_);
  v1::SyncStatus st = a_->Status();
  EXPECT_EQ(st.valid_until(), ToUnixSeconds(clock_.Now()) + 3600);
  EXPECT_FALSE(st.sync_overdue());
  EXPECT_EQ(a_->Metric("outpost_alarm_sync_overdue"), 0);

  clock_.Advance(std::chrono::minutes(61));
  EXPECT_TRUE(a_->Status().sync_overdue());
  // The gauge and the audit record come from the sweeper (every 5 s).
  double gauge = 0;
  for (int i = 0; i < 80 && (gauge = a_->Metric("outpost_alarm_sync_overdue")) != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(gauge, 1);
  EXPECT_EQ(a_->Audit("alarm.sync_overdue").size(), 1u);
  // Still serving.
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);

  RoundTrip(*a_);
  EXPECT_FALSE(a_->Status().sync_overdue());
  EXPECT_EQ(a_->Metric("outpost_alarm_sync_overdue"), 0);
}

// 8. A traditional license key (central `pak create`) converted through an offline sync.
TEST_F(SyncE2eTest, TraditionalLicenseConvertsOnceThroughSync) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  auto pak = central_->CreatePak(kAccount, "lab", "fw.vpn", {.quantity = 3, .start = std::nullopt});
  ASSERT_OK(pak);
  ASSERT_FALSE(pak->key().empty());

  v1::ConvertRequest convert;
  convert.set_key(pak->key());
  convert.set_va("lab");
  v1::Conversion queued;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth()));
  EXPECT_EQ(queued.status(), "PENDING");
  EXPECT_EQ(a_->Status().pending_conversions(), 1);

  net::ClientResponse exported = a_->Send("POST", "/v1/admin/sync/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.headers["x-outpost-conversions"], "1");
  v1::SyncImportResult imported = a_->ImportOk(Process(exported.body));
  EXPECT_EQ(imported.conversions_converted(), 1);

  auto list = a_->Get<v1::ListConversionsResponse>("/v1/admin/conversions");
  ASSERT_EQ(list.conversions_size(), 1);
  EXPECT_EQ(list.conversions(0).id(), queued.id());
  EXPECT_EQ(list.conversions(0).status(), "CONVERTED");
  EXPECT_FALSE(list.conversions(0).entitlement_ids().empty());
  EXPECT_EQ(a_->Purchased("lab/fw.vpn"), 3);
  EXPECT_EQ(a_->Status().pending_conversions(), 0);

  // The same key again: the satellite knows it is converted...
  v1::Conversion dup;
  Status local = a_->client->Call("POST", "/v1/admin/conversions", convert, &dup, a_->Auth());
  EXPECT_EQ(local.code(), Errc::kAlreadyExists) << local.ToString();
  // ...and written differently (central ignores case), central rejects it.
  std::string lower = pak->key();
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  convert.set_key(lower);
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &dup, a_->Auth()));
  imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.conversions_rejected(), 1);
  EXPECT_EQ(imported.conversions_converted(), 0);
  list = a_->Get<v1::ListConversionsResponse>("/v1/admin/conversions");
  ASSERT_EQ(list.conversions_size(), 2);
  for (const auto& c : list.conversions()) {
    if (c.id() == dup.id()) {
      EXPECT_EQ(c.status(), "REJECTED");
      EXPECT_FALSE(c.message().empty());
    }
  }
  EXPECT_EQ(a_->Purchased("lab/fw.vpn"), 3);  // not twice
}

// A move splits a piece "<id>@<va>" off at central; every later response names it, and when the
// units move back it stays in the set with quantity 0. Both must import (issue 12, item 1).
TEST_F(SyncE2eTest, MovedLicensesSyncBothWaysAndKeepSyncing) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  const auto move = [&](const std::string& from, const std::string& to, int64_t count) {
    v1::MoveLicensesRequest m;
    m.set_from_va(from);
    m.set_to_va(to);
    m.set_tag("fw.base");
    m.set_count(count);
    v1::MoveLicensesResponse out;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/licenses/move", m, &out, a_->Auth()));
  };
  const auto central_purchased = [&](const std::string& va) {
    auto licenses = central_->ListLicenses(kAccount);
    EXPECT_TRUE(licenses.ok()) << licenses.status().ToString();
    int64_t total = 0;
    if (!licenses.ok()) return total;
    for (const auto& e : licenses->entitlements()) {
      if (e.va() == va && e.tag() == "fw.base") total += e.quantity();
    }
    return total;
  };

  move("default", "lab", 1);
  v1::SyncImportResult imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.moves_applied(), 1);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 1);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 14);
  EXPECT_EQ(central_purchased("lab"), 1);
  // A plain round trip after the move still imports.
  RoundTrip(*a_);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 1);

  // Back again: central keeps the "@lab" piece at quantity 0, which must import too.
  move("lab", "default", 1);
  imported = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(imported.moves_applied(), 1);
  EXPECT_EQ(a_->Purchased("lab/fw.base"), 0);
  EXPECT_EQ(a_->Purchased("default/fw.base"), 15);
  EXPECT_EQ(central_purchased("default"), 15);
  RoundTrip(*a_);
  EXPECT_FALSE(a_->Status().sync_overdue());
}

// Names the account does not have are refused before anything is stored; the known ones come
// from central's last response (issue 12, item 5).
TEST_F(SyncE2eTest, UnknownVirtualAccountsAreRefusedAndKnownOnesListed) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  // Before the first response only "default" is known.
  auto vas = a_->Get<v1::ListVirtualAccountsResponse>("/v1/admin/virtual-accounts");
  EXPECT_FALSE(vas.central_list_known());
  ASSERT_EQ(vas.virtual_accounts_size(), 1);
  EXPECT_EQ(vas.virtual_accounts(0).name(), "default");
  RoundTrip(*a_);
  ASSERT_OK(central_->CreateVirtualAccount(kAccount, "empty"));  // a VA without licenses
  RoundTrip(*a_);
  vas = a_->Get<v1::ListVirtualAccountsResponse>("/v1/admin/virtual-accounts");
  EXPECT_TRUE(vas.central_list_known());
  std::vector<std::string> names;
  for (const auto& v : vas.virtual_accounts()) {
    names.push_back(v.name());
    EXPECT_TRUE(v.from_central()) << v.name();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"default", "empty", "lab"}));

  const std::string before = Snapshot(*a_);
  v1::CreateTokenRequest token;
  token.set_va("nosuch");
  v1::CreateTokenResponse created;
  Status s = a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("default, empty, lab"), std::string::npos) << s.message();
  EXPECT_TRUE(a_->Get<v1::ListTokensResponse>("/v1/admin/tokens").tokens().empty());
  token.set_va("empty");
  EXPECT_OK(a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth()));

  v1::MoveLicensesRequest move;
  move.set_from_va("default");
  move.set_to_va("nowhere");
  move.set_tag("fw.base");
  move.set_count(1);
  v1::MoveLicensesResponse moved;
  s = a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("--to"), std::string::npos) << s.message();
  move.set_to_va("default");
  s = a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("--from and --to"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("from_va"), std::string::npos) << s.message();

  v1::ReservationRequest reserve;
  reserve.set_va("nowhere");
  reserve.set_tag("fw.base");
  reserve.set_count(1);
  reserve.set_udi("PID:SN");
  v1::Reservation reserved;
  s = a_->client->Call("POST", "/v1/admin/reservations", reserve, &reserved, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  v1::ConvertRequest convert;
  convert.set_key("ABCD-EFGH");
  convert.set_va("nowhere");
  v1::Conversion queued;
  s = a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth());
  EXPECT_EQ(s.code(), Errc::kNotFound) << s.ToString();
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->Licenses().count("nowhere/fw.base"), 0u);
  // A listing filtered by a VA the account does not have is a typo to point out, not an empty
  // list; a known VA without licenses lists nothing.
  for (const std::string target :
       {"/v1/admin/licenses?va=nowhere", "/v1/admin/devices?va=nowhere"}) {
    net::ClientResponse r = a_->Send("GET", target);
    EXPECT_EQ(r.status, 404) << target << ": " << r.body;
    EXPECT_NE(r.body.find("outpost va list"), std::string::npos) << r.body;
  }
  EXPECT_EQ(a_->Get<v1::ListLicensesResponse>("/v1/admin/licenses?va=empty").pools_size(), 0);
}

// `outpost moves` and the import's answer carry central's verdict with its reason.
TEST_F(SyncE2eTest, MovesAndConversionsShowCentralsVerdicts) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  v1::MoveLicensesRequest move;
  move.set_from_va("default");
  move.set_to_va("lab");
  move.set_tag("fw.base");
  move.set_count(2);
  v1::MoveLicensesResponse moved;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/licenses/move", move, &moved, a_->Auth()));
  auto moves = a_->Get<v1::ListMovesResponse>("/v1/admin/licenses/moves");
  ASSERT_EQ(moves.moves_size(), 1);
  EXPECT_EQ(moves.moves(0).status(), "PENDING");
  v1::ConvertRequest convert;
  convert.set_key("NOT-A-REAL-KEY");
  convert.set_va("lab");
  v1::Conversion queued;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/conversions", convert, &queued, a_->Auth()));

  const v1::SyncImportResult imported = a_->ImportOk(Process(a_->Export()));
  ASSERT_EQ(imported.move_results_size(), 1);
  EXPECT_EQ(imported.move_results(0).move_id(), moved.move_id());
  EXPECT_EQ(imported.move_results(0).status(), v1::MoveResult::STATUS_APPLIED);
  ASSERT_EQ(imported.conversion_results_size(), 1);
  EXPECT_EQ(imported.conversion_results(0).status(), v1::ConversionResult::STATUS_REJECTED);
  EXPECT_NE(imported.conversion_results(0).message().find("unknown license key"), std::string::npos)
      << imported.conversion_results(0).message();
  moves = a_->Get<v1::ListMovesResponse>("/v1/admin/licenses/moves");
  ASSERT_EQ(moves.moves_size(), 1);
  EXPECT_EQ(moves.moves(0).status(), "APPLIED");
  EXPECT_NE(moves.moves(0).message().find("moved 2"), std::string::npos)
      << moves.moves(0).message();
  EXPECT_NE(moves.moves(0).answered_at(), 0);
}

// Central is a witness of the audit chain (issue 14, finding 1): deleting the end of the log
// and its checkpoints passes a local `audit verify`, but the next sync finds that central holds a
// head the chain no longer has, raises a sticky alarm and records the evidence.
TEST_F(SyncE2eTest, CutOffAuditTrailIsCaughtByCentralsHeads) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  RoundTrip(*a_);
  for (int i = 0; i < 5; ++i) {
    v1::CreateTokenRequest token;
    token.set_va("default");
    v1::CreateTokenResponse created;
    ASSERT_OK(a_->client->Call("POST", "/v1/admin/tokens", token, &created, a_->Auth()));
  }
  v1::SyncImportResult second = a_->ImportOk(Process(a_->Export()));
  EXPECT_EQ(second.audit_alarm(), "");  // central's earlier head is in the chain
  EXPECT_EQ(a_->Status().audit_alarm(), "");
  const auto head = a_->Get<v1::AuditHead>("/v1/admin/audit/head");
  ASSERT_GT(head.seq(), 8);

  // Someone with file access cuts the last records and their checkpoints.
  {
    auto db = sqlite::Connection::Open(DataDir(a_->dir).database(), {});
    ASSERT_OK(db);
    const int64_t cut = head.seq() - 6;
    ASSERT_OK(db->ExecPrepared("DELETE FROM audit_checkpoints WHERE seq > ?", cut).status());
    ASSERT_OK(db->ExecPrepared("DELETE FROM audit_log WHERE seq > ?", cut).status());
  }
  v1::AuditVerifyResponse local;
  ASSERT_OK(a_->client->Call("POST", "/v1/admin/audit/verify", v1::Empty(), &local, a_->Auth()));
  EXPECT_TRUE(local.ok()) << "local verification alone cannot see a clean cut";

  v1::SyncImportResult third = a_->ImportOk(Process(a_->Export()));
  EXPECT_NE(third.audit_alarm().find("central holds audit head seq"), std::string::npos)
      << third.audit_alarm();
  EXPECT_EQ(a_->Status().audit_alarm(), third.audit_alarm());
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_witness"), 1.0);
  EXPECT_EQ(a_->Audit("audit.witness.mismatch").size(), 1u);
  // The alarm stays raised on later syncs (the chain regrows from the cut, and once it has
  // passed the old head, later heads would match it: the alarm is sticky).
  for (int i = 0; i < 3; ++i) {
    a_->ImportOk(Process(a_->Export()));
    EXPECT_NE(a_->Status().audit_alarm(), "");
  }
  EXPECT_EQ(a_->Metric("outpost_alarm_audit_witness"), 1.0);
}

// A signed response whose entitlement times the satellite's clock cannot hold (found by
// fuzzing: converting them overflowed) is refused with a message and changes nothing.
TEST_F(SyncE2eTest, EntitlementTimesBeyondTheYear9999AreRefused) {
  StartCentral({});
  a_ = StartSatellite("sat-a");
  ASSERT_TRUE(a_);
  const std::string good = Process(a_->Export());
  auto bundle = sync::ParseBundleBytes(good);
  ASSERT_OK(bundle);
  auto payload = sync::ParseUnverifiedPayload(*bundle);
  ASSERT_OK(payload);
  v1::BundlePayload changed = *payload;
  ASSERT_GT(changed.sync_response().entitlements_size(), 0);
  changed.mutable_sync_response()->mutable_entitlements(0)->set_end(
      std::numeric_limits<int64_t>::max());
  auto key =
      crypto::PrivateKey::LoadFile(central::CentralDataDir(tmp_.path() / "central").signing_key());
  ASSERT_OK(key);
  auto resigned = sync::SignBundle(changed, *key);
  ASSERT_OK(resigned);
  const std::string before = Snapshot(*a_);
  net::ClientResponse r = a_->Import(sync::SerializeBundle(*resigned));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("outside the years 1970 to 9999"), std::string::npos) << r.body;
  EXPECT_EQ(Snapshot(*a_), before);
  EXPECT_EQ(a_->ImportOk(good).response_number(), 1);  // the genuine one still imports
}

}  // namespace
}  // namespace outpost
