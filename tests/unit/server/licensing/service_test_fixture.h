#pragma once

// LicensingService over a temporary database with the real migrations and the fake clock: the
// fixture the service's tests share (service_test.cc, device_service_test.cc,
// operator_service_test.cc, state_file_test.cc). devices() and operators() are its two facades.

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/licensing/service.h"
#include "tests/unit/server/auth/auth_test_util.h"
#include "tests/unit/server/licensing/core/licensing_test_util.h"

namespace outpost::server::licensing::service_testing {

using auth::Role;

template <typename T>
Result<T> Wait(std::function<void(std::function<void(Result<T>)>)> call) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  call([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

// A device key, its CSR and, once registered, its certificate.
struct TestDevice {
  crypto::PrivateKey key;
  std::string csr_pem;
  Udi udi;
  v1::RegisterResponse registration;

  DeviceIdentity Identity() const {
    auto cert = crypto::Certificate::FromPem(registration.certificate_pem());
    EXPECT_OK(cert);
    return {cert->subject_common_name(), cert->serial_hex()};
  }
  std::optional<crypto::Certificate> Certificate() const {
    auto cert = crypto::Certificate::FromPem(registration.certificate_pem());
    EXPECT_OK(cert);
    return std::move(*cert);
  }
};

class LicensingServiceTest : public auth::testing::AuthStoreTest {
 protected:
  void SetUp() override {
    AuthStoreTest::SetUp();
    tokens_ = std::make_unique<TokenStore>(*writer_, *readers_, clock_, TokenPolicy{30, 365});
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_OK(key);
    signing_key_.emplace(std::move(*key));
    auto ca_key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    ASSERT_OK(ca_key);
    auto ca = crypto::CertificateAuthority::CreateRoot(
        std::move(*ca_key), "test satellite CA", clock_.Now() - kDay, clock_.Now() + 3650 * kDay);
    ASSERT_OK(ca);
    ca_pem_ = ca->certificate().ToPem();
    ca_key_pem_ = ca->key().ToPem();
    OpenService();
  }

  void TearDown() override {
    service_.reset();
    tokens_.reset();
    AuthStoreTest::TearDown();
  }

  void OpenService() { ASSERT_OK(TryOpenService()); }

  // Replaces the service with a new one over the same database (a restart); on failure there is
  // no service.
  Status TryOpenService() {
    service_.reset();
    OUTPOST_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::FromPem(ca_pem_));
    OUTPOST_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::FromPem(ca_key_pem_));
    OUTPOST_ASSIGN_OR_RETURN(auto ca,
                             crypto::CertificateAuthority::Load(std::move(cert), std::move(key)));
    OUTPOST_ASSIGN_OR_RETURN(service_,
                             LicensingService::Create(*writer_, *readers_, clock_, std::move(ca),
                                                      *signing_key_, "sat-1", *tokens_, options_));
    return Status::Ok();
  }

  DeviceService& devices() { return service_->devices(); }
  OperatorService& operators() { return service_->operators(); }

  void Seed(std::vector<Entitlement> entitlements) {
    ASSERT_OK(operators().ReplaceEntitlements(std::move(entitlements), audit::Actor::System()));
  }

  std::string NewToken(const std::string& va = "east", bool export_controlled = false,
                       std::optional<int64_t> max_uses = std::nullopt) {
    auto created = tokens_->Create({va, 30, max_uses, "test", export_controlled}, Root());
    EXPECT_OK(created);
    return created.ok() ? created->token : "";
  }

  TestDevice MakeDevice(const std::string& serial, const std::string& pid = "C9300-24T") {
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    EXPECT_OK(key);
    auto csr = crypto::CertificateSigningRequest::Create(*key, "device");
    EXPECT_OK(csr);
    return TestDevice{std::move(*key), csr->ToPem(), Udi{pid, serial}, {}};
  }

  v1::RegisterRequest RegisterRequestFor(const TestDevice& d, const std::string& token) {
    v1::RegisterRequest r;
    r.set_token(token);
    r.set_pid(d.udi.pid);
    r.set_serial(d.udi.serial);
    r.set_hostname("host-" + d.udi.serial);
    r.set_csr_pem(d.csr_pem);
    return r;
  }

  // `proven`: the instance the request's client certificate identifies (a device registering
  // again with its current certificate).
  Result<v1::RegisterResponse> Register(const v1::RegisterRequest& request,
                                        const std::string& address = "192.0.2.1",
                                        std::optional<std::string> proven = std::nullopt) {
    return Wait<v1::RegisterResponse>([&](auto done) {
      devices().Register(request, address, std::move(proven), std::move(done));
    });
  }

  void RegisterOrDie(TestDevice& d, const std::string& token) {
    auto r = Register(RegisterRequestFor(d, token));
    ASSERT_OK(r);
    d.registration = *r;
  }

  Result<v1::SignedAuthorization> Authorize(const DeviceIdentity& id,
                                            std::vector<std::pair<std::string, int64_t>> tags) {
    v1::AuthorizeRequest request;
    for (auto& [tag, count] : tags) {
      v1::TagUse* u = request.add_tags();
      u->set_tag(tag);
      u->set_count(count);
    }
    return Wait<v1::SignedAuthorization>(
        [&](auto done) { devices().Authorize(id, request, std::move(done)); });
  }

  static std::string StatusOf(const v1::SignedAuthorization& a, const std::string& tag) {
    for (const auto& t : a.authorization().tags()) {
      if (t.tag() == tag) return t.status();
    }
    return "(absent)";
  }

  int64_t InUse(const std::string& va, const std::string& tag) {
    const v1::ListLicensesResponse licenses = operators().Licenses(va);
    for (const auto& p : licenses.pools()) {
      if (p.tag() == tag) return p.in_use();
    }
    return -1;
  }

  // Everything bad input must leave alone: rows of every licensing table, token uses, audit.
  std::string DbState() {
    std::string out;
    for (const char* sql :
         {"SELECT count(*) FROM devices", "SELECT count(*) FROM consumption",
          "SELECT coalesce(sum(count), 0) FROM consumption", "SELECT count(*) FROM entitlements",
          "SELECT coalesce(sum(quantity), 0) FROM entitlements",
          "SELECT count(*) FROM reservations", "SELECT count(*) FROM license_moves",
          "SELECT coalesce(sum(uses), 0) FROM tokens", "SELECT count(*) FROM audit_log"}) {
      out += std::to_string(QueryInt(sql)) + "/";
    }
    return out;
  }

  std::vector<Entitlement> Standard() {
    const TimePoint now = clock_.Now();
    Entitlement floating = MakeEntitlement("e3", "east", "lease", 1, now);
    floating.floating = true;
    return {MakeEntitlement("e1", "east", "fw", 2, now, Enforcement::kEnforced),
            MakeEntitlement("e2", "east", "dna", 1, now), floating,
            MakeEntitlement("e4", "west", "fw", 5, now, Enforcement::kEnforced)};
  }

  LicensingOptions options_;
  std::unique_ptr<TokenStore> tokens_;
  std::optional<crypto::PrivateKey> signing_key_;
  std::string ca_pem_;
  std::string ca_key_pem_;
  std::unique_ptr<LicensingService> service_;
};

}  // namespace outpost::server::licensing::service_testing
