// The device lifecycle end to end: the real client library (client/device_client.h) and raw
// HTTPS against a real satellite on 127.0.0.1 (DESIGN.md section 2: Registration,
// Authorization, Floating, Release, Reservations, moves).
//
// Entitlements only arrive through sync; these tests seed them through the store layer before
// the satellite opens its database (SeedEntitlements below).

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/device_client.h"
#include "common/config/config_file.h"
#include "common/crypto/keys.h"
#include "common/log/logging.h"
#include "common/net/https_client.h"
#include "common/proto_json.h"
#include "common/sqlite/writer.h"
#include "outpost/v1/admin_auth.pb.h"
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
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

using licensing::Enforcement;
using licensing::Entitlement;
using Overrides = std::vector<std::pair<std::string, std::string>>;

constexpr char kVa[] = "east";
constexpr char kTag[] = "fw";

TimePoint WholeSeconds(TimePoint t) { return std::chrono::floor<std::chrono::seconds>(t); }

Entitlement MakeEntitlement(std::string id, std::string va, std::string tag, int64_t quantity,
                            Enforcement enforcement, bool floating = false) {
  Entitlement e;
  e.id = std::move(id);
  e.va = std::move(va);
  e.tag = std::move(tag);
  e.quantity = quantity;
  // Well before any clock a test uses (wall clock or a FakeClock started at it).
  e.start = WholeSeconds(std::chrono::system_clock::now() - std::chrono::hours(24));
  e.enforcement = enforcement;
  e.floating = floating;
  return e;
}

v1::TagUse Use(const std::string& tag, int64_t count) {
  v1::TagUse u;
  u.set_tag(tag);
  u.set_count(count);
  return u;
}

std::map<std::string, std::string> Bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

class DevicesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(log::InitLogging(log::LogFormat::kText, "warn")); }

  void TearDown() override {
    admin_.reset();
    if (satellite_) satellite_->Shutdown();
    satellite_.reset();
    ASSERT_OK(log::InitLogging(log::LogFormat::kText, "info"));
  }

  std::filesystem::path dir() const { return tmp_.path() / "sat"; }

  // The entitlements go straight into the database, between InitDataDir and Satellite::Open
  // (sync is the only way in otherwise); the satellite loads them at Open.
  void SeedEntitlements(const std::vector<Entitlement>& entitlements) {
    auto writer =
        sqlite::Writer::Create(DataDir(dir()).database(), {}, store::SatelliteMigrations());
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Run(
        [&](sqlite::Connection& db) { return licensing::UpsertEntitlements(db, entitlements); }));
    (*writer)->Stop();
  }

  // Initialises the data directory (listening on 127.0.0.1:`port`, 0 = any), seeds
  // `entitlements`, applies `overrides` to outpost.toml, then opens and starts the satellite.
  void StartSatellite(const std::vector<Entitlement>& entitlements, const Overrides& overrides = {},
                      uint16_t port = 0) {
    InitOptions options;
    options.data_dir = dir();
    options.scrypt_log2_n = 10;
    ASSERT_OK(config::ApplyOverride(options.config, "listen", "127.0.0.1:" + std::to_string(port)));
    for (const auto& [key, value] : overrides) {
      ASSERT_OK(config::ApplyOverride(options.config, key, value));
    }
    auto report = InitDataDir(options, *clock_);
    ASSERT_OK(report);
    report_ = *report;
    ASSERT_NO_FATAL_FAILURE(SeedEntitlements(entitlements));
    if (!known_vas_.empty())
      testing::SeedKnownVirtualAccounts(DataDir(dir()).database(), known_vas_);
    ASSERT_NO_FATAL_FAILURE(OpenSatellite());
  }

  void OpenSatellite() {
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

  void StopSatellite() {
    admin_.reset();
    satellite_->Shutdown();
    satellite_.reset();
  }

  std::string CaPem() const { return testing::ReadFileOrDie(DataDir(dir()).ca_certificate()); }

  // A raw HTTPS client; with a client certificate when both PEMs are given.
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
  std::unique_ptr<net::HttpsClient> DeviceHttp(const std::filesystem::path& state_dir) {
    return Http(testing::ReadFileOrDie(state_dir / client::kCertificateFile),
                testing::ReadFileOrDie(state_dir / client::kKeyFile));
  }

  std::string CreateToken(const std::string& va, std::optional<int64_t> max_uses,
                          bool export_controlled = false) {
    v1::CreateTokenRequest req;
    req.set_va(va);
    if (max_uses) req.set_max_uses(*max_uses);
    req.set_description("devices_test");
    req.set_export_controlled(export_controlled);
    v1::CreateTokenResponse created;
    EXPECT_OK(
        admin_->Call("POST", "/v1/admin/tokens", req, &created, Bearer(report_.admin_api_key)));
    EXPECT_EQ(created.token().rfind("opt_", 0), 0u) << created.token();
    return created.token();
  }

  v1::Token TokenRecord(const std::string& token) {
    v1::ListTokensResponse list;
    EXPECT_OK(
        admin_->Call("GET", "/v1/admin/tokens", v1::Empty(), &list, Bearer(report_.admin_api_key)));
    for (const auto& t : list.tokens()) {
      if (token.rfind(t.prefix() + "_", 0) == 0) return t;
    }
    ADD_FAILURE() << "token not listed";
    return {};
  }

  // Creates a user with `role` and an API key for it, through the API as admin.
  std::string KeyFor(const std::string& name, const std::string& role) {
    v1::CreateUserRequest user;
    user.set_name(name);
    user.set_role(role);
    v1::User created;
    EXPECT_OK(
        admin_->Call("POST", "/v1/admin/users", user, &created, Bearer(report_.admin_api_key)));
    v1::CreateApiKeyRequest req;
    req.set_user(name);
    v1::CreateApiKeyResponse key;
    EXPECT_OK(admin_->Call("POST", "/v1/admin/apikeys", req, &key, Bearer(report_.admin_api_key)));
    return key.key();
  }

  v1::ListLicensesResponse Licenses() {
    v1::ListLicensesResponse out;
    EXPECT_OK(admin_->Call("GET", "/v1/admin/licenses", v1::Empty(), &out,
                           Bearer(report_.admin_api_key)));
    return out;
  }

  // The (va, tag) pool as GET /v1/admin/licenses shows it; an empty pool when it is not listed.
  v1::LicensePool Pool(const std::string& va = kVa, const std::string& tag = kTag) {
    const v1::ListLicensesResponse all = Licenses();
    for (const auto& p : all.pools()) {
      if (p.va() == va && p.tag() == tag) return p;
    }
    v1::LicensePool none;
    none.set_va("<not listed>");
    return none;
  }

  v1::ListDevicesResponse Devices() {
    v1::ListDevicesResponse out;
    EXPECT_OK(admin_->Call("GET", "/v1/admin/devices?limit=10000", v1::Empty(), &out,
                           Bearer(report_.admin_api_key)));
    return out;
  }

  client::RegisterOptions RegisterOptionsFor(const std::string& token, const std::string& pid,
                                             const std::string& serial,
                                             const std::filesystem::path& state_dir) {
    client::RegisterOptions o;
    o.server_url = url_;
    o.ca_pem = CaPem();
    o.token = token;
    o.pid = pid;
    o.serial = serial;
    o.hostname = "host-" + serial;
    o.state_dir = state_dir;
    return o;
  }

  // The devices read the satellite's clock: they refuse answers issued in their future or
  // already expired (client::CheckCurrent), so a test that moves the satellite's time moves theirs.
  client::DeviceClientOptions DeviceOptions() {
    client::DeviceClientOptions o;
    o.timeout = std::chrono::seconds(20);
    o.clock = clock_;
    return o;
  }

  testing::TempDir tmp_;
  std::shared_ptr<Clock> clock_ = std::make_shared<SystemClock>();
  // VAs recorded as central's list before the satellite opens (none: not synced).
  std::vector<std::string> known_vas_;
  InitReport report_;
  std::unique_ptr<Satellite> satellite_;
  std::string url_;
  std::unique_ptr<net::HttpsClient> admin_;
};

// 1. Register, authorize, survive a restart, release: the whole device-counted life.
TEST_F(DevicesTest, DeviceCountedLifecycleAcrossRestartAndRelease) {
  // The device's state stores the satellite URL and DeviceClient cannot be pointed elsewhere,
  // so this satellite listens on a fixed (free) port it can come back on.
  const uint16_t port = testing::FreeLoopbackPort();
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 10, Enforcement::kReported)}, {}, port));
  const std::string token = CreateToken(kVa, 5);
  const auto state_dir = tmp_.path() / "device1";

  auto registered = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID1", "SN1", state_dir), DeviceOptions());
  ASSERT_OK(registered);
  client::DeviceClient device = std::move(*registered);
  EXPECT_EQ(device.registration().va(), kVa);
  EXPECT_EQ(device.registration().udi(), "PID1:SN1");
  EXPECT_EQ(device.registration().satellite_id(), satellite_->satellite_id());
  EXPECT_TRUE(device.registration().replaced_instance_id().empty());
  EXPECT_EQ(TokenRecord(token).uses(), 1);

  const int64_t before = testing::UnixNow();
  auto first = device.Authorize({Use(kTag, 2)});  // verified by the library
  const int64_t after = testing::UnixNow();
  ASSERT_OK(first);
  ASSERT_EQ(first->tags_size(), 1);
  EXPECT_EQ(first->tags(0).tag(), kTag);
  EXPECT_EQ(first->tags(0).status(), "AUTHORIZED") << first->tags(0).reason();
  EXPECT_EQ(first->tags(0).granted(), 2);
  EXPECT_FALSE(first->tags(0).floating());
  EXPECT_EQ(first->instance_id(), device.registration().instance_id());
  EXPECT_GE(first->issued_at(), before - 1);
  EXPECT_LE(first->issued_at(), after + 1);
  constexpr int64_t kDay = 24 * 3600;
  EXPECT_EQ(first->valid_until() - first->issued_at(), 90 * kDay);
  EXPECT_EQ(first->renew_after() - first->issued_at(), 30 * kDay);
  EXPECT_EQ(first->tags(0).valid_until(), first->valid_until());

  v1::LicensePool pool = Pool();
  EXPECT_EQ(pool.in_use(), 2);
  EXPECT_EQ(pool.purchased(), 10);
  EXPECT_EQ(pool.available(), 8);

  // The same request again is idempotent.
  auto again = device.Authorize({Use(kTag, 2)});
  ASSERT_OK(again);
  EXPECT_EQ(again->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(Pool().in_use(), 2);

  auto status = device.GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->device.holdings_size(), 1);
  EXPECT_EQ(status->device.holdings(0).tag(), kTag);
  EXPECT_EQ(status->device.holdings(0).count(), 2);
  ASSERT_TRUE(status->last_authorization.has_value());

  // Offline: the stored authorization still verifies, in this object and in a fresh one.
  StopSatellite();
  auto offline = device.LastAuthorization();
  ASSERT_OK(offline);
  ASSERT_TRUE(offline->has_value());
  EXPECT_EQ((*offline)->issued_at(), again->issued_at());
  EXPECT_EQ((*offline)->tags(0).status(), "AUTHORIZED");
  auto reopened_offline = client::DeviceClient::Open(state_dir, DeviceOptions());
  ASSERT_OK(reopened_offline);
  auto offline2 = reopened_offline->LastAuthorization();
  ASSERT_OK(offline2);
  ASSERT_TRUE(offline2->has_value());
  EXPECT_EQ((*offline2)->valid_until(), again->valid_until());
  // Authorizing while the satellite is down fails as unreachable and changes nothing stored.
  auto unreachable = device.Authorize({Use(kTag, 3)});
  ASSERT_FALSE(unreachable.ok());
  EXPECT_TRUE(unreachable.status().code() == Errc::kUnavailable ||
              unreachable.status().code() == Errc::kDeadlineExceeded)
      << unreachable.status().ToString();
  auto still = device.LastAuthorization();
  ASSERT_OK(still);
  ASSERT_TRUE(still->has_value());
  EXPECT_EQ((*still)->tags(0).requested(), 2);

  // Restart on the same data directory and port: same state.
  ASSERT_NO_FATAL_FAILURE(OpenSatellite());
  ASSERT_EQ(satellite_->port(), port);
  EXPECT_EQ(Pool().in_use(), 2) << "consumption after a restart";
  ASSERT_EQ(Devices().devices_size(), 1);
  auto reopened = client::DeviceClient::Open(state_dir, DeviceOptions());
  ASSERT_OK(reopened);
  auto after_restart = reopened->Authorize({Use(kTag, 2)});
  ASSERT_OK(after_restart);
  EXPECT_EQ(after_restart->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(after_restart->tags(0).granted(), 2);
  EXPECT_EQ(Pool().in_use(), 2);
  // The old object reconnects too.
  auto old_object = device.Authorize({Use(kTag, 2)});
  ASSERT_OK(old_object);
  EXPECT_EQ(old_object->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(Pool().in_use(), 2);

  // Release: everything back at once; the client and the certificate are refused afterwards.
  auto released = reopened->Release();
  ASSERT_OK(released);
  EXPECT_EQ(released->instance_id(), device.registration().instance_id());
  ASSERT_EQ(released->released_size(), 1);
  EXPECT_EQ(released->released(0).tag(), kTag);
  EXPECT_EQ(released->released(0).count(), 2);
  EXPECT_TRUE(reopened->released());
  EXPECT_EQ(Pool().in_use(), 0);
  EXPECT_EQ(Devices().devices_size(), 0);

  auto refused = reopened->Authorize({Use(kTag, 1)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kFailedPrecondition) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("register again"), std::string::npos);
  auto reloaded = client::DeviceClient::Open(state_dir, DeviceOptions());
  ASSERT_OK(reloaded);
  EXPECT_TRUE(reloaded->released());
  EXPECT_FALSE(reloaded->GetStatus().ok());

  // The stale object (which does not know about the release) is refused by the satellite.
  auto stale = device.Authorize({Use(kTag, 1)});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Errc::kUnauthenticated) << stale.status().ToString();
  EXPECT_EQ(Pool().in_use(), 0);

  auto raw = DeviceHttp(state_dir);
  auto self = raw->Send("GET", "/v1/devices/self");
  ASSERT_OK(self);
  EXPECT_EQ(self->status, 401) << self->body;
  auto raw_authorize = raw->Send("POST", "/v1/devices/authorize",
                                 R"({"tags":[{"tag":"fw","count":1}]})", "application/json");
  ASSERT_OK(raw_authorize);
  EXPECT_EQ(raw_authorize->status, 401) << raw_authorize->body;
  EXPECT_EQ(Pool().in_use(), 0);
}

// 2. A FLOATING pool of one lease passed between two devices; an unrenewed lease comes back.
TEST_F(DevicesTest, FloatingLeaseIsSharedAndReturnsWhenNotRenewed) {
  // A fake clock (starting now: TLS checks certificates against the wall clock) so the lease can
  // run out without waiting for it.
  auto fake = std::make_shared<testing::FakeClock>(WholeSeconds(std::chrono::system_clock::now()));
  clock_ = fake;
  ASSERT_NO_FATAL_FAILURE(StartSatellite(
      {MakeEntitlement("ent-float", kVa, kTag, 1, Enforcement::kEnforced, /*floating=*/true)},
      {{"policy.floating_lease", "60s"}}));
  const std::string token = CreateToken(kVa, 2);
  auto a = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "A", tmp_.path() / "a"),
                                          DeviceOptions());
  ASSERT_OK(a);
  auto b = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "B", tmp_.path() / "b"),
                                          DeviceOptions());
  ASSERT_OK(b);

  const int64_t now = ToUnixSeconds(fake->Now());
  auto a1 = a->Authorize({Use(kTag, 1)});
  ASSERT_OK(a1);
  ASSERT_EQ(a1->tags_size(), 1);
  EXPECT_EQ(a1->tags(0).status(), "AUTHORIZED") << a1->tags(0).reason();
  EXPECT_TRUE(a1->tags(0).floating());
  EXPECT_EQ(a1->tags(0).valid_until(), now + 60);
  EXPECT_EQ(a1->valid_until(), now + 60);
  EXPECT_EQ(a1->renew_after(), now + 30);
  v1::LicensePool pool = Pool();
  EXPECT_TRUE(pool.floating());
  EXPECT_EQ(pool.in_use(), 1);

  auto b1 = b->Authorize({Use(kTag, 1)});
  ASSERT_OK(b1);
  EXPECT_EQ(b1->tags(0).status(), "DENIED") << b1->tags(0).reason();
  EXPECT_EQ(b1->tags(0).granted(), 0);
  EXPECT_EQ(b1->tags(0).valid_until(), 0);
  EXPECT_EQ(Pool().in_use(), 1);

  // A gives its lease back with an empty list; B gets it.
  auto a2 = a->Authorize({});
  ASSERT_OK(a2);
  EXPECT_EQ(a2->tags_size(), 0);
  EXPECT_EQ(Pool().in_use(), 0);
  auto b2 = b->Authorize({Use(kTag, 1)});
  ASSERT_OK(b2);
  EXPECT_EQ(b2->tags(0).status(), "AUTHORIZED") << b2->tags(0).reason();
  EXPECT_EQ(Pool().in_use(), 1);
  auto a3 = a->Authorize({Use(kTag, 1)});
  ASSERT_OK(a3);
  EXPECT_EQ(a3->tags(0).status(), "DENIED");

  // B stops renewing: once its lease ran out, the sweep (every 5 s) gives it back to the pool.
  fake->Advance(std::chrono::seconds(61));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int64_t in_use = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    in_use = Pool().in_use();
    if (in_use == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(in_use, 0) << "the expired lease was not swept back into the pool";
  auto a4 = a->Authorize({Use(kTag, 1)});
  ASSERT_OK(a4);
  EXPECT_EQ(a4->tags(0).status(), "AUTHORIZED") << a4->tags(0).reason();
  auto b_status = b->GetStatus();
  ASSERT_OK(b_status);
  EXPECT_EQ(b_status->device.holdings_size(), 0);
}

// 3. 40 devices race for an ENFORCED pool of 10 from 8 threads, twice.
TEST_F(DevicesTest, ConcurrentAuthorizationsNeverOversubscribeAnEnforcedPool) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 10, Enforcement::kEnforced)}));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5;  // 40 devices
  const std::string token = CreateToken(kVa, kThreads * kPerThread);

  std::mutex mu;
  std::vector<std::string> failures;
  std::map<std::string, std::string> round1, round2;  // instance -> status
  std::barrier sync_point(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) {
        std::lock_guard lock(mu);
        failures.push_back(what);
      };
      std::vector<client::DeviceClient> devices;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string serial = "SN" + std::to_string(t * kPerThread + i);
        auto d = client::DeviceClient::Register(
            RegisterOptionsFor(token, "PID", serial, tmp_.path() / ("dev-" + serial)),
            DeviceOptions());
        if (!d.ok()) {
          fail("register " + serial + ": " + d.status().ToString());
          continue;
        }
        devices.push_back(std::move(*d));
      }
      for (auto* round : {&round1, &round2}) {
        sync_point.arrive_and_wait();  // every thread starts the round together
        for (auto& d : devices) {
          auto a = d.Authorize({Use(kTag, 1)});
          if (!a.ok() || a->tags_size() != 1) {
            fail("authorize: " + (a.ok() ? a->DebugString() : a.status().ToString()));
            continue;
          }
          std::lock_guard lock(mu);
          (*round)[d.registration().instance_id()] = a->tags(0).status();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(failures.empty()) << failures.front();

  auto count = [](const std::map<std::string, std::string>& round, const std::string& status) {
    return std::count_if(round.begin(), round.end(),
                         [&](const auto& entry) { return entry.second == status; });
  };
  ASSERT_EQ(round1.size(), 40u);
  EXPECT_EQ(count(round1, "AUTHORIZED"), 10);
  EXPECT_EQ(count(round1, "DENIED"), 30);
  EXPECT_EQ(TokenRecord(token).uses(), 40);
  EXPECT_EQ(Devices().devices_size(), 40);

  // Renewals: the same ten keep their licenses, nobody else gets one.
  ASSERT_EQ(round2.size(), 40u);
  EXPECT_EQ(count(round2, "AUTHORIZED"), 10);
  EXPECT_EQ(count(round2, "DENIED"), 30);
  for (const auto& [instance, status] : round1) {
    EXPECT_EQ(round2[instance], status) << "instance " << instance << " changed in the renewal";
  }
  v1::LicensePool pool = Pool();
  EXPECT_EQ(pool.in_use(), 10);
  EXPECT_EQ(pool.available(), 0);
  int holders = 0;
  const v1::ListDevicesResponse listed = Devices();
  for (const auto& d : listed.devices()) {
    for (const auto& h : d.holdings()) holders += static_cast<int>(h.count());
  }
  EXPECT_EQ(holders, 10);
}

// 4. The same device registers again in its own state directory (with its current ID
// certificate as proof); from a fresh directory, without that proof, the UDI is refused.
TEST_F(DevicesTest, ReRegistrationCarriesConsumptionOverAndRefusesTheOldIdentity) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 5, Enforcement::kReported)}));
  const std::string token = CreateToken(kVa, 3);
  const auto old_dir = tmp_.path() / "old";
  auto old_device = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "SN-R", old_dir), DeviceOptions());
  ASSERT_OK(old_device);
  auto held = old_device->Authorize({Use(kTag, 3)});
  ASSERT_OK(held);
  ASSERT_EQ(held->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(Pool().in_use(), 3);

  // Someone else with the label (a fresh key, no certificate): refused, nothing named.
  auto intruder = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "SN-R", tmp_.path() / "intruder"), DeviceOptions());
  ASSERT_FALSE(intruder.ok());
  EXPECT_EQ(intruder.status().code(), Errc::kAlreadyExists) << intruder.status().ToString();
  EXPECT_EQ(intruder.status().message().find(old_device->registration().instance_id()),
            std::string::npos)
      << intruder.status().message();
  EXPECT_EQ(Pool().in_use(), 3);
  ASSERT_OK(old_device->Authorize({Use(kTag, 3)}));

  // A copy of the old state, to try the old identity after the device moved on.
  const auto old_copy = tmp_.path() / "old-copy";
  std::filesystem::copy(old_dir, old_copy, std::filesystem::copy_options::recursive);
  auto new_device = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "SN-R", old_dir), DeviceOptions());
  ASSERT_OK(new_device);
  const std::string old_id = old_device->registration().instance_id();
  const std::string new_id = new_device->registration().instance_id();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(new_device->registration().replaced_instance_id(), old_id);

  // Carried over: still 3 in use, now held by the new instance.
  EXPECT_EQ(Pool().in_use(), 3);
  auto devices = Devices();
  ASSERT_EQ(devices.devices_size(), 1);
  EXPECT_EQ(devices.devices(0).instance_id(), new_id);
  ASSERT_EQ(devices.devices(0).holdings_size(), 1);
  EXPECT_EQ(devices.devices(0).holdings(0).count(), 3);
  auto status = new_device->GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->device.holdings_size(), 1);
  EXPECT_EQ(status->device.holdings(0).count(), 3);

  // The old identity is refused, saying why.
  auto refused = old_device->Authorize({Use(kTag, 1)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("released or replaced"), std::string::npos)
      << refused.status().message();
  auto old_status = old_device->GetStatus();
  ASSERT_FALSE(old_status.ok());
  EXPECT_EQ(old_status.status().code(), Errc::kUnauthenticated);
  auto raw = DeviceHttp(old_copy);
  auto self = raw->Send("GET", "/v1/devices/self");
  ASSERT_OK(self);
  EXPECT_EQ(self->status, 401);
  EXPECT_NE(self->body.find("released or replaced"), std::string::npos) << self->body;
  auto old_release = old_device->Release();
  ASSERT_FALSE(old_release.ok());
  EXPECT_EQ(old_release.status().code(), Errc::kUnauthenticated);
  EXPECT_EQ(Pool().in_use(), 3) << "the old identity's refused calls changed nothing";

  // The new one renews what it inherited without taking more.
  auto renewed = new_device->Authorize({Use(kTag, 3)});
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(Pool().in_use(), 3);
}

// 4b. The same device with a token of another VA: refused — a device changes VA only when an
// operator releases it (or moves licenses); its licenses stay where they are.
TEST_F(DevicesTest, ReRegistrationIntoAnotherVaIsRefused) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-east", kVa, kTag, 5, Enforcement::kReported),
                      MakeEntitlement("ent-west", "west", kTag, 5, Enforcement::kReported)}));
  const auto dir = tmp_.path() / "first";
  auto first = client::DeviceClient::Register(
      RegisterOptionsFor(CreateToken(kVa, 1), "PID", "SN-M", dir), DeviceOptions());
  ASSERT_OK(first);
  ASSERT_OK(first->Authorize({Use(kTag, 2)}));
  EXPECT_EQ(Pool(kVa).in_use(), 2);
  auto second = client::DeviceClient::Register(
      RegisterOptionsFor(CreateToken("west", 1), "PID", "SN-M", dir), DeviceOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Errc::kFailedPrecondition) << second.status().ToString();
  EXPECT_NE(second.status().message().find("registered in virtual account 'east'"),
            std::string::npos)
      << second.status().message();
  EXPECT_EQ(Pool(kVa).in_use(), 2);
  ASSERT_EQ(Devices().devices_size(), 1);
  EXPECT_OK(first->Authorize({Use(kTag, 2)}).status());
}

// 5. Bad input over raw HTTPS with JSON bodies: clear refusals that change nothing.
TEST_F(DevicesTest, BadInputIsRefusedAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 5, Enforcement::kReported)}));
  const std::string token = CreateToken(kVa, 3);
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(key);
  auto register_body = [&](const std::string& tok, const std::string& pid,
                           const std::string& serial) {
    v1::RegisterRequest r;
    r.set_token(tok);
    r.set_pid(pid);
    r.set_serial(serial);
    r.set_public_key_pem(key->public_key().ToPem());
    return ToJson(r);
  };
  auto http = Http();

  // Unknown token (well formed, never issued), and a malformed one.
  const std::string unknown = "opt_000000000000_" + std::string(43, 'A');
  auto r = http->Send("POST", "/v1/devices/register", register_body(unknown, "PID", "SN1"),
                      "application/json");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("unknown token"), std::string::npos) << r->body;
  r = http->Send("POST", "/v1/devices/register", register_body("not-a-token", "PID", "SN1"),
                 "application/json");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("malformed token"), std::string::npos) << r->body;

  // Malformed UDI, with a good token: 400, and the token is not used up by it.
  for (const auto& [pid, serial] : std::vector<std::pair<std::string, std::string>>{
           {"bad pid", "SN1"}, {"PID", ""}, {"PID", "SN:1"}, {std::string(65, 'P'), "SN1"}}) {
    r = http->Send("POST", "/v1/devices/register", register_body(token, pid, serial),
                   "application/json");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 400) << "pid '" << pid << "' serial '" << serial << "': " << r->body;
  }
  // Neither or both of csr_pem and public_key_pem.
  r = http->Send("POST", "/v1/devices/register",
                 R"({"token":")" + token + R"(","pid":"PID","serial":"SN1"})", "application/json");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 400) << r->body;
  // Unknown JSON field.
  r = http->Send("POST", "/v1/devices/register", R"({"tokn":"x"})", "application/json");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(TokenRecord(token).uses(), 0);
  EXPECT_EQ(Devices().devices_size(), 0);

  // A good registration over raw JSON, then a device that holds one unit.
  r = http->Send("POST", "/v1/devices/register", register_body(token, "PID", "SN1"),
                 "application/json");
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(TokenRecord(token).uses(), 1);
  const auto state_dir = tmp_.path() / "dev";
  auto device = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "SN2", state_dir),
                                               DeviceOptions());
  ASSERT_OK(device);
  ASSERT_OK(device->Authorize({Use(kTag, 1)}));
  ASSERT_EQ(Pool().in_use(), 1);
  EXPECT_EQ(TokenRecord(token).uses(), 2);

  // The same serial under another product in the VA: 409, and the token use is rolled back.
  r = http->Send("POST", "/v1/devices/register", register_body(token, "OTHERPID", "SN2"),
                 "application/json");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(TokenRecord(token).uses(), 2);
  EXPECT_EQ(Devices().devices_size(), 2);

  // Device routes without a client certificate: 401.
  for (const char* target : {"/v1/devices/authorize", "/v1/devices/release"}) {
    r = http->Send("POST", target, R"({"tags":[{"tag":"fw","count":1}]})", "application/json");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 401) << target << ": " << r->body;
    EXPECT_NE(r->body.find("certificate"), std::string::npos) << r->body;
  }
  r = http->Send("GET", "/v1/devices/self");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 401) << r->body;

  // A client certificate from another CA: the handshake fails, or the route refuses it.
  const testing::TestPki other = testing::MakeTestPkiOrDie("other-ca");
  auto stranger = Http(other.client_certificate_pem, other.client_key_pem);
  ASSERT_NE(stranger, nullptr);
  auto s = stranger->Send("POST", "/v1/devices/authorize", R"({"tags":[{"tag":"fw","count":1}]})",
                          "application/json");
  if (s.ok()) {
    EXPECT_EQ(s->status, 401) << s->body;
  }
  auto s2 = stranger->Send("GET", "/v1/devices/self");
  EXPECT_TRUE(!s2.ok() || s2->status == 401) << s2->status << " " << s2->body;

  // The operator releases an instance that does not exist: 404.
  r = admin_->Send("POST", "/v1/admin/devices/000000000000/release", "{}", "application/json",
                   Bearer(report_.admin_api_key));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 404) << r->body;

  // Bad authorizations from a registered device: 400 and nothing changes.
  auto raw = DeviceHttp(state_dir);
  for (const std::string body : {
           R"({"tags":[{"tag":"fw","count":1},{"tag":"fw","count":1}]})",  // duplicate tag
           R"({"tags":[{"tag":"fw","count":-1}]})",                        // negative
           R"({"tags":[{"tag":"fw","count":0}]})",                         // zero
           R"({"tags":[{"tag":"fw","count":1000001}]})",                   // above kMaxCount
           R"({"tags":[{"tag":"","count":1}]})",                           // empty tag
           R"({"tags":[{"tag":"fw","count":2},{"tag":"bad tag","count":1}]})",
           R"({"tags":"fw"})",  // not a list
       }) {
    r = raw->Send("POST", "/v1/devices/authorize", body, "application/json");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 400) << body << ": " << r->body;
    EXPECT_EQ(Pool().in_use(), 1) << "after " << body;
  }
  auto status = device->GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->device.holdings_size(), 1);
  EXPECT_EQ(status->device.holdings(0).count(), 1);
  // The client library refuses the same before sending anything.
  auto dup = device->Authorize({Use(kTag, 1), Use(kTag, 1)});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Errc::kInvalidArgument);
  auto neg = device->Authorize({Use(kTag, -1)});
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(Pool().in_use(), 1);
}

// 6. A registration storm from one address against a small rate limit.
TEST_F(DevicesTest, RegistrationStormIsRateLimitedAndTheSatelliteStaysUp) {
  constexpr int kRate = 50;
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 5, Enforcement::kReported)},
                     {{"policy.registration_rate_per_minute", std::to_string(kRate)}}));
  const std::string token = CreateToken(kVa, std::nullopt);
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(key);
  const std::string public_key_pem = key->public_key().ToPem();
  const std::string ca_pem = CaPem();

  constexpr int kThreads = 16;
  constexpr int kTotal = 300;
  std::atomic<int> next{0}, ok{0}, limited{0}, busy{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  std::barrier start(kThreads);
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      net::ClientOptions o;
      o.base_url = url_;
      o.ca_pem = ca_pem;
      o.timeout = std::chrono::seconds(20);
      auto http = net::HttpsClient::Create(o);
      start.arrive_and_wait();
      for (int i = next++; i < kTotal; i = next++) {
        if (!http.ok()) {
          std::lock_guard lock(mu);
          unexpected.push_back(http.status().ToString());
          continue;
        }
        v1::RegisterRequest req;
        req.set_token(token);
        req.set_pid("STORM");
        req.set_serial("SN" + std::to_string(i));
        req.set_public_key_pem(public_key_pem);
        auto r = (*http)->Send("POST", "/v1/devices/register", ToJson(req), "application/json");
        if (r.ok() && r->status == 200) {
          ++ok;
        } else if (r.ok() && r->status == 429) {
          ++limited;
        } else if (r.ok() && r->status == 503) {
          ++busy;
        } else {
          std::lock_guard lock(mu);
          unexpected.push_back(r.ok() ? std::to_string(r->status) + " " + r->body
                                      : r.status().ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

  EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                  << " unexpected answers, first: " << unexpected.front();
  EXPECT_EQ(ok + limited + busy, kTotal);
  EXPECT_GE(limited.load(), 1);
  std::cout << "storm: " << ok << " registered, " << limited << " rate-limited, " << busy
            << " busy in " << elapsed << " s\n";
  // The bucket starts full (kRate) and refills at kRate per minute.
  EXPECT_GE(ok.load(), kRate);
  EXPECT_LE(ok.load(), kRate + static_cast<int>(std::ceil(elapsed * kRate / 60.0)) + 1)
      << "in " << elapsed << " s";

  auto health = Http()->Send("GET", "/healthz");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200) << health->body;
  EXPECT_EQ(Devices().devices_size(), ok.load());
  EXPECT_EQ(TokenRecord(token).uses(), ok.load());

  // A refused registration says when to retry.
  auto http = Http();
  v1::RegisterRequest req;
  req.set_token(token);
  req.set_pid("STORM");
  req.set_serial("LATE");
  req.set_public_key_pem(public_key_pem);
  auto late = http->Send("POST", "/v1/devices/register", ToJson(req), "application/json");
  ASSERT_OK(late);
  if (late->status == 429) {
    EXPECT_NE(late->body.find("retry in"), std::string::npos) << late->body;
  }
}

// Operator moves and reservations through the admin API; an auditor may do neither.
TEST_F(DevicesTest, OperatorMovesAndReservesAuditorIsRefused) {
  known_vas_ = {"default", kVa, "west"};  // as central's last response named them
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 10, Enforcement::kReported)}));
  const std::string operator_key = KeyFor("olga", "operator");
  const std::string auditor_key = KeyFor("audrey", "auditor");

  // A device holds 2 in east first, so the move is limited by what is free.
  auto device = client::DeviceClient::Register(
      RegisterOptionsFor(CreateToken(kVa, 1), "PID", "SN-H", tmp_.path() / "holder"),
      DeviceOptions());
  ASSERT_OK(device);
  ASSERT_OK(device->Authorize({Use(kTag, 2)}));

  v1::MoveLicensesRequest move;
  move.set_from_va(kVa);
  move.set_to_va("west");
  move.set_tag(kTag);
  move.set_count(3);
  auto denied = admin_->Send("POST", "/v1/admin/licenses/move", ToJson(move), "application/json",
                             Bearer(auditor_key));
  ASSERT_OK(denied);
  EXPECT_EQ(denied->status, 403) << denied->body;
  EXPECT_EQ(Pool(kVa).purchased(), 10);
  EXPECT_EQ(Pool("west").va(), "<not listed>");

  auto moved = admin_->Send("POST", "/v1/admin/licenses/move", ToJson(move), "application/json",
                            Bearer(operator_key));
  ASSERT_OK(moved);
  ASSERT_EQ(moved->status, 200) << moved->body;
  v1::MoveLicensesResponse move_out;
  ASSERT_OK(FromJson(moved->body, &move_out));
  EXPECT_FALSE(move_out.move_id().empty());
  EXPECT_EQ(move_out.count(), 3);
  v1::LicensePool east = Pool(kVa);
  v1::LicensePool west = Pool("west");
  EXPECT_EQ(east.purchased(), 7);
  EXPECT_EQ(east.in_use(), 2);
  EXPECT_EQ(east.available(), 5);
  EXPECT_EQ(west.purchased(), 3);
  EXPECT_EQ(west.in_use(), 0);
  EXPECT_EQ(west.enforcement(), "REPORTED");

  // More than is free (5) cannot move, and changes nothing.
  move.set_count(6);
  auto too_many = admin_->Send("POST", "/v1/admin/licenses/move", ToJson(move), "application/json",
                               Bearer(operator_key));
  ASSERT_OK(too_many);
  EXPECT_EQ(too_many->status, 409) << too_many->body;
  EXPECT_EQ(Pool(kVa).purchased(), 7);
  EXPECT_EQ(Pool("west").purchased(), 3);

  v1::ReservationRequest reserve;
  reserve.set_va(kVa);
  reserve.set_tag(kTag);
  reserve.set_udi("PID:SN-R");
  reserve.set_count(2);
  auto reserve_denied = admin_->Send("POST", "/v1/admin/reservations", ToJson(reserve),
                                     "application/json", Bearer(auditor_key));
  ASSERT_OK(reserve_denied);
  EXPECT_EQ(reserve_denied->status, 403) << reserve_denied->body;
  EXPECT_EQ(Pool(kVa).reserved(), 0);

  auto reserved = admin_->Send("POST", "/v1/admin/reservations", ToJson(reserve),
                               "application/json", Bearer(operator_key));
  ASSERT_OK(reserved);
  ASSERT_EQ(reserved->status, 200) << reserved->body;
  east = Pool(kVa);
  EXPECT_EQ(east.purchased(), 7);
  EXPECT_EQ(east.in_use(), 2);
  EXPECT_EQ(east.reserved(), 2);
  EXPECT_EQ(east.available(), 3);
  v1::ListReservationsResponse reservations;
  ASSERT_OK(admin_->Call("GET", "/v1/admin/reservations", v1::Empty(), &reservations,
                         Bearer(auditor_key)));
  ASSERT_EQ(reservations.reservations_size(), 1);
  EXPECT_EQ(reservations.reservations(0).udi(), "PID:SN-R");
  EXPECT_EQ(reservations.reservations(0).count(), 2);

  // The reserved units are held back from the move too: 3 free, not 5.
  move.set_count(4);
  auto past_reservation = admin_->Send("POST", "/v1/admin/licenses/move", ToJson(move),
                                       "application/json", Bearer(operator_key));
  ASSERT_OK(past_reservation);
  EXPECT_EQ(past_reservation->status, 409) << past_reservation->body;
  EXPECT_EQ(Pool(kVa).purchased(), 7);

  // The move and the reservation are in the database: a restart shows the same books.
  const v1::ListLicensesResponse before = Licenses();
  StopSatellite();
  ASSERT_NO_FATAL_FAILURE(OpenSatellite());
  const v1::ListLicensesResponse after = Licenses();
  ASSERT_EQ(after.pools_size(), before.pools_size());
  for (int i = 0; i < after.pools_size(); ++i) {
    v1::LicensePool a = after.pools(i), b = before.pools(i);
    EXPECT_EQ(a.ShortDebugString(), b.ShortDebugString());
  }
  EXPECT_EQ(Pool(kVa).purchased(), 7);
  EXPECT_EQ(Pool(kVa).reserved(), 2);
  EXPECT_EQ(Pool("west").purchased(), 3);
}

// The operator releases one device and rehosts another to a new UDI through the admin API.
TEST_F(DevicesTest, OperatorReleaseAndRehostThroughTheAdminApi) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 3, Enforcement::kEnforced)}));
  const std::string token = CreateToken(kVa, 10);
  const auto d1_dir = tmp_.path() / "d1";
  auto d1 = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "SN1", d1_dir),
                                           DeviceOptions());
  ASSERT_OK(d1);
  ASSERT_OK(d1->Authorize({Use(kTag, 2)}));
  ASSERT_EQ(Pool().in_use(), 2);

  const std::string release_path =
      "/v1/admin/devices/" + d1->registration().instance_id() + "/release";
  auto r =
      admin_->Send("POST", release_path, "{}", "application/json", Bearer(report_.admin_api_key));
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::ReleaseDeviceResponse released;
  ASSERT_OK(FromJson(r->body, &released));
  ASSERT_EQ(released.released_size(), 1);
  EXPECT_EQ(released.released(0).count(), 2);
  EXPECT_EQ(Pool().in_use(), 0);
  EXPECT_EQ(Devices().devices_size(), 0);
  auto refused = d1->Authorize({Use(kTag, 1)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("released or replaced"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Pool().in_use(), 0);
  r = admin_->Send("POST", release_path, "{}", "application/json", Bearer(report_.admin_api_key));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 404) << "released twice: " << r->body;

  // The released device registers again into its own state directory: a clean start.
  auto again = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "SN1", d1_dir),
                                              DeviceOptions());
  ASSERT_OK(again);
  EXPECT_FALSE(again->released());
  EXPECT_TRUE(again->registration().replaced_instance_id().empty());
  auto last = again->LastAuthorization();
  ASSERT_OK(last);
  EXPECT_FALSE(last->has_value());
  auto a = again->Authorize({Use(kTag, 1)});
  ASSERT_OK(a);
  EXPECT_EQ(a->tags(0).status(), "AUTHORIZED");
  EXPECT_EQ(Pool().in_use(), 1);

  // Rehost: d2's registration and licenses move to PID:SN3; d2's certificate stops working and
  // the device with the new UDI registers to take them over.
  const auto d2_dir = tmp_.path() / "d2";
  auto d2 = client::DeviceClient::Register(RegisterOptionsFor(token, "PID", "SN2", d2_dir),
                                           DeviceOptions());
  ASSERT_OK(d2);
  auto d2a = d2->Authorize({Use(kTag, 2)});
  ASSERT_OK(d2a);
  ASSERT_EQ(d2a->tags(0).status(), "AUTHORIZED");
  ASSERT_EQ(Pool().in_use(), 3);
  v1::RehostDeviceRequest rehost;
  rehost.set_udi("PID:SN3");
  r = admin_->Send("POST", "/v1/admin/devices/" + d2->registration().instance_id() + "/rehost",
                   ToJson(rehost), "application/json", Bearer(report_.admin_api_key));
  ASSERT_OK(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::Device rehosted;
  ASSERT_OK(FromJson(r->body, &rehosted));
  EXPECT_EQ(rehosted.udi(), "PID:SN3");
  EXPECT_EQ(Pool().in_use(), 3);
  auto d2_refused = d2->Authorize({Use(kTag, 2)});
  ASSERT_FALSE(d2_refused.ok());
  EXPECT_EQ(d2_refused.status().code(), Errc::kUnauthenticated);
  EXPECT_EQ(Pool().in_use(), 3);

  auto d3 = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "SN3", tmp_.path() / "d3"), DeviceOptions());
  ASSERT_OK(d3);
  EXPECT_EQ(d3->registration().replaced_instance_id(), d2->registration().instance_id());
  auto d3_status = d3->GetStatus();
  ASSERT_OK(d3_status);
  ASSERT_EQ(d3_status->device.holdings_size(), 1);
  EXPECT_EQ(d3_status->device.holdings(0).count(), 2);
  auto d3a = d3->Authorize({Use(kTag, 2)});  // the pool is full, but these two are its own
  ASSERT_OK(d3a);
  EXPECT_EQ(d3a->tags(0).status(), "AUTHORIZED") << d3a->tags(0).reason();
  EXPECT_EQ(Pool().in_use(), 3);
  EXPECT_EQ(Devices().devices_size(), 2);
}

// One request, one answer per tag: AUTHORIZED, OUT_OF_COMPLIANCE, DENIED (export control),
// NOT_ENTITLED, in request order.
TEST_F(DevicesTest, EachTagIsAnsweredOnItsOwn) {
  Entitlement crypto = MakeEntitlement("ent-crypto", kVa, "crypto", 5, Enforcement::kEnforced);
  crypto.export_controlled = true;
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 1, Enforcement::kReported),
                      MakeEntitlement("ent-pro", kVa, "pro", 1, Enforcement::kEnforced), crypto}));
  auto plain = client::DeviceClient::Register(
      RegisterOptionsFor(CreateToken(kVa, 1), "PID", "SN1", tmp_.path() / "plain"),
      DeviceOptions());
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->registration().export_allowed());
  auto a = plain->Authorize({Use(kTag, 2), Use("crypto", 1), Use("nope", 1), Use("pro", 1)});
  ASSERT_OK(a);
  ASSERT_EQ(a->tags_size(), 4);
  EXPECT_EQ(a->tags(0).status(), "OUT_OF_COMPLIANCE") << a->tags(0).reason();
  EXPECT_EQ(a->tags(0).granted(), 2);
  EXPECT_EQ(a->tags(1).status(), "DENIED") << a->tags(1).reason();
  EXPECT_NE(a->tags(1).reason().find("export"), std::string::npos) << a->tags(1).reason();
  EXPECT_EQ(a->tags(1).granted(), 0);
  EXPECT_EQ(a->tags(2).status(), "NOT_ENTITLED") << a->tags(2).reason();
  EXPECT_EQ(a->tags(2).granted(), 0);
  EXPECT_EQ(a->tags(3).status(), "AUTHORIZED") << a->tags(3).reason();
  EXPECT_EQ(Pool(kVa, kTag).in_use(), 2);
  EXPECT_EQ(Pool(kVa, kTag).status(), "OUT_OF_COMPLIANCE");
  EXPECT_EQ(Pool(kVa, "crypto").in_use(), 0);
  EXPECT_EQ(Pool(kVa, "pro").in_use(), 1);

  auto exporter = client::DeviceClient::Register(
      RegisterOptionsFor(CreateToken(kVa, 1, /*export_controlled=*/true), "PID", "SN2",
                         tmp_.path() / "exporter"),
      DeviceOptions());
  ASSERT_OK(exporter);
  EXPECT_TRUE(exporter->registration().export_allowed());
  auto b = exporter->Authorize({Use("crypto", 1), Use("pro", 1)});
  ASSERT_OK(b);
  EXPECT_EQ(b->tags(0).status(), "AUTHORIZED") << b->tags(0).reason();
  EXPECT_EQ(b->tags(1).status(), "DENIED") << b->tags(1).reason();  // ENFORCED, held by `plain`
  EXPECT_EQ(Pool(kVa, "crypto").in_use(), 1);
  EXPECT_EQ(Pool(kVa, "pro").in_use(), 1);

  // Giving one tag back and keeping another.
  auto c = plain->Authorize({Use(kTag, 1)});
  ASSERT_OK(c);
  EXPECT_EQ(c->tags(0).status(), "AUTHORIZED") << c->tags(0).reason();
  EXPECT_EQ(Pool(kVa, kTag).in_use(), 1);
  EXPECT_EQ(Pool(kVa, "pro").in_use(), 0);
}

// A device that does not renew before valid_until loses its consumption to the sweeper.
TEST_F(DevicesTest, UnrenewedAuthorizationIsSweptAfterValidUntil) {
  auto fake = std::make_shared<testing::FakeClock>(WholeSeconds(std::chrono::system_clock::now()));
  clock_ = fake;
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 2, Enforcement::kEnforced)}));
  const std::string token = CreateToken(kVa, 2);
  auto keeper = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "KEEP", tmp_.path() / "keep"), DeviceOptions());
  ASSERT_OK(keeper);
  auto lapser = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "LAPSE", tmp_.path() / "lapse"), DeviceOptions());
  ASSERT_OK(lapser);
  ASSERT_OK(lapser->Authorize({Use(kTag, 1)}));
  ASSERT_OK(keeper->Authorize({Use(kTag, 1)}));
  ASSERT_EQ(Pool().in_use(), 2);

  // 60 days on, the keeper renews; 31 more days and only the lapser's 90 days are over.
  fake->Advance(std::chrono::hours(24 * 60));
  auto renewed = keeper->Authorize({Use(kTag, 1)});
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->tags(0).status(), "AUTHORIZED");
  fake->Advance(std::chrono::hours(24 * 31));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int64_t in_use = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    in_use = Pool().in_use();
    if (in_use == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(in_use, 1) << "the lapsed authorization was not swept";
  auto lapsed = lapser->GetStatus();
  ASSERT_OK(lapsed);
  EXPECT_EQ(lapsed->device.holdings_size(), 0);
  auto kept = keeper->GetStatus();
  ASSERT_OK(kept);
  ASSERT_EQ(kept->device.holdings_size(), 1);
  // The lapsed device is still registered and can ask again.
  auto back = lapser->Authorize({Use(kTag, 1)});
  ASSERT_OK(back);
  EXPECT_EQ(back->tags(0).status(), "AUTHORIZED") << back->tags(0).reason();
  EXPECT_EQ(Pool().in_use(), 2);
}

// A reservation in an ENFORCED pool keeps units for the named UDI; others cannot take them.
TEST_F(DevicesTest, ReservationHoldsUnitsForTheNamedDevice) {
  ASSERT_NO_FATAL_FAILURE(
      StartSatellite({MakeEntitlement("ent-fw", kVa, kTag, 3, Enforcement::kEnforced)}));
  v1::ReservationRequest reserve;
  reserve.set_va(kVa);
  reserve.set_tag(kTag);
  reserve.set_udi("PID:VIP");
  reserve.set_count(1);
  v1::Reservation held;
  ASSERT_OK(admin_->Call("POST", "/v1/admin/reservations", reserve, &held,
                         Bearer(report_.admin_api_key)));
  EXPECT_EQ(held.count(), 1);
  EXPECT_EQ(Pool().available(), 2);

  const std::string token = CreateToken(kVa, 3);
  auto other = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "OTHER", tmp_.path() / "other"), DeviceOptions());
  ASSERT_OK(other);
  auto greedy = other->Authorize({Use(kTag, 3)});
  ASSERT_OK(greedy);
  EXPECT_EQ(greedy->tags(0).status(), "DENIED") << greedy->tags(0).reason();
  EXPECT_EQ(Pool().in_use(), 0);
  auto fair = other->Authorize({Use(kTag, 2)});
  ASSERT_OK(fair);
  EXPECT_EQ(fair->tags(0).status(), "AUTHORIZED") << fair->tags(0).reason();

  auto third = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "THIRD", tmp_.path() / "third"), DeviceOptions());
  ASSERT_OK(third);
  auto t = third->Authorize({Use(kTag, 1)});
  ASSERT_OK(t);
  EXPECT_EQ(t->tags(0).status(), "DENIED") << t->tags(0).reason();

  auto vip = client::DeviceClient::Register(
      RegisterOptionsFor(token, "PID", "VIP", tmp_.path() / "vip"), DeviceOptions());
  ASSERT_OK(vip);
  auto v = vip->Authorize({Use(kTag, 1)});
  ASSERT_OK(v);
  EXPECT_EQ(v->tags(0).status(), "AUTHORIZED") << v->tags(0).reason();
  v1::LicensePool pool = Pool();
  EXPECT_EQ(pool.in_use(), 3);
  EXPECT_EQ(pool.reserved(), 1);
  EXPECT_EQ(pool.available(), 0);
}

}  // namespace
}  // namespace outpost::server
