// DeviceService (the device facade) over a temporary database with the real migrations and the
// fake clock: registration, authorization and its batch signatures, a device's own release,
// concurrency, rate limits, and every bad device input leaving the database and memory as they
// were.

#include "server/licensing/device_service.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "common/authorization_format.h"
#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/merkle.h"
#include "server/licensing/store.h"
#include "tests/unit/server/licensing/service_test_fixture.h"

namespace outpost::server::licensing {
namespace {

using auth::Role;
using namespace service_testing;  // NOLINT: the shared fixture

// Tests of one facade over the shared fixture (service_test_fixture.h).
using DeviceServiceTest = LicensingServiceTest;

TEST_F(DeviceServiceTest, RegisterAuthorizeReleaseLifecycle) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  const v1::RegisterResponse& reg = d.registration;
  EXPECT_EQ(reg.va(), "east");
  EXPECT_EQ(reg.udi(), "C9300-24T:SN1");
  EXPECT_EQ(reg.satellite_id(), "sat-1");
  auto cert = crypto::Certificate::FromPem(reg.certificate_pem());
  ASSERT_OK(cert);
  EXPECT_EQ(cert->subject_common_name(), reg.instance_id());
  auto cert_key = cert->public_key();
  ASSERT_OK(cert_key);
  EXPECT_EQ(cert_key->ToPem(), d.key.public_key().ToPem());
  auto ca = crypto::Certificate::FromPem(ca_pem_);
  ASSERT_OK(ca);
  EXPECT_OK(
      crypto::VerifyChain(*cert, {}, {*ca}, clock_.Now(), crypto::CertificateProfile::kClient));
  EXPECT_EQ(ToUnixSeconds(cert->not_after()), ToUnixSeconds(clock_.Now()) + 365 * 86400);

  auto answer = Authorize(d.Identity(), {{"fw", 1}, {"dna", 2}, {"nope", 1}});
  ASSERT_OK(answer);
  EXPECT_EQ(StatusOf(*answer, "fw"), "AUTHORIZED");
  EXPECT_EQ(StatusOf(*answer, "dna"), "OUT_OF_COMPLIANCE");
  EXPECT_EQ(StatusOf(*answer, "nope"), "NOT_ENTITLED");
  // Alone in its batch: the Merkle root is the payload's leaf hash, and the signature covers the
  // batch size and that root under the batch domain.
  EXPECT_EQ(answer->algorithm(), "ed25519-merkle");
  EXPECT_EQ(answer->batch_size(), 1u);
  EXPECT_EQ(answer->batch_path_size(), 0);
  EXPECT_OK(signing_key_->public_key().Verify(
      kAuthorizationBatchDomain,
      crypto::MerkleTreeHead(1, crypto::MerkleLeafHash(answer->payload())), answer->signature()));
  v1::Authorization decoded;
  ASSERT_TRUE(decoded.ParseFromString(answer->payload()));
  EXPECT_EQ(decoded.instance_id(), reg.instance_id());
  EXPECT_EQ(decoded.valid_until(), ToUnixSeconds(clock_.Now()) + 90 * 86400);
  EXPECT_EQ(answer->key_id(), signing_key_->public_key().KeyId());
  EXPECT_EQ(InUse("east", "fw"), 1);
  EXPECT_EQ(InUse("east", "dna"), 2);

  // Idempotent: the same request again grants the same.
  auto again = Authorize(d.Identity(), {{"fw", 1}, {"dna", 2}, {"nope", 1}});
  ASSERT_OK(again);
  EXPECT_EQ(StatusOf(*again, "fw"), "AUTHORIZED");
  EXPECT_EQ(InUse("east", "fw"), 1);

  auto self = devices().Self(d.Identity());
  ASSERT_OK(self);
  ASSERT_EQ(self->holdings_size(), 2);

  auto released = Wait<v1::ReleaseResponse>(
      [&](auto done) { devices().ReleaseSelf(d.Identity(), std::move(done)); });
  ASSERT_OK(released);
  EXPECT_EQ(released->released_size(), 2);
  EXPECT_EQ(InUse("east", "fw"), 0);
  auto refused = devices().Identify(d.Certificate());
  EXPECT_EQ(refused.status().code(), Errc::kUnauthenticated);
  EXPECT_EQ(service_->device_count(), 0u);

  std::vector<std::string> actions;
  for (const auto& row : AuditRows()) actions.push_back(row.action);
  for (const char* a : {"device.register", "device.authorize", "device.release"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
  }
}

// Issue 16: a renewal that changes nothing is the compact device.renew, whose digest is that of
// the "tags" text of the full record it repeats; anything else stays a full device.authorize.
TEST_F(DeviceServiceTest, ARenewalThatChangesNothingIsACompactRecord) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  const std::string id = d.registration.instance_id();
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));  // new: full
  clock_.Advance(std::chrono::hours(1));
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));    // only the validity moves: compact
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 2}}));    // another count: full
  ASSERT_OK(Authorize(d.Identity(), {{"dna", 2}}));   // OUT_OF_COMPLIANCE: full
  ASSERT_OK(Authorize(d.Identity(), {{"dna", 2}}));   // still not AUTHORIZED: full again
  ASSERT_OK(Authorize(d.Identity(), {{"nope", 1}}));  // NOT_ENTITLED: full
  ASSERT_OK(Authorize(d.Identity(), {{"nope", 1}}));  // full again
  ASSERT_OK(Authorize(d.Identity(), {{"lease", 1}}));
  ASSERT_OK(Authorize(d.Identity(), {{"lease", 1}}));  // a floating heartbeat: compact

  std::vector<std::string> actions;
  std::vector<auth::testing::AuditRow> rows;
  for (auto& row : AuditRows()) {
    if (row.action != "device.authorize" && row.action != "device.renew") continue;
    actions.push_back(row.action);
    rows.push_back(row);
  }
  EXPECT_EQ(actions,
            (std::vector<std::string>{"device.authorize", "device.renew", "device.authorize",
                                      "device.authorize", "device.authorize", "device.authorize",
                                      "device.authorize", "device.authorize", "device.renew"}));
  ASSERT_EQ(rows.size(), 9u);
  const auth::testing::AuditRow& renew = rows[1];
  EXPECT_EQ(renew.actor, "device:" + id);
  EXPECT_EQ(renew.object, "");
  // The digest: SHA-256 of the exact "tags" text of the full record before it.
  const std::string& full = rows[0].details;
  const size_t at = full.find("\"tags\":");
  ASSERT_NE(at, std::string::npos);
  const std::string tags = full.substr(at + 7, full.size() - at - 8);  // up to the final '}'
  EXPECT_EQ(renew.details,
            "{\"tags\":1,\"digest\":\"" + crypto::Sha256Hex(tags).substr(0, 16) + "\"}");
  EXPECT_LT(renew.details.size() + renew.object.size(), 60u);
  EXPECT_GT(full.size(), 100u);
}

// The compact record's digest is written without building JSON values; with several tags it
// must still be the digest of the full record's "tags" text as boost::json writes it.
TEST_F(DeviceServiceTest, ACompactRecordOfSeveralTagsDigestsTheFullRecordsTags) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN2");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 2}, {"lease", 1}}));  // new: full
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 2}, {"lease", 1}}));  // compact
  std::vector<auth::testing::AuditRow> rows;
  for (auto& row : AuditRows()) {
    if (row.action == "device.authorize" || row.action == "device.renew") rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "device.authorize");
  EXPECT_EQ(rows[1].action, "device.renew");
  const std::string& full = rows[0].details;
  const size_t at = full.find("\"tags\":");
  ASSERT_NE(at, std::string::npos);
  const std::string tags = full.substr(at + 7, full.size() - at - 8);
  EXPECT_NE(tags.find("},{"), std::string::npos) << tags;
  EXPECT_EQ(rows[1].details,
            "{\"tags\":2,\"digest\":\"" + crypto::Sha256Hex(tags).substr(0, 16) + "\"}");
}

TEST_F(DeviceServiceTest, AnswersCommittedTogetherShareOneSignatureAndEachProvesItsPlace) {
  Seed({MakeEntitlement("e1", "east", "fw", 100, clock_.Now(), Enforcement::kEnforced)});
  const std::string token = NewToken();
  constexpr int kDevices = 7;
  std::vector<TestDevice> devices;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(MakeDevice("BATCH" + std::to_string(i)));
    RegisterOrDie(devices.back(), token);
  }
  // Hold the writer so that all seven renewals queue up and commit in one batch.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  writer_->Submit(
      [&entered, released](sqlite::Connection&) {
        entered.set_value();
        released.wait();
        return Status::Ok();
      },
      nullptr);
  entered.get_future().wait();
  std::vector<std::future<Result<v1::SignedAuthorization>>> futures;
  for (TestDevice& d : devices) {
    auto promise = std::make_shared<std::promise<Result<v1::SignedAuthorization>>>();
    futures.push_back(promise->get_future());
    v1::AuthorizeRequest request;
    v1::TagUse* use = request.add_tags();
    use->set_tag("fw");
    use->set_count(1);
    service_->devices().Authorize(
        d.Identity(), request,
        [promise](Result<v1::SignedAuthorization> r) { promise->set_value(std::move(r)); });
  }
  release.set_value();
  std::vector<v1::SignedAuthorization> answers;
  for (auto& f : futures) {
    auto answer = f.get();
    ASSERT_OK(answer);
    answers.push_back(std::move(*answer));
  }
  std::set<uint64_t> indexes;
  for (const v1::SignedAuthorization& a : answers) {
    EXPECT_EQ(a.algorithm(), "ed25519-merkle");
    EXPECT_EQ(a.batch_size(), static_cast<uint64_t>(kDevices));
    EXPECT_EQ(a.signature(), answers[0].signature()) << "one signature for the batch";
    indexes.insert(a.batch_index());
    const std::vector<std::string> path(a.batch_path().begin(), a.batch_path().end());
    auto root = crypto::MerkleRootFromPath(crypto::MerkleLeafHash(a.payload()), a.batch_index(),
                                           a.batch_size(), path);
    ASSERT_OK(root);
    EXPECT_OK(signing_key_->public_key().Verify(
        kAuthorizationBatchDomain, crypto::MerkleTreeHead(a.batch_size(), *root), a.signature()));
    // Another answer's payload does not verify with this one's proof.
    const v1::SignedAuthorization& other = answers[(a.batch_index() + 1) % kDevices];
    auto wrong = crypto::MerkleRootFromPath(crypto::MerkleLeafHash(other.payload()),
                                            a.batch_index(), a.batch_size(), path);
    ASSERT_OK(wrong);
    EXPECT_NE(*wrong, *root);
  }
  EXPECT_EQ(indexes.size(), static_cast<size_t>(kDevices)) << "every answer has its own leaf";
  EXPECT_EQ(InUse("east", "fw"), kDevices);
}

TEST_F(DeviceServiceTest, PublicKeyInsteadOfCsr) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  v1::RegisterRequest request = RegisterRequestFor(d, NewToken());
  request.clear_csr_pem();
  request.set_public_key_pem(d.key.public_key().ToPem());
  auto r = Register(request);
  ASSERT_OK(r);
  auto cert = crypto::Certificate::FromPem(r->certificate_pem());
  ASSERT_OK(cert);
  EXPECT_EQ(cert->public_key()->ToPem(), d.key.public_key().ToPem());
}

TEST_F(DeviceServiceTest, ReRegistrationReplacesInstanceAndCarriesConsumption) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 2}}));
  const DeviceIdentity old = d.Identity();

  TestDevice again = MakeDevice("SN1");
  // The device proves its current registration (its certificate came with the request).
  auto r = Register(RegisterRequestFor(again, NewToken()), "192.0.2.1", old.instance_id);
  ASSERT_OK(r);
  again.registration = *r;
  EXPECT_EQ(again.registration.replaced_instance_id(), old.instance_id);
  EXPECT_NE(again.registration.instance_id(), old.instance_id);
  EXPECT_EQ(InUse("east", "fw"), 2);
  auto self = devices().Self(again.Identity());
  ASSERT_OK(self);
  ASSERT_EQ(self->holdings_size(), 1);
  EXPECT_EQ(self->holdings(0).count(), 2);
  EXPECT_EQ(devices().Identify(d.Certificate()).status().code(), Errc::kUnauthenticated);
  EXPECT_EQ(service_->device_count(), 1u);
  const auto rows = AuditRows();
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().action, "device.reregister");
  EXPECT_NE(rows.back().details.find(old.instance_id), std::string::npos);
}

// Reading a device's label is not enough to evict it (issue 14): without proof of the current
// key, or with a token of another VA, a registered UDI is refused and nothing changes; the
// refusal names nothing of the registered device.

TEST_F(DeviceServiceTest, RegisteredUdiIsTakenOverOnlyWithProofAndInItsOwnVa) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 2}}));
  TestDevice other = MakeDevice("SN2");
  RegisterOrDie(other, NewToken());
  const std::string east = NewToken(), west = NewToken("west");
  const std::string before = DbState();

  TestDevice intruder = MakeDevice("SN1");
  auto refused = Register(RegisterRequestFor(intruder, east));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Errc::kAlreadyExists);
  EXPECT_EQ(refused.status().message().find(d.registration.instance_id()), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("outpost devices release"), std::string::npos);
  // A certificate of another device proves nothing about this one.
  EXPECT_EQ(
      Register(RegisterRequestFor(intruder, east), "192.0.2.1", other.registration.instance_id())
          .status()
          .code(),
      Errc::kAlreadyExists);
  // The device itself, with a token of another VA: refused, its licenses stay where they are.
  auto moved =
      Register(RegisterRequestFor(intruder, west), "192.0.2.1", d.registration.instance_id());
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(moved.status().message().find("registered in virtual account 'east'"),
            std::string::npos)
      << moved.status().message();
  EXPECT_EQ(DbState(), before);  // no instance, consumption, token use or audit record changed
  EXPECT_OK(devices().Identify(d.Certificate()).status());
  EXPECT_EQ(InUse("east", "fw"), 2);
}

TEST_F(DeviceServiceTest, BadRegistrationsChangeNothing) {
  Seed(Standard());
  TestDevice first = MakeDevice("SN1", "PID-A");
  RegisterOrDie(first, NewToken());
  const std::string token = NewToken("east", false, 1);
  const std::string used_up = NewToken("east", false, 1);
  {
    TestDevice x = MakeDevice("X");
    ASSERT_OK(Register(RegisterRequestFor(x, used_up)));
  }
  auto revoked_token = tokens_->Create({"east", 30, std::nullopt, "r", false}, Root());
  ASSERT_OK(revoked_token);
  ASSERT_OK(tokens_->Revoke(revoked_token->record.id, Root()));
  const std::string before = DbState();
  const size_t devices_before = service_->device_count();

  struct Case {
    std::string name;
    std::function<void(v1::RegisterRequest&)> mutate;
    Errc code;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"no token", [](auto& r) { r.clear_token(); }, Errc::kUnauthenticated, "token"},
      {"unknown token", [&](auto& r) { r.set_token("opt_000000000000_" + std::string(43, 'A')); },
       Errc::kUnauthenticated, "unknown token"},
      {"malformed token", [](auto& r) { r.set_token("hello"); }, Errc::kUnauthenticated,
       "malformed"},
      {"revoked token", [&](auto& r) { r.set_token(revoked_token->token); }, Errc::kUnauthenticated,
       "revoked"},
      {"used-up token", [&](auto& r) { r.set_token(used_up); }, Errc::kUnauthenticated, "used up"},
      {"malformed UDI", [](auto& r) { r.set_serial("bad serial!"); }, Errc::kInvalidArgument,
       "serial"},
      {"empty pid", [](auto& r) { r.set_pid(""); }, Errc::kInvalidArgument, "product id"},
      {"hostname with control character", [](auto& r) { r.set_hostname("a\nb"); },
       Errc::kInvalidArgument, "hostname"},
      {"hostname with a C1 control character",
       [](auto& r) {
         r.set_hostname(
             "a\xC2\x9B"
             "b");
       },
       Errc::kInvalidArgument, "control character"},
      {"hostname with a right-to-left override",
       [](auto& r) {
         r.set_hostname(
             "fw-\xE2\x80\xAE"
             "gnp.exe");
       },
       Errc::kInvalidArgument, "direction or format mark"},
      {"hostname that is not UTF-8", [](auto& r) { r.set_hostname("fw-\xFF"); },
       Errc::kInvalidArgument, "not valid UTF-8"},
      {"neither CSR nor key", [](auto& r) { r.clear_csr_pem(); }, Errc::kInvalidArgument,
       "exactly one"},
      {"garbage CSR", [](auto& r) { r.set_csr_pem("not a csr"); }, Errc::kInvalidArgument,
       "csr_pem"},
      {"CSR with a wrong signature",
       [](auto& r) {
         auto csr = crypto::CertificateSigningRequest::FromPem(r.csr_pem());
         ASSERT_OK(csr);
         std::string der = csr->ToDer();
         der[der.size() - 5] ^= 0x01;  // inside the signature
         auto tampered = crypto::CertificateSigningRequest::FromDer(der);
         ASSERT_OK(tampered);
         r.set_csr_pem(tampered->ToPem());
       },
       Errc::kInvalidArgument, "CSR"},
      {"duplicate serial under another product", [](auto& r) { r.set_serial("SN1"); },
       Errc::kAlreadyExists, "under another product id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestDevice d = MakeDevice("SN-NEW", "PID-B");
    v1::RegisterRequest request = RegisterRequestFor(d, token);
    c.mutate(request);
    auto r = Register(request);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().ToString();
    EXPECT_EQ(DbState(), before);
    EXPECT_EQ(service_->device_count(), devices_before);
  }
  // The one-use token is still usable after all those refusals.
  TestDevice ok = MakeDevice("SN-NEW", "PID-B");
  EXPECT_OK(Register(RegisterRequestFor(ok, token)));
}

TEST_F(DeviceServiceTest, ConcurrentDevicesNeverOverAllocateAnEnforcedPool) {
  const TimePoint now = clock_.Now();
  Seed({MakeEntitlement("e1", "east", "fw", 10, now, Enforcement::kEnforced)});
  const std::string token = NewToken();
  std::vector<TestDevice> devices;
  for (int i = 0; i < 40; ++i) {
    devices.push_back(MakeDevice("SN" + std::to_string(i)));
    RegisterOrDie(devices.back(), token);
  }
  std::atomic<int> authorized{0};
  std::atomic<int> denied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < devices.size(); i += 8) {
        // Each device asks twice, as a retrying device would.
        for (int round = 0; round < 2; ++round) {
          auto r = Authorize(devices[i].Identity(), {{"fw", 1}});
          if (!r.ok()) continue;
          if (round == 1) (StatusOf(*r, "fw") == "AUTHORIZED" ? authorized : denied)++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(authorized.load(), 10);
  EXPECT_EQ(denied.load(), 30);
  EXPECT_EQ(InUse("east", "fw"), 10);
  EXPECT_EQ(QueryInt("SELECT sum(count) FROM consumption WHERE tag = 'fw'"), 10);
}

TEST_F(DeviceServiceTest, RegistrationsAreRateLimitedPerAddress) {
  options_.registration_rate_per_minute = 3;
  OpenService();
  Seed(Standard());
  const std::string token = NewToken();
  for (int i = 0; i < 3; ++i) {
    TestDevice d = MakeDevice("SN" + std::to_string(i));
    ASSERT_OK(Register(RegisterRequestFor(d, token), "192.0.2.7"));
  }
  TestDevice d = MakeDevice("SN-over");
  const std::string before = DbState();
  auto refused = Register(RegisterRequestFor(d, token), "192.0.2.7");
  EXPECT_EQ(refused.status().code(), Errc::kResourceExhausted) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("retry in"), std::string::npos);
  EXPECT_EQ(DbState(), before);
  EXPECT_OK(Register(RegisterRequestFor(d, token), "192.0.2.8"));  // another address
  clock_.Advance(std::chrono::seconds(21));                        // one token refilled
  TestDevice e = MakeDevice("SN-later");
  EXPECT_OK(Register(RegisterRequestFor(e, token), "192.0.2.7"));
}

TEST_F(DeviceServiceTest, ExportControlledTagsNeedAnExportToken) {
  Entitlement secret = MakeEntitlement("e9", "east", "crypto", 5, clock_.Now());
  secret.export_controlled = true;
  Seed({secret});
  TestDevice plain = MakeDevice("P");
  TestDevice allowed = MakeDevice("A");
  RegisterOrDie(plain, NewToken("east", false));
  RegisterOrDie(allowed, NewToken("east", true));
  EXPECT_TRUE(allowed.registration.export_allowed());
  auto p = Authorize(plain.Identity(), {{"crypto", 1}});
  ASSERT_OK(p);
  EXPECT_EQ(StatusOf(*p, "crypto"), "DENIED");
  auto a = Authorize(allowed.Identity(), {{"crypto", 1}});
  ASSERT_OK(a);
  EXPECT_EQ(StatusOf(*a, "crypto"), "AUTHORIZED");
}

TEST_F(DeviceServiceTest, BadAuthorizationsChangeNothing) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  const std::string before = DbState();
  const BookState book_before = service_->Snapshot();

  for (const auto& [name, tags, fragment] : std::vector<
           std::tuple<std::string, std::vector<std::pair<std::string, int64_t>>, std::string>>{
           {"negative count", {{"fw", -1}}, "count"},
           {"zero count", {{"fw", 0}}, "count"},
           {"absurd count", {{"fw", 1'000'000'000'000}}, "count"},
           {"duplicate tags", {{"fw", 1}, {"fw", 1}}, "appears twice"},
           {"malformed tag", {{"bad tag", 1}}, "tag"},
       }) {
    SCOPED_TRACE(name);
    auto r = Authorize(d.Identity(), tags);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().ToString();
    EXPECT_EQ(DbState(), before);
    EXPECT_EQ(service_->Snapshot(), book_before);
  }
  // A certificate without a registration behind it.
  EXPECT_EQ(devices().Identify(std::nullopt).status().code(), Errc::kUnauthenticated);
  auto stranger = Authorize({"not-registered", "00"}, {{"fw", 1}});
  EXPECT_EQ(stranger.status().code(), Errc::kUnauthenticated);

  EXPECT_EQ(DbState(), before);
  EXPECT_EQ(service_->Snapshot(), book_before);
}

// --- Certificate renewal ------------------------------------------------------------------------

class DeviceRenewalTest : public DeviceServiceTest {
 protected:
  Result<v1::RegisterResponse> Renew(const TestDevice& d, const std::string& csr_pem) {
    v1::RenewRequest request;
    request.set_csr_pem(csr_pem);
    auto current = d.Certificate();
    return Wait<v1::RegisterResponse>(
        [&](auto done) { devices().Renew(d.Identity(), *current, request, std::move(done)); });
  }

  std::string CsrFor(const std::string& common_name) {
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    EXPECT_OK(key);
    auto csr = crypto::CertificateSigningRequest::Create(*key, common_name);
    EXPECT_OK(csr);
    return csr->ToPem();
  }
};

TEST_F(DeviceRenewalTest, RenewalIssuesANewCertificateAndRefusesTheOldOneAtOnce) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  RegisterOrDie(d, NewToken());
  clock_.Advance(181 * kDay);
  ASSERT_OK(Authorize(d.Identity(), {{"fw", 1}}));
  const size_t audit_before = QueryInt("SELECT count(*) FROM audit_log");
  auto renewed = Renew(d, CsrFor(d.registration.instance_id()));
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->instance_id(), d.registration.instance_id());
  EXPECT_EQ(renewed->va(), "east");
  EXPECT_EQ(renewed->udi(), "C9300-24T:SN1");
  EXPECT_TRUE(renewed->replaced_instance_id().empty());
  EXPECT_EQ(renewed->certificate_not_after(), ToUnixSeconds(clock_.Now() + 365 * kDay));

  // The old certificate is refused by every device call; the new one works, licenses kept.
  EXPECT_EQ(devices().Identify(d.Certificate()).status().code(), Errc::kUnauthenticated);
  auto new_cert = crypto::Certificate::FromPem(renewed->certificate_pem());
  ASSERT_OK(new_cert);
  const std::string new_serial = new_cert->serial_hex();
  const std::optional<crypto::Certificate> presented = std::move(*new_cert);
  ASSERT_OK(devices().Identify(presented));
  EXPECT_EQ(InUse("east", "fw"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_log WHERE action = 'device.certificate.renew'"),
            1);
  EXPECT_EQ(static_cast<size_t>(QueryInt("SELECT count(*) FROM audit_log")), audit_before + 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM devices WHERE cert_serial = '" + new_serial + "'"), 1);
  // Still so after a restart (the table holds the new serial).
  OpenService();
  EXPECT_EQ(devices().Identify(d.Certificate()).status().code(), Errc::kUnauthenticated);
  ASSERT_OK(devices().Identify(presented));
  // The superseded certificate still proves the instance for a registration with a token.
  EXPECT_EQ(devices().CertifiedInstance(d.Certificate()), d.registration.instance_id());
}

TEST_F(DeviceRenewalTest, BadRenewalsAreRefusedAndChangeNothing) {
  Seed(Standard());
  TestDevice d = MakeDevice("SN1");
  TestDevice other = MakeDevice("SN2");
  const std::string token = NewToken();
  RegisterOrDie(d, token);
  RegisterOrDie(other, token);
  const std::string instance = d.registration.instance_id();

  // Too early: before renew_after, naming when it opens.
  clock_.Advance(10 * kDay);
  std::string before = DbState();
  auto early = Renew(d, CsrFor(instance));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(
      early.status().message().find("can be renewed from " + d.registration.renew_after_text()),
      std::string::npos)
      << early.status().message();

  clock_.Advance(171 * kDay);
  struct Case {
    std::string csr;
    Errc code;
    std::string says;
  };
  const std::string current_key_csr =
      crypto::CertificateSigningRequest::Create(d.key, instance)->ToPem();
  for (const Case& c : std::vector<Case>{
           {CsrFor(other.registration.instance_id()), Errc::kPermissionDenied, "its own"},
           {CsrFor("outpost device"), Errc::kPermissionDenied, "its own"},
           {"", Errc::kInvalidArgument, "csr_pem"},
           {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            Errc::kInvalidArgument, "not a PEM"},
           {current_key_csr, Errc::kInvalidArgument, "new key"}}) {
    auto r = Renew(d, c.csr);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(DbState(), before);
  ASSERT_OK(devices().Identify(d.Certificate()));

  // A released device cannot renew.
  ASSERT_OK(Wait<v1::ReleaseResponse>(
      [&](auto done) { devices().ReleaseSelf(other.Identity(), std::move(done)); }));
  auto released = Renew(other, CsrFor(other.registration.instance_id()));
  ASSERT_FALSE(released.ok());
  EXPECT_EQ(released.status().code(), Errc::kUnauthenticated);
  EXPECT_FALSE(devices().CertifiedInstance(other.Certificate()).has_value());
  before = DbState();

  // Expired by the satellite's clock: register again with a token.
  clock_.Advance(200 * kDay);
  auto expired = Renew(d, CsrFor(instance));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(expired.status().message().find("Register the device again with a token"),
            std::string::npos)
      << expired.status().message();
  EXPECT_EQ(DbState(), before);
  // ... which takes the expired registration over without other proof.
  TestDevice again = MakeDevice("SN1");
  auto taken = Register(RegisterRequestFor(again, NewToken()));
  ASSERT_OK(taken);
  EXPECT_EQ(taken->replaced_instance_id(), instance);
}

}  // namespace
}  // namespace outpost::server::licensing
