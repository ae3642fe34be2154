// Reloading a running satellite (POST /v1/admin/reload, `outpost reload`, SIGHUP) and the
// renewal of its TLS server certificate, against real servers on port 0.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/device_client.h"
#include "common/config/config_file.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "common/sqlite/writer.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/reload.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/licensing/store.h"
#include "server/satellite.h"
#include "server/store/schema.h"
#include "spdlog/spdlog.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/raw_tls.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;

int ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

std::map<std::string, std::string> Bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

crypto::Certificate Leaf(const std::string& pem) {
  auto chain = crypto::Certificate::ParsePemChain(pem);
  EXPECT_TRUE(chain.ok() && !chain->empty()) << pem;
  return chain->front();
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override { level_before_ = spdlog::default_logger()->level(); }
  void TearDown() override {
    if (satellite_) satellite_->Shutdown();
    spdlog::default_logger()->set_level(level_before_);
  }

  void Init() {
    InitOptions options;
    options.data_dir = dir();
    options.scrypt_log2_n = 10;
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:0"));
    auto report = InitDataDir(options, clock_);
    ASSERT_OK(report);
    report_ = *report;
  }

  void Serve() {
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    auto sat = Satellite::Open(dir(), *c, clock_);
    ASSERT_OK(sat);
    satellite_ = std::move(*sat);
    ASSERT_OK(satellite_->Start());
  }

  fs::path dir() const { return tmp_.path() / "sat"; }
  std::string SatelliteCa() const {
    return testing::ReadFileOrDie(DataDir(dir()).ca_certificate());
  }

  // A new client: every Send of a new client is a new connection and a new TLS handshake.
  std::unique_ptr<net::HttpsClient> Client(const std::string& ca_pem) {
    net::ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(satellite_->port());
    o.ca_pem = ca_pem;
    auto c = net::HttpsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(*c);
  }

  // Sets `changes` (dotted key, value) in outpost.toml, keeping the other keys.
  void EditConfig(const std::vector<std::pair<std::string, std::string>>& changes) {
    const fs::path file = DataDir(dir()).config();
    auto c = config::LoadConfigFile(file);
    ASSERT_OK(c);
    for (const auto& [key, value] : changes) ASSERT_OK(config::ApplyOverride(*c, key, value));
    testing::WriteFileOrDie(file, config::RenderConfig(*c));
  }

  // POST /v1/admin/reload as `key`.
  Result<net::ClientResponse> PostReload(const std::string& key) {
    return Client(SatelliteCa())
        ->Send("POST", "/v1/admin/reload", "{}", "application/json", Bearer(key));
  }

  std::string Metrics() {
    auto r = Client(SatelliteCa())->Send("GET", "/metrics");
    EXPECT_TRUE(r.ok() && r->status == 200);
    return r.ok() ? r->body : "";
  }

  std::string AuditRecords(const std::string& action) {
    auto r = Client(SatelliteCa())
                 ->Send("GET", "/v1/admin/audit/records?action=" + action, "", "",
                        Bearer(report_.admin_api_key));
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    return r.ok() ? r->body : "";
  }

  std::string KeyFor(const std::string& name, const std::string& role) {
    auto c = Client(SatelliteCa());
    v1::CreateUserRequest user;
    user.set_name(name);
    user.set_role(role);
    v1::User created;
    EXPECT_OK(c->Call("POST", "/v1/admin/users", user, &created, Bearer(report_.admin_api_key)));
    v1::CreateApiKeyRequest req;
    req.set_user(name);
    v1::CreateApiKeyResponse key;
    EXPECT_OK(c->Call("POST", "/v1/admin/apikeys", req, &key, Bearer(report_.admin_api_key)));
    return key.key();
  }

  // Writes an operator's certificate chain and key (not from the satellite CA) into the data
  // directory and returns the PKI.
  testing::TestPki WriteOperatorCertificate(const std::string& name) {
    testing::TestPki pki = testing::MakeTestPkiOrDie(name);
    testing::WriteFileOrDie(dir() / (name + ".pem"), pki.server_chain_pem);
    auto key = crypto::PrivateKey::FromPem(pki.server_key_pem);
    EXPECT_TRUE(key.ok());
    EXPECT_OK(key->SaveFile(DataDir(dir()).keys() / (name + ".key")));
    return pki;
  }

  testing::TempDir tmp_;
  testing::FakeClock clock_{std::chrono::system_clock::now()};
  InitReport report_;
  std::unique_ptr<Satellite> satellite_;
  spdlog::level::level_enum level_before_ = spdlog::level::info;
};

// The heart of it: a keep-alive connection opened before the reload keeps working and keeps its
// certificate; a connection opened after it gets the new certificate; the changed settings are
// in force and the restart-only ones are named.
TEST_F(ReloadTest, ReloadKeepsOpenConnectionsAndNewConnectionsGetTheNewCertificate) {
  Init();
  Serve();
  testing::RawTlsOptions o;
  o.ca_pem = SatelliteCa();
  auto old_connection = testing::RawTlsConnection::Connect(satellite_->port(), o);
  ASSERT_OK(old_connection);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_OK((*old_connection)->Write(request));
  auto first = (*old_connection)->ReadResponse();
  ASSERT_OK(first);
  EXPECT_EQ(first->status, 200);
  const std::string old_certificate = (*old_connection)->peer_certificate_pem();
  ASSERT_FALSE(old_certificate.empty());

  const testing::TestPki pki = WriteOperatorCertificate("operator");
  EditConfig({{"tls.certificate", "operator.pem"},
              {"tls.private_key", "keys/operator.key"},
              {"log.level", "debug"},
              {"sync.interval", "30m"},
              {"policy.authorization_validity", "60d"},
              {"listen", "127.0.0.1:1"},
              {"server.io_threads", "3"}});
  auto r = PostReload(report_.admin_api_key);
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::ReloadReport report;
  ASSERT_OK(FromJson(r->body, &report));
  std::set<std::string> applied, restart;
  for (const auto& c : report.applied()) applied.insert(c.key());
  for (const auto& c : report.needs_restart()) restart.insert(c.key());
  EXPECT_EQ(applied, (std::set<std::string>{"tls.certificate", "tls.private_key", "sync.interval",
                                            "policy.authorization_validity", "log.level"}));
  EXPECT_EQ(restart, (std::set<std::string>{"listen", "server.io_threads"}));
  EXPECT_TRUE(report.certificate_reloaded());
  EXPECT_FALSE(report.certificate().issued_by_satellite_ca());
  EXPECT_EQ(report.certificate().fingerprint(), Leaf(pki.server_chain_pem).Fingerprint());
  bool named = false;
  for (const auto& m : report.messages()) {
    named = named || m == "needs a restart: listen changed (\"127.0.0.1:0\" -> \"127.0.0.1:1\")";
  }
  EXPECT_TRUE(named) << r->body;
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);

  // The old connection still answers, with the certificate it was accepted with.
  ASSERT_OK((*old_connection)->Write(request));
  auto again = (*old_connection)->ReadResponse();
  ASSERT_OK(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ((*old_connection)->peer_certificate_pem(), old_certificate);

  // A new connection gets the operator's certificate: it verifies against the operator's CA
  // and no longer against the satellite CA; the listen address did not change.
  auto fresh = testing::RawTlsConnection::Connect(satellite_->port(), testing::RawTlsOptions{});
  ASSERT_OK(fresh);
  EXPECT_EQ(Leaf((*fresh)->peer_certificate_pem()), Leaf(pki.server_chain_pem));
  auto with_operator_ca = Client(pki.ca_pem)->Send("GET", "/healthz");
  ASSERT_OK(with_operator_ca);
  EXPECT_EQ(with_operator_ca->status, 200);
  EXPECT_FALSE(Client(SatelliteCa())->Send("GET", "/healthz").ok());

  // Counted and audited with who did it.
  auto metrics = Client(pki.ca_pem)->Send("GET", "/metrics");
  ASSERT_OK(metrics);
  EXPECT_TRUE(Contains(metrics->body, "outpost_config_reloads_total{result=\"ok\"} 1\n"))
      << metrics->body;
  auto audit = Client(pki.ca_pem)
                   ->Send("GET", "/v1/admin/audit/records?action=config.reload", "", "",
                          Bearer(report_.admin_api_key));
  ASSERT_OK(audit);
  EXPECT_TRUE(Contains(audit->body, "config.reload")) << audit->body;
  EXPECT_TRUE(Contains(audit->body, "(admin)")) << audit->body;
  EXPECT_TRUE(Contains(audit->body, "sync.interval")) << audit->body;
}

TEST_F(ReloadTest, SyncModeAndIntervalReloadWithoutARestart) {
  Init();
  Serve();
  auto status = [&] {
    v1::SyncStatus st;
    EXPECT_OK(Client(SatelliteCa())
                  ->Call("GET", "/v1/admin/sync/status", v1::Empty(), &st,
                         Bearer(report_.admin_api_key)));
    return st;
  };
  EXPECT_EQ(status().mode(), "offline");
  // Nothing listens on port 1 of the loopback: attempts fail at once, and never leave it.
  EditConfig({{"sync.mode", "online"}, {"sync.central_url", "https://127.0.0.1:1"}});
  ASSERT_OK(satellite_->Reload(audit::Actor::System()));
  EXPECT_EQ(status().mode(), "online");
  EXPECT_EQ(status().central_url(), "https://127.0.0.1:1");
  EditConfig({{"sync.mode", "offline"}, {"sync.interval", "2h"}});
  auto report = satellite_->Reload(audit::Actor::System());
  ASSERT_OK(report);
  EXPECT_EQ(status().mode(), "offline");
  EXPECT_EQ(status().next_attempt_at(), 0);
}

// A file that does not parse, a policy the licensing rules refuse and a key that does not match
// its certificate are each refused whole: nothing of the file takes effect, connections get the
// certificate they got before, and the refusal is counted and audited.
TEST_F(ReloadTest, AnInvalidConfigurationIsRefusedAndNothingChanges) {
  Init();
  Serve();
  const fs::path file = DataDir(dir()).config();
  const std::string good = testing::ReadFileOrDie(file);
  auto served = [&] {
    auto c = testing::RawTlsConnection::Connect(satellite_->port(), testing::RawTlsOptions{});
    EXPECT_TRUE(c.ok());
    return c.ok() ? Leaf((*c)->peer_certificate_pem()).Fingerprint() : "";
  };
  const std::string certificate_before = served();

  // Unknown key (and a change that would otherwise apply).
  auto c = config::LoadConfigFile(file);
  ASSERT_OK(c);
  ASSERT_OK(config::ApplyOverride(*c, "log.level", "debug"));
  std::string text = config::RenderConfig(*c);
  text.insert(text.find("[sync]\n") + 7, "intervall = \"1h\"\n");
  testing::WriteFileOrDie(file, text);
  auto r = PostReload(report_.admin_api_key);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(Contains(r->body, "not reloaded")) << r->body;
  EXPECT_TRUE(Contains(r->body, "stays in force")) << r->body;
  EXPECT_TRUE(Contains(r->body, "unknown key 'sync.intervall'")) << r->body;
  EXPECT_NE(spdlog::default_logger()->level(), spdlog::level::debug);

  // A floating lease longer than the authorization's validity (the licensing rule).
  testing::WriteFileOrDie(file, good);
  EditConfig({{"policy.floating_lease", "100d"}, {"log.level", "debug"}});
  r = PostReload(report_.admin_api_key);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(Contains(r->body, "floating")) << r->body;
  EXPECT_NE(spdlog::default_logger()->level(), spdlog::level::debug);

  // A key that does not belong to the certificate.
  testing::WriteFileOrDie(file, good);
  WriteOperatorCertificate("stray");
  EditConfig({{"tls.private_key", "keys/stray.key"}, {"sync.interval", "5m"}});
  r = PostReload(report_.admin_api_key);
  ASSERT_OK(r);
  EXPECT_GE(r->status, 400) << r->body;
  EXPECT_TRUE(Contains(r->body, "TLS private key")) << r->body;

  // A missing certificate file.
  testing::WriteFileOrDie(file, good);
  EditConfig({{"tls.certificate", "nowhere.pem"}});
  auto direct = satellite_->Reload(audit::Actor::System());
  ASSERT_FALSE(direct.ok());
  EXPECT_TRUE(Contains(direct.status().message(), "nowhere.pem")) << direct.status().ToString();

  EXPECT_EQ(served(), certificate_before);
  const std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "outpost_config_reloads_total{result=\"refused\"} 4\n")) << metrics;
  EXPECT_TRUE(Contains(metrics, "outpost_config_reloads_total{result=\"ok\"} 0\n")) << metrics;
  EXPECT_TRUE(Contains(AuditRecords("config.reload.refused"), "intervall"));

  // The good file reloads again, and nothing was left half applied by the refusals.
  testing::WriteFileOrDie(file, good);
  auto ok = satellite_->Reload(audit::Actor::System());
  ASSERT_OK(ok);
  EXPECT_EQ(ok->applied_size(), 0) << ToJson(*ok);
  EXPECT_FALSE(ok->certificate_reloaded());
}

TEST_F(ReloadTest, OnlyAnAdminMayReload) {
  Init();
  Serve();
  for (const char* role : {"operator", "auditor"}) {
    SCOPED_TRACE(role);
    auto r = PostReload(KeyFor(std::string(role) + "1", role));
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_TRUE(Contains(r->body, "permission_denied")) << r->body;
  }
  auto anonymous =
      Client(SatelliteCa())->Send("POST", "/v1/admin/reload", "{}", "application/json");
  ASSERT_OK(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_TRUE(Contains(Metrics(), "outpost_config_reloads_total{result=\"ok\"} 0\n"));
}

// Initialised 815 days ago, the certificate has 10 days left: the start renews it (same names,
// same key, atomically written, 0644), serves it at once and audits it.
TEST_F(ReloadTest, StartRenewsTheSatelliteCertificateWithinTheWindow) {
  const TimePoint now = std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now());
  clock_.Set(now - days(815));
  Init();
  clock_.Set(now);
  const DataDir d(dir());
  const crypto::Certificate before = Leaf(testing::ReadFileOrDie(d.tls_certificate()));
  const std::string key_before = testing::ReadFileOrDie(d.tls_key());
  ASSERT_LT(before.not_after(), now + days(11));

  Serve();
  const crypto::Certificate after = Leaf(testing::ReadFileOrDie(d.tls_certificate()));
  EXPECT_NE(after.serial_hex(), before.serial_hex());
  EXPECT_GT(after.not_after(), now + days(800));
  EXPECT_EQ(after.dns_names(), before.dns_names());
  EXPECT_EQ(after.ip_addresses(), before.ip_addresses());
  EXPECT_EQ(testing::ReadFileOrDie(d.tls_key()), key_before);
  EXPECT_EQ(ModeOf(d.tls_certificate()), 0644);
  EXPECT_EQ(ModeOf(d.tls_key()), 0600);

  testing::RawTlsOptions o;
  o.ca_pem = SatelliteCa();
  auto c = testing::RawTlsConnection::Connect(satellite_->port(), o);
  ASSERT_OK(c);
  EXPECT_EQ(Leaf((*c)->peer_certificate_pem()), after);
  const std::string records = AuditRecords("tls.certificate.renew");
  EXPECT_TRUE(Contains(records, after.serial_hex())) << records;
  EXPECT_TRUE(Contains(records, before.serial_hex())) << records;
  const std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "outpost_alarm_tls_certificate 0\n")) << metrics;
  // The fake clock stands still: exactly the 825 days of the renewed certificate.
  EXPECT_TRUE(Contains(metrics, "outpost_tls_certificate_expiry_seconds 71280000\n")) << metrics;

  // Checked again, nothing is due: the file stays.
  ASSERT_OK(satellite_->CheckTlsCertificate());
  EXPECT_EQ(Leaf(testing::ReadFileOrDie(d.tls_certificate())), after);
}

// On the housekeeping schedule: time passes (the fake clock) until the window opens, and the
// next check renews.
TEST_F(ReloadTest, HousekeepingCheckRenewsWhenTheWindowOpens) {
  Init();
  Serve();
  const DataDir d(dir());
  const crypto::Certificate first = Leaf(testing::ReadFileOrDie(d.tls_certificate()));
  ASSERT_OK(satellite_->CheckTlsCertificate());
  EXPECT_EQ(Leaf(testing::ReadFileOrDie(d.tls_certificate())), first);
  clock_.Set(first.not_after() - days(29));
  ASSERT_OK(satellite_->CheckTlsCertificate());
  const crypto::Certificate second = Leaf(testing::ReadFileOrDie(d.tls_certificate()));
  EXPECT_NE(second.serial_hex(), first.serial_hex());
  EXPECT_EQ(second.not_after(),
            std::chrono::time_point_cast<std::chrono::seconds>(clock_.Now()) + days(825));
  auto report = satellite_->Reload(audit::Actor::System());
  ASSERT_OK(report);
  EXPECT_EQ(report->certificate().serial(), second.serial_hex());
  EXPECT_TRUE(report->certificate().issued_by_satellite_ca());
}

// An operator's certificate is never replaced: near its end the satellite raises the alarm (log,
// metric, one audit record) and leaves the file alone.
TEST_F(ReloadTest, AnOperatorCertificateIsNotRenewedButRaisesTheAlarm) {
  Init();
  Serve();
  const testing::TestPki pki = WriteOperatorCertificate("operator");
  EditConfig({{"tls.certificate", "operator.pem"}, {"tls.private_key", "keys/operator.key"}});
  auto report = satellite_->Reload(audit::Actor::System());
  ASSERT_OK(report);
  ASSERT_FALSE(report->certificate().issued_by_satellite_ca());
  // The test PKI's certificate lasts a day: well within the 30-day window.
  auto check = satellite_->CheckTlsCertificate();
  ASSERT_FALSE(check.ok());
  EXPECT_TRUE(Contains(check.message(), "not issued by the satellite CA")) << check.ToString();
  EXPECT_EQ(testing::ReadFileOrDie(dir() / "operator.pem"), pki.server_chain_pem);
  (void)satellite_->CheckTlsCertificate();  // still raised: not audited twice
  auto metrics = Client(pki.ca_pem)->Send("GET", "/metrics");
  ASSERT_OK(metrics);
  EXPECT_TRUE(Contains(metrics->body, "outpost_alarm_tls_certificate 1\n")) << metrics->body;
  auto audit = Client(pki.ca_pem)
                   ->Send("GET", "/v1/admin/audit/records?action=alarm.tls_certificate", "", "",
                          Bearer(report_.admin_api_key));
  ASSERT_OK(audit);
  size_t records = 0;
  for (size_t at = 0; (at = audit->body.find("alarm.tls_certificate", at)) != std::string::npos;
       ++at) {
    ++records;
  }
  EXPECT_EQ(records, 1u) << audit->body;
}

// A plain TCP listener on 127.0.0.1 that keeps what the first client sends (a stand-in for a
// syslog collector: the forwarder's framing is tested against rsyslogd in syslog_test.cc).
class TcpSink {
 public:
  TcpSink() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      timeval tv{0, 100'000};  // reads wake up to see stop_
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char buf[4096];
      while (!stop_) {
        const ssize_t n = read(client, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
        if (n > 0) {
          std::lock_guard lock(mu_);
          received_.append(buf, static_cast<size_t>(n));
        }
      }
      close(client);
    });
  }
  ~TcpSink() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);  // ends a pending accept
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  bool WaitFor(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (received_.find(text) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string received_;
};

// [audit] reloads too: forwarding starts without a restart, and a collector CA that cannot be
// read is refused before anything changes.
TEST_F(ReloadTest, AuditForwardingStartsOnReload) {
  Init();
  Serve();
  EXPECT_FALSE(Contains(Metrics(), "outpost_audit_syslog_forwarded_total"));
  EditConfig({{"audit.syslog_url", "tls://127.0.0.1:1"}, {"audit.syslog_ca", "missing-ca.pem"}});
  auto refused = satellite_->Reload(audit::Actor::System());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.status().message(), "audit.syslog_ca"))
      << refused.status().ToString();
  EXPECT_FALSE(Contains(Metrics(), "outpost_audit_syslog_forwarded_total"));

  TcpSink sink;
  EditConfig({{"audit.syslog_url", "tcp://127.0.0.1:" + std::to_string(sink.port())},
              {"audit.syslog_ca", ""}});
  auto report = satellite_->Reload(audit::Actor::System());
  ASSERT_OK(report);
  ASSERT_EQ(report->applied_size(), 1) << ToJson(*report);
  EXPECT_EQ(report->applied(0).key(), "audit.syslog_url");
  // The reload's own record is the first one forwarded.
  EXPECT_TRUE(sink.WaitFor("config.reload"));
  EXPECT_TRUE(Contains(Metrics(), "outpost_audit_syslog_forwarded_total"));
}

// License gauges per VA and tag, read from the pools in memory, after devices registered and
// took licenses.
TEST_F(ReloadTest, MetricsCarryLicenseGaugesPerVirtualAccountAndTag) {
  Init();
  {
    auto writer =
        sqlite::Writer::Create(DataDir(dir()).database(), {}, store::SatelliteMigrations());
    ASSERT_OK(writer);
    auto entitlement = [](std::string id, std::string va, std::string tag, int64_t quantity) {
      licensing::Entitlement e;
      e.id = std::move(id);
      e.va = std::move(va);
      e.tag = std::move(tag);
      e.quantity = quantity;
      e.start = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                         std::chrono::hours(24));
      e.enforcement = licensing::Enforcement::kReported;
      return e;
    };
    const std::vector<licensing::Entitlement> entitlements = {
        entitlement("e1", "east", "regid.2026-01.com.example.fw.base", 10),
        entitlement("e2", "east", "vpn", 1), entitlement("e3", "lab", "vpn", 4)};
    ASSERT_OK((*writer)->Run(
        [&](sqlite::Connection& db) { return licensing::UpsertEntitlements(db, entitlements); }));
    (*writer)->Stop();
  }
  Serve();
  v1::CreateTokenRequest token_request;
  token_request.set_va("east");
  v1::CreateTokenResponse token;
  ASSERT_OK(
      Client(SatelliteCa())
          ->Call("POST", "/v1/admin/tokens", token_request, &token, Bearer(report_.admin_api_key)));
  for (const char* serial : {"SN1", "SN2"}) {
    client::RegisterOptions o;
    o.server_url = "https://127.0.0.1:" + std::to_string(satellite_->port());
    o.ca_pem = SatelliteCa();
    o.token = token.token();
    o.pid = "PID";
    o.serial = serial;
    o.state_dir = tmp_.path() / serial;
    client::DeviceClientOptions options;
    options.timeout = std::chrono::seconds(20);
    auto device = client::DeviceClient::Register(o, options);
    ASSERT_OK(device);
    v1::TagUse fw, vpn;
    fw.set_tag("regid.2026-01.com.example.fw.base");
    fw.set_count(3);
    vpn.set_tag("vpn");
    vpn.set_count(1);
    ASSERT_OK(device->Authorize({fw, vpn}));
  }
  const std::string metrics = Metrics();
  const std::string fw = "va=\"east\",tag=\"regid.2026-01.com.example.fw.base\"";
  for (const std::string& line : {
           "outpost_license_purchased{" + fw + "} 10\n",
           "outpost_license_in_use{" + fw + "} 6\n",
           "outpost_license_available{" + fw + "} 4\n",
           "outpost_license_status{" + fw + ",status=\"IN_COMPLIANCE\"} 1\n",
           "outpost_license_status{" + fw + ",status=\"OUT_OF_COMPLIANCE\"} 0\n",
           std::string("outpost_license_purchased{va=\"east\",tag=\"vpn\"} 1\n"),
           std::string("outpost_license_in_use{va=\"east\",tag=\"vpn\"} 2\n"),
           std::string("outpost_license_available{va=\"east\",tag=\"vpn\"} 0\n"),
           std::string(
               "outpost_license_status{va=\"east\",tag=\"vpn\",status=\"OUT_OF_COMPLIANCE\"} 1\n"),
           std::string("outpost_license_purchased{va=\"lab\",tag=\"vpn\"} 4\n"),
           std::string("outpost_license_in_use{va=\"lab\",tag=\"vpn\"} 0\n"),
           std::string("outpost_license_available{va=\"lab\",tag=\"vpn\"} 4\n"),
       }) {
    EXPECT_TRUE(Contains(metrics, line)) << "missing " << line << "in\n" << metrics;
  }
  // Exactly one status per pool is 1.
  size_t ones = 0;
  for (size_t at = 0; (at = metrics.find("outpost_license_status{", at)) != std::string::npos;
       ++at) {
    ones += metrics.compare(metrics.find('}', at) + 1, 3, " 1\n") == 0 ? 1 : 0;
  }
  EXPECT_EQ(ones, 3u) << metrics;
}

// SIGHUP to `outpost serve` and `outpost reload` against the real binary.
TEST(ReloadCliTest, SighupAndOutpostReloadReReadTheConfiguration) {
  testing::TempDir tmp;
  const std::string data_dir = (tmp.path() / "sat").string();
  auto init = testing::RunBinary(
      OUTPOST_BINARY, {"--json", "init", "--data-dir", data_dir, "--listen", "127.0.0.1:0"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const std::string log = (tmp.path() / "serve.log").string();
  testing::ServingProcess serve;
  ASSERT_TRUE(serve.Start(OUTPOST_BINARY, {"serve", "--data-dir", data_dir}, log))
      << testing::ReadFileOrDie(log);
  const fs::path file = DataDir(data_dir).config();
  auto edit = [&](const std::string& key, const std::string& value) {
    auto c = config::LoadConfigFile(file);
    ASSERT_OK(c);
    ASSERT_OK(config::ApplyOverride(*c, key, value));
    testing::WriteFileOrDie(file, config::RenderConfig(*c));
  };
  auto wait_for_log = [&](const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Contains(testing::ReadFileOrDie(log), text)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };

  edit("sync.interval", "20m");
  ASSERT_EQ(kill(serve.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_for_log("configuration reloaded by signal:SIGHUP"))
      << testing::ReadFileOrDie(log);
  EXPECT_TRUE(wait_for_log("reload applied: sync.interval changed (\"1h\" -> \"20m\")"))
      << testing::ReadFileOrDie(log);

  edit("server.max_connections", "500");
  auto reload = testing::RunBinary(OUTPOST_BINARY,
                                   {"reload", "--data-dir", data_dir, "--server", serve.url()});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_TRUE(
      Contains(reload.out, "needs a restart: server.max_connections changed (10000 -> 500)"))
      << reload.out;
  EXPECT_TRUE(Contains(reload.out, "Restart the satellite")) << reload.out;

  // A broken file: refused with the reason, exit status 1, and the satellite keeps serving.
  testing::WriteFileOrDie(file, testing::ReadFileOrDie(file) + "\nnot toml at all [[[\n");
  auto refused = testing::RunBinary(OUTPOST_BINARY,
                                    {"reload", "--data-dir", data_dir, "--server", serve.url()});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_TRUE(Contains(refused.err, "not reloaded")) << refused.err;
  ASSERT_EQ(kill(serve.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_for_log("stays in force")) << testing::ReadFileOrDie(log);
  auto health = testing::RunBinary(
      OUTPOST_BINARY, {"sync", "status", "--data-dir", data_dir, "--server", serve.url()});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(serve.Stop(), std::optional<int>(0));
}

}  // namespace
}  // namespace outpost::server
