// Device certificate renewal end to end (issue 16): POST /v1/devices/renew over mTLS against a
// real satellite on 127.0.0.1, through the real client library, raw HTTPS and the real CLI.
//
// Time: the satellite and the devices share a FakeClock that starts 200 days in the past, so a
// device registers then and its certificate's renew-after (180 days) has passed when the clock is
// set to the present. The TLS handshakes check certificates against the wall clock, so every
// certificate used on the wire is valid now; the satellite's clock alone decides expiry and the
// renewal window.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "client/device_client.h"
#include "common/config/config_file.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "common/sqlite/writer.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/devices.pb.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/data_dir.h"
#include "server/init.h"
#include "server/licensing/core/types.h"
#include "server/licensing/store.h"
#include "server/satellite.h"
#include "server/store/schema.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

namespace fs = std::filesystem;
using licensing::Enforcement;
using licensing::Entitlement;

constexpr char kVa[] = "east";
constexpr char kTag[] = "fw";
constexpr auto kDay = std::chrono::hours(24);

TimePoint WholeSeconds(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t); }

v1::TagUse Use(const std::string& tag, int64_t count) {
  v1::TagUse u;
  u.set_tag(tag);
  u.set_count(count);
  return u;
}

std::map<std::string, std::string> Bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

class CertificateRenewalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "warn"));
    clock_->Set(past_);
    ASSERT_NO_FATAL_FAILURE(StartSatellite());
  }

  void TearDown() override {
    admin_.reset();
    if (satellite_) satellite_->Shutdown();
    satellite_.reset();
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "info"));
  }

  fs::path dir() const { return tmp_.path() / "sat"; }

  void StartSatellite() {
    InitOptions options;
    options.data_dir = dir();
    options.scrypt_log2_n = 10;
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:0"));
    auto report = InitDataDir(options, *clock_);
    ASSERT_OK(report);
    report_ = *report;
    Entitlement e;
    e.id = "ent-fw";
    e.va = kVa;
    e.tag = kTag;
    e.quantity = 10;
    e.start = WholeSeconds(past_ - kDay);
    e.enforcement = Enforcement::kReported;
    auto writer =
        sqlite::Writer::Create(DataDir(dir()).database(), {}, store::SatelliteMigrations());
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Run(
        [&](sqlite::Connection& db) { return licensing::UpsertEntitlements(db, {e}); }));
    (*writer)->Stop();
    auto c = config::LoadLayeredConfig(
        DataDir(dir()).config(), dir(),
        [](const std::string&) { return std::optional<std::string>(); }, {});
    ASSERT_OK(c);
    auto sat = Satellite::Open(dir(), *c, *clock_);
    ASSERT_OK(sat);
    satellite_ = std::move(*sat);
    ASSERT_OK(satellite_->Start());
    url_ = "https://127.0.0.1:" + std::to_string(satellite_->port());
    admin_ = Http();
  }

  std::string CaPem() const { return testing::ReadFileOrDie(DataDir(dir()).ca_certificate()); }

  std::unique_ptr<net::HttpsClient> Http(const std::string& cert_pem = "",
                                         const std::string& key_pem = "") {
    net::ClientOptions o;
    o.base_url = url_;
    o.ca_pem = CaPem();
    o.client_certificate_pem = cert_pem;
    o.client_key_pem = key_pem;
    o.timeout = std::chrono::seconds(20);
    auto c = net::HttpsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A raw client presenting the ID certificate stored in a device's state directory.
  std::unique_ptr<net::HttpsClient> DeviceHttp(const fs::path& state_dir) {
    return Http(testing::ReadFileOrDie(state_dir / client::kCertificateFile),
                testing::ReadFileOrDie(state_dir / client::kKeyFile));
  }

  std::string CreateToken() {
    v1::CreateTokenRequest req;
    req.set_va(kVa);
    req.set_expires_days(365);
    v1::CreateTokenResponse created;
    EXPECT_OK(
        admin_->Call("POST", "/v1/admin/tokens", req, &created, Bearer(report_.admin_api_key)));
    return created.token();
  }

  client::RegisterOptions RegisterOptionsFor(const std::string& token, const std::string& serial,
                                             const fs::path& state_dir) {
    client::RegisterOptions o;
    o.server_url = url_;
    o.ca_pem = CaPem();
    o.token = token;
    o.pid = "PID";
    o.serial = serial;
    o.state_dir = state_dir;
    return o;
  }

  client::DeviceClientOptions DeviceOptions() {
    client::DeviceClientOptions o;
    o.timeout = std::chrono::seconds(20);
    o.clock = clock_;
    return o;
  }

  client::DeviceClient RegisterOrDie(const std::string& serial, const fs::path& state_dir) {
    auto device = client::DeviceClient::Register(
        RegisterOptionsFor(token_.empty() ? (token_ = CreateToken()) : token_, serial, state_dir),
        DeviceOptions());
    EXPECT_OK(device);
    if (!device.ok()) std::abort();
    return std::move(*device);
  }

  // The answer to a raw POST /v1/devices/renew with `csr_pem`, presenting the state's certificate.
  net::ClientResponse RawRenew(const fs::path& state_dir, const std::string& csr_pem) {
    v1::RenewRequest request;
    request.set_csr_pem(csr_pem);
    auto answer = DeviceHttp(state_dir)->Send("POST", "/v1/devices/renew", ToJson(request),
                                              "application/json");
    EXPECT_OK(answer);
    return answer.ok() ? *answer : net::ClientResponse{};
  }

  std::string CsrPem(const std::string& common_name) {
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    EXPECT_OK(key);
    auto csr = crypto::CertificateSigningRequest::Create(*key, common_name);
    EXPECT_OK(csr);
    return csr->ToPem();
  }

  int SelfStatus(const fs::path& state_dir) {
    auto self = DeviceHttp(state_dir)->Send("GET", "/v1/devices/self");
    EXPECT_OK(self);
    return self.ok() ? self->status : -1;
  }

  // The records of `action`, from the admin API's audit export.
  std::vector<std::string> AuditLines(const std::string& action) {
    auto answer = admin_->Send("GET", "/v1/admin/audit/records?action=" + action, "", "",
                               Bearer(report_.admin_api_key));
    EXPECT_OK(answer);
    std::vector<std::string> lines;
    if (!answer.ok()) return lines;
    size_t start = 0;
    while (start < answer->body.size()) {
      size_t end = answer->body.find('\n', start);
      if (end == std::string::npos) end = answer->body.size();
      std::string line = answer->body.substr(start, end - start);
      if (line.find("\"" + action + "\"") != std::string::npos) lines.push_back(line);
      start = end + 1;
    }
    return lines;
  }

  testing::TempDir tmp_;
  const TimePoint now_ = WholeSeconds(std::chrono::system_clock::now());
  const TimePoint past_ = now_ - 200 * kDay;
  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  InitReport report_;
  std::unique_ptr<Satellite> satellite_;
  std::string url_;
  std::string token_;
  std::unique_ptr<net::HttpsClient> admin_;
};

TEST_F(CertificateRenewalTest, RenewalGivesANewCertificateAndRefusesTheOldOne) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-1", state);
  const v1::RegisterResponse first = device.registration();
  EXPECT_EQ(first.renew_after(), ToUnixSeconds(past_ + 180 * kDay));

  // Too early: the window opens at renew_after, and the message says when.
  clock_->Set(past_ + 10 * kDay);
  auto early = device.RenewCertificate();
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), Errc::kFailedPrecondition) << early.status().ToString();
  EXPECT_NE(early.status().message().find("can be renewed from " + first.renew_after_text()),
            std::string::npos)
      << early.status().message();
  EXPECT_EQ(device.registration().certificate_pem(), first.certificate_pem()) << "unchanged";
  EXPECT_EQ(SelfStatus(state), 200);

  clock_->Set(now_);
  const fs::path old_copy = tmp_.path() / "old-copy";
  fs::copy(state, old_copy, fs::copy_options::recursive);
  auto renewed = device.RenewCertificate();
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->instance_id(), first.instance_id());
  EXPECT_EQ(renewed->va(), kVa);
  EXPECT_EQ(renewed->udi(), "PID:SN-1");
  EXPECT_NE(renewed->certificate_pem(), first.certificate_pem());
  EXPECT_EQ(renewed->certificate_not_after(), ToUnixSeconds(now_ + 365 * kDay));
  EXPECT_EQ(renewed->renew_after(), ToUnixSeconds(now_ + 180 * kDay));
  EXPECT_NE(testing::ReadFileOrDie(state / client::kKeyFile),
            testing::ReadFileOrDie(old_copy / client::kKeyFile))
      << "a renewal replaces the key";
  EXPECT_FALSE(fs::exists(state / client::kNextKeyFile));

  // The new certificate works, through the library and raw; the old one is refused at once.
  auto authorized = device.Authorize({Use(kTag, 2)});
  ASSERT_OK(authorized);
  EXPECT_EQ(authorized->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(SelfStatus(state), 200);
  EXPECT_EQ(SelfStatus(old_copy), 401);
  auto reopened = client::DeviceClient::Open(state, DeviceOptions());
  ASSERT_OK(reopened);
  ASSERT_OK(reopened->GetStatus());
  // Renewing again right away: the new certificate's window is 180 days away.
  auto again = reopened->RenewCertificate();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Errc::kFailedPrecondition) << again.status().ToString();

  // Audited, naming both serials.
  const auto records = AuditLines("device.renew");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].find(first.instance_id()), std::string::npos) << records[0];
  EXPECT_NE(records[0].find("previous_certificate_serial"), std::string::npos) << records[0];
}

TEST_F(CertificateRenewalTest, TheClientRenewsByItselfOnceRenewAfterPassed) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-2", state);
  const std::string first_pem = device.registration().certificate_pem();
  ASSERT_OK(device.Authorize({Use(kTag, 1)}));
  EXPECT_EQ(device.registration().certificate_pem(), first_pem) << "not due yet";

  clock_->Set(now_);
  auto authorized = device.Authorize({Use(kTag, 1)});
  ASSERT_OK(authorized);
  EXPECT_OK(device.last_renewal_status());
  EXPECT_NE(device.registration().certificate_pem(), first_pem) << "renewed before authorizing";
  EXPECT_EQ(device.registration().renew_after(), ToUnixSeconds(now_ + 180 * kDay));
  auto loaded = client::DeviceClient::Open(state, DeviceOptions());
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->registration().certificate_pem(), device.registration().certificate_pem());
  EXPECT_EQ(AuditLines("device.renew").size(), 1u);
}

TEST_F(CertificateRenewalTest, ReleasedDeviceCannotRenew) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-3", state);
  const fs::path copy = tmp_.path() / "copy";
  fs::copy(state, copy, fs::copy_options::recursive);
  ASSERT_OK(device.Release());
  clock_->Set(now_);
  auto answer = RawRenew(copy, CsrPem(device.registration().instance_id()));
  EXPECT_EQ(answer.status, 401) << answer.body;
  EXPECT_NE(answer.body.find("not registered"), std::string::npos) << answer.body;
  auto released = device.RenewCertificate();
  ASSERT_FALSE(released.ok());
  EXPECT_EQ(released.status().code(), Errc::kFailedPrecondition) << released.status().ToString();
  EXPECT_TRUE(AuditLines("device.renew").empty());
}

TEST_F(CertificateRenewalTest, BadRenewalRequestsAreRefusedAndChangeNothing) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-4", state);
  client::DeviceClient other = RegisterOrDie("SN-5", tmp_.path() / "other");
  clock_->Set(now_);

  // A CSR naming another instance (another UDI's registration): 403.
  auto foreign = RawRenew(state, CsrPem(other.registration().instance_id()));
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_NE(foreign.body.find("renews only its own certificate"), std::string::npos)
      << foreign.body;
  // Not a CSR, no CSR: 400.
  EXPECT_EQ(RawRenew(state, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n").status, 400);
  EXPECT_EQ(RawRenew(state, "").status, 400);
  // A CSR for the current key: 400 (a renewal replaces the key).
  auto key = crypto::PrivateKey::LoadFile(state / client::kKeyFile);
  ASSERT_OK(key);
  auto same_key =
      crypto::CertificateSigningRequest::Create(*key, device.registration().instance_id());
  ASSERT_OK(same_key);
  auto reused = RawRenew(state, same_key->ToPem());
  EXPECT_EQ(reused.status, 400) << reused.body;
  EXPECT_NE(reused.body.find("new key"), std::string::npos) << reused.body;
  // Without a client certificate: 401.
  v1::RenewRequest request;
  request.set_csr_pem(CsrPem(device.registration().instance_id()));
  auto anonymous = Http()->Send("POST", "/v1/devices/renew", ToJson(request), "application/json");
  ASSERT_OK(anonymous);
  EXPECT_EQ(anonymous->status, 401);

  // Nothing changed: both devices work with their certificates, nothing was audited.
  EXPECT_EQ(SelfStatus(state), 200);
  EXPECT_EQ(SelfStatus(tmp_.path() / "other"), 200);
  EXPECT_TRUE(AuditLines("device.renew").empty());
}

TEST_F(CertificateRenewalTest, ExpiredCertificateCannotRenewButATokenTakesTheRegistrationOver) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-6", state);
  ASSERT_OK(device.Authorize({Use(kTag, 3)}));
  const std::string instance = device.registration().instance_id();
  // By the satellite's clock the certificate expired (by the wall clock, which the TLS
  // handshake uses, it is still valid, so the satellite itself must refuse it).
  clock_->Set(past_ + 366 * kDay);
  auto answer = RawRenew(state, CsrPem(instance));
  EXPECT_EQ(answer.status, 409) << answer.body;
  EXPECT_NE(answer.body.find("expired"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find("token"), std::string::npos) << answer.body;
  // The library says so without asking the satellite.
  auto local = device.RenewCertificate();
  ASSERT_FALSE(local.ok());
  EXPECT_EQ(local.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(local.status().message().find("Register again with a token"), std::string::npos)
      << local.status().message();

  // Registration with a token, from the same state directory, takes the expired registration over.
  auto again = client::DeviceClient::Register(RegisterOptionsFor(CreateToken(), "SN-6", state),
                                              DeviceOptions());
  ASSERT_OK(again);
  EXPECT_EQ(again->registration().replaced_instance_id(), instance);
}

TEST_F(CertificateRenewalTest, ALostRenewalAnswerIsRecoveredByRegisteringWithTheOldCertificate) {
  const fs::path state = tmp_.path() / "device";
  client::DeviceClient device = RegisterOrDie("SN-7", state);
  // Authorized at day 100 (valid 90 days), renewed at day 181, after renew_after (day 180).
  clock_->Set(past_ + 100 * kDay);
  ASSERT_OK(device.Authorize({Use(kTag, 4)}));
  clock_->Set(past_ + 181 * kDay);
  const std::string instance = device.registration().instance_id();
  // The satellite renews, but the answer never reaches the device.
  auto answer = RawRenew(state, CsrPem(instance));
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto refused = device.GetStatus();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated);

  // Registering again from its state directory proves the device with its superseded
  // certificate; its licenses carry over.
  auto again =
      client::DeviceClient::Register(RegisterOptionsFor(token_, "SN-7", state), DeviceOptions());
  ASSERT_OK(again);
  EXPECT_EQ(again->registration().replaced_instance_id(), instance);
  auto status = again->GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->device.holdings_size(), 1);
  EXPECT_EQ(status->device.holdings(0).count(), 4);
}

TEST_F(CertificateRenewalTest, CliRenewsAndStatusShowsTheCertificate) {
  // The CLI runs on the wall clock: register through it, then move the satellite to the present.
  const fs::path state = tmp_.path() / "cli-device";
  const std::string token = CreateToken();
  const fs::path ca = dir() / "ca.pem";
  auto registered = testing::RunBinary(
      OUTPOST_BINARY, {"device", "register", "--server", url_, "--ca", ca.string(), "--token",
                       token, "--pid", "PID", "--serial", "SN-CLI", "--state-dir", state.string()});
  ASSERT_EQ(registered.exit_code, 0) << registered.err;
  clock_->Set(now_);
  auto status =
      testing::RunBinary(OUTPOST_BINARY, {"device", "status", "--state-dir", state.string()});
  // `status` renews by itself (renew_after is 180 days after the satellite's past clock).
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(testing::Contains(status.out, "certificate valid until")) << status.out;
  EXPECT_TRUE(testing::Contains(status.out, "certificate renew after")) << status.out;
  EXPECT_EQ(AuditLines("device.renew").size(), 1u) << status.out;
  // An explicit renewal now is too early, and says when it opens.
  auto renew =
      testing::RunBinary(OUTPOST_BINARY, {"device", "renew", "--state-dir", state.string()});
  EXPECT_EQ(renew.exit_code, 1);
  EXPECT_TRUE(testing::Contains(renew.err, "can be renewed from")) << renew.err;
}

}  // namespace
}  // namespace outpost::server
