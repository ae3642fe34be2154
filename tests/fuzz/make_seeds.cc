// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) with the project's
// own code: bundles of each kind signed by the fuzz test key (binary and armored), HTTP requests
// with JSON and protobuf bodies in fuzz_http_router's input layout, a CSR, public keys and a
// certificate, an API key and a token, the rendered default configuration, stored values, and
// signed authorizations in both forms, the device library's answers and a state directory, and
// sync request bodies as central receives them (central_request_input.h). Deterministic where the
// format allows (Ed25519 keys come from fixed seeds; the CA and CSR keys are random). Run by hand
// when a format changes:
//   build/fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "client/authorization.h"
#include "client/device_state.h"
#include "common/audit_format.h"
#include "common/authorization_format.h"
#include "common/config/config_file.h"
#include "common/crypto/ca.h"
#include "common/crypto/encoding.h"
#include "common/crypto/merkle.h"
#include "common/crypto/x509.h"
#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/devices.pb.h"
#include "server/auth/secrets.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/trust.h"
#include "tests/fuzz/central_request_input.h"
#include "tests/fuzz/device_state_input.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;
namespace fs = std::filesystem;

fs::path g_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / target);
  std::ofstream(g_root / target / name, std::ios::binary) << bytes;
}

template <typename T>
T Must(Result<T> r, const char* what) {
  fuzz::Check(r.ok(), what);
  return std::move(*r);
}

// fuzz_http_router's layout (FuzzedDataProvider): the target as a string ended by "\\" + one
// character, then the body; the choices are read from the end: method, Content-Type, "use it",
// Accept.
std::string HttpInput(int method, const std::string& target, int content_type,
                      const std::string& body, int accept) {
  std::string out = target + "\\x" + body;
  out.push_back(static_cast<char>(accept));
  out.push_back(1);  // use the listed Content-Type
  out.push_back(static_cast<char>(content_type));
  out.push_back(static_cast<char>(method));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds CORPUS_DIR\n";
    return 2;
  }
  g_root = argv[1];
  const TimePoint now{std::chrono::seconds(1'800'000'000)};
  const int64_t now_s = 1'800'000'000;

  // --- bundles --------------------------------------------------------------------------------
  v1::BundlePayload response;
  response.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  auto* r = response.mutable_sync_response();
  r->set_satellite_id("sat-1");
  r->set_account_id("acct-1");
  r->set_response_number(4);
  r->set_answers_request_sequence(5);
  r->set_issued_at(now_s - 60);
  r->set_valid_until(now_s + 86400);
  auto* e = r->add_entitlements();
  e->set_id("ent-1");
  e->set_va("branch-east");
  e->set_tag("regid.2026-01.com.example.fw.base");
  e->set_quantity(10);
  e->set_start(now_s - 86400);
  e->set_enforcement(v1::ENFORCEMENT_ENFORCED);
  r->add_virtual_accounts("branch-east");
  r->add_acknowledged_report_ids("rep-1");
  r->mutable_policy()->set_authorization_validity_s(86400);
  auto next = Must(crypto::PrivateKey::FromRawEd25519(std::string(32, '\x55')), "next key");
  *r->mutable_key_rotation() =
      Must(sync::MakeKeyRotation(fuzz::TestKey().public_key(), next, now), "rotation");

  v1::BundlePayload request;
  request.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
  auto* q = request.mutable_sync_request();
  q->set_satellite_id("sat-1");
  q->set_account_id("acct-1");
  q->set_sequence(6);
  q->set_satellite_public_key_pem(fuzz::OtherKey().public_key().ToPem());
  q->set_enrollment_proof(
      sync::EnrollmentProof(std::string(32, '\x01'), fuzz::OtherKey().public_key()));
  q->set_central_key_id(fuzz::TestKey().public_key().KeyId());
  auto* u = q->add_usage_reports();
  u->set_report_id("rep-2");
  u->set_va("branch-east");
  u->set_tag("regid.2026-01.com.example.fw.base");
  u->set_period_start(now_s - 3600);
  u->set_period_end(now_s);
  u->set_peak_in_use(3);
  q->set_created_at(now_s);
  q->set_software_version("0.1.0");

  v1::BundlePayload enrollment;
  enrollment.set_kind(v1::BUNDLE_KIND_ENROLLMENT);
  auto* en = enrollment.mutable_enrollment();
  en->set_satellite_id("sat-1");
  en->set_account_id("acct-1");
  en->set_account_name("Example Corp");
  en->set_central_public_key_pem(fuzz::TestKey().public_key().ToPem());
  en->set_central_key_id(fuzz::TestKey().public_key().KeyId());
  en->set_enrollment_secret(std::string(32, '\x01'));
  en->set_central_url("https://central.example:9443");
  en->set_issued_at(now_s);

  const std::pair<const char*, v1::BundlePayload*> payloads[] = {
      {"sync-response", &response}, {"sync-request", &request}, {"enrollment", &enrollment}};
  for (const auto& [name, payload] : payloads) {
    auto bundle = Must(sync::SignBundle(*payload, fuzz::TestKey()), "sign bundle");
    Write("fuzz_bundle_bytes", name, sync::SerializeBundle(bundle));
    Write("fuzz_bundle_armor", std::string(name) + ".txt", sync::Armor(bundle, payload->kind()));
    Write("fuzz_bundle_payload", name, payload->SerializeAsString());
  }

  // --- HTTP -----------------------------------------------------------------------------------
  auto device_key = Must(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256), "key");
  auto csr = Must(crypto::CertificateSigningRequest::Create(device_key, "device"), "csr");
  v1::RegisterRequest reg;
  reg.set_token("opt_0123456789ab_" + std::string(42, 'A') + "A");
  reg.set_pid("ROUTER-X");
  reg.set_serial("SN0001");
  reg.set_hostname("edge-1.example");
  reg.set_csr_pem(csr.ToPem());
  v1::AuthorizeRequest auth;
  auto* use = auth.add_tags();
  use->set_tag("regid.2026-01.com.example.fw.base");
  use->set_count(2);
  v1::LoginRequest login;
  login.set_user("admin");
  login.set_password("correct horse battery staple");
  // Methods: 0 GET, 1 POST, 2 DELETE; Content-Types: 1 JSON, 2 protobuf; Accepts: 0 none,
  // 1 protobuf, 2 JSON.
  Write("fuzz_http_router", "register-json",
        HttpInput(1, "/v1/devices/register", 1, ToJson(reg), 0));
  Write("fuzz_http_router", "register-proto",
        HttpInput(1, "/v1/devices/register", 2, reg.SerializeAsString(), 1));
  Write("fuzz_http_router", "authorize-json",
        HttpInput(1, "/v1/devices/authorize", 1, ToJson(auth), 2));
  Write("fuzz_http_router", "authorize-proto",
        HttpInput(1, "/v1/devices/authorize", 2, auth.SerializeAsString(), 1));
  Write("fuzz_http_router", "login-json", HttpInput(1, "/v1/admin/login", 1, ToJson(login), 0));
  Write("fuzz_http_router", "tokens-query",
        HttpInput(0, "/v1/admin/tokens?va=branch-east&limit=10%20", 0, "", 0));
  Write("fuzz_http_router", "delete-key", HttpInput(2, "/v1/admin/apikeys/0123456789ab", 0, "", 0));

  // --- crypto ---------------------------------------------------------------------------------
  Write("fuzz_csr", "ecdsa.pem", csr.ToPem());
  auto ed_csr = Must(crypto::CertificateSigningRequest::Create(fuzz::OtherKey(), "ed"), "csr");
  Write("fuzz_csr", "ed25519.der", ed_csr.ToDer());
  Write("fuzz_public_key", "ed25519.pem", fuzz::TestKey().public_key().ToPem());
  Write("fuzz_public_key", "ecdsa.der", device_key.public_key().ToDer());
  auto ca = Must(crypto::CertificateAuthority::CreateRoot(
                     Must(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256), "k"),
                     "Seed CA", now, now + std::chrono::hours(24 * 365)),
                 "ca");
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kServer;
  profile.common_name = "localhost";
  profile.dns_names = {"localhost"};
  profile.ip_addresses = {"127.0.0.1", "::1"};
  profile.not_before = now;
  profile.not_after = now + std::chrono::hours(24);
  auto leaf = Must(ca.Issue(device_key.public_key(), profile), "leaf");
  Write("fuzz_public_key", "chain.pem", crypto::ToPemChain({leaf, ca.certificate()}));

  // --- secrets, config, stored values -----------------------------------------------------------
  Write("fuzz_bearer", "apikey", Must(server::auth::NewApiKey(), "apikey").key);
  Write("fuzz_bearer", "token", Must(server::auth::NewBearer("opt_"), "token").key);
  auto defaults = Must(config::ParseConfig("", "defaults"), "defaults");
  Write("fuzz_config", "rendered.toml", config::RenderConfig(defaults));
  Write("fuzz_config", "small.toml",
        "listen = \"127.0.0.1:8443\"\n[server]\nread_timeout = \"30s\"\n[sync]\nmode = "
        "\"offline\"\n");
  Write("fuzz_config", "override", "server.read_timeout=1h30m");
  const std::pair<const char*, const char*> values[] = {
      {"int", "1800000000"},
      {"negative", "-42"},
      {"udi", "ROUTER-X:SN0001"},
      {"uuid", "0f6c2d3e-1a2b-4c3d-8e9f-001122334455"},
      {"serial", "3f09a1b2c3d4e5f60718293a4b5c6d7e"},
      {"tag-use", "regid.2026-01.com.example.fw.base:3"}};
  for (const auto& [name, text] : values) Write("fuzz_stored_values", name, text);

  // --- authorizations -------------------------------------------------------------------------
  v1::Authorization a;
  a.set_satellite_id("sat-1");
  a.set_instance_id("dev-1");
  a.set_va("branch-east");
  a.set_udi("ROUTER-X:SN0001");
  a.set_issued_at(now_s);
  a.set_valid_until(now_s + 86400);
  a.set_renew_after(now_s + 43200);
  auto* t = a.add_tags();
  t->set_tag("regid.2026-01.com.example.fw.base");
  t->set_requested(2);
  t->set_granted(2);
  t->set_status("AUTHORIZED");
  t->set_valid_until(now_s + 86400);
  v1::SignedAuthorization single;
  single.set_payload(a.SerializeAsString());
  single.set_key_id(fuzz::TestKey().public_key().KeyId());
  single.set_algorithm(std::string(kAuthorizationAlgorithm));
  single.set_signature(Must(fuzz::TestKey().Sign(kAuthorizationDomain, single.payload()), "sig"));
  Write("fuzz_authorization", "single", single.SerializeAsString());
  // A batch of three, this answer second.
  std::vector<std::string> leaves = {crypto::MerkleLeafHash("a"),
                                     crypto::MerkleLeafHash(single.payload()),
                                     crypto::MerkleLeafHash("c")};
  crypto::MerkleTree tree = crypto::BuildMerkleTree(leaves);
  v1::SignedAuthorization batch = single;
  batch.set_algorithm(std::string(kAuthorizationBatchAlgorithm));
  batch.set_batch_index(1);
  batch.set_batch_size(3);
  for (const auto& h : tree.paths[1]) batch.add_batch_path(h);
  batch.set_signature(
      Must(fuzz::TestKey().Sign(kAuthorizationBatchDomain, crypto::MerkleTreeHead(3, tree.root)),
           "batch sig"));
  Write("fuzz_authorization", "batch", batch.SerializeAsString());

  // --- the device library's answers and state directory (fuzz_device_state) -------------------
  v1::Authorization for_device = a;
  for_device.set_instance_id("inst-1");
  v1::SignedAuthorization device_answer = single;
  device_answer.set_payload(for_device.SerializeAsString());
  *device_answer.mutable_authorization() = for_device;  // the unsigned copy, as sent
  // An empty RegisterResponse: the target fills every field from its valid answer.
  Write("fuzz_device_state", "network-valid",
        fuzz::JoinParts('n', {"", device_answer.SerializeAsString()}));
  v1::RegisterResponse odd;
  odd.set_instance_id("../../../../tmp/x");
  odd.set_va("branch-east");
  odd.set_replaced_instance_id("inst-0");
  odd.set_certificate_not_after_text("2027-01-16T08:00:00Z");
  Write("fuzz_device_state", "network-fields",
        fuzz::JoinParts('n', {odd.SerializeAsString(), device_answer.SerializeAsString()}));
  {
    auto ca = Must(crypto::CertificateAuthority::CreateRoot(
                       Must(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256), "k"),
                       "seed CA", now - std::chrono::hours(1), now + std::chrono::hours(48)),
                   "seed ca");
    auto device_key = Must(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256), "dk");
    crypto::CertificateProfile profile;
    profile.usage = crypto::CertificateProfile::kClient;
    profile.common_name = "inst-1";
    profile.not_before = now - std::chrono::hours(1);
    profile.not_after = now + std::chrono::hours(24);
    auto certificate = Must(ca.Issue(device_key.public_key(), profile), "device cert");
    v1::RegisterResponse r;
    r.set_instance_id("inst-1");
    r.set_va("default");
    r.set_udi("PID1:SN1");
    r.set_certificate_pem(certificate.ToPem());
    r.add_ca_chain_pem(ca.certificate().ToPem());
    r.set_satellite_id("sat-1");
    r.set_signing_public_key_pem(fuzz::TestKey().public_key().ToPem());
    r.set_signing_key_id(fuzz::TestKey().public_key().KeyId());
    const fs::path dir =
        fs::temp_directory_path() / ("make_seeds_state_" + std::to_string(::getpid()));
    auto state = Must(
        client::DeviceState::FromRegistration(
            dir, "https://127.0.0.1:8443", ca.certificate().ToPem(), std::move(device_key), r, now),
        "seed registration");
    fuzz::Check(state.Save().ok(), "seed save");
    fuzz::Check(state.SaveAuthorization(client::CanonicalSignedForm(device_answer)).ok(),
                "seed authorization");
    std::vector<std::string> files;
    for (const char* name : fuzz::kStateFiles) {
      if (!fs::exists(dir / name)) break;
      std::ifstream in(dir / name, std::ios::binary);
      files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    Write("fuzz_device_state", "state-valid", fuzz::JoinParts('s', files));
    fs::remove_all(dir);
  }
  // --- sync request bodies for central (fuzz_central_request) ---------------------------------
  {
    namespace w = fuzz::central_world;
    const auto request_of = [&](const char* satellite, const char* account,
                                const crypto::PrivateKey& key, int64_t sequence) {
      v1::BundlePayload p;
      p.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
      auto* q = p.mutable_sync_request();
      q->set_satellite_id(satellite);
      q->set_account_id(account);
      q->set_sequence(sequence);
      q->set_central_key_id(fuzz::TestKey().public_key().KeyId());
      q->set_created_at(w::kNow - 10);
      q->set_software_version("0.1.0");
      auto* u = q->add_usage_reports();
      u->set_report_id("0f6c2d3e-1a2b-4c3d-8e9f-001122334455");
      u->set_va("default");
      u->set_tag(w::kTag);
      u->set_period_start(w::kNow - 7200);
      u->set_period_end(w::kNow);
      u->set_peak_in_use(3);
      auto* sample = u->add_samples();
      sample->set_hour_start(w::kNow - 7200);
      sample->set_peak_in_use(3);
      auto* inventory = q->mutable_inventory();
      inventory->set_devices_total(2);
      auto* va = inventory->add_virtual_accounts();
      va->set_va("default");
      va->set_devices(2);
      auto* in_use = va->add_in_use();
      in_use->set_tag(w::kTag);
      in_use->set_in_use(3);
      auto* m = q->add_moves();
      m->set_move_id("move-1");
      m->set_from_va("default");
      m->set_to_va(w::kVa);
      m->set_tag(w::kTag);
      m->set_count(1);
      auto* c = q->add_conversions();
      c->set_conversion_id("conv-1");
      c->set_key("PAK-0000-1111-2222-3333-4444-5555-6666-7777");
      c->set_va("default");
      auto* head = q->mutable_audit_head();
      const std::string hash(32, '\x5a');
      head->set_seq(41);
      head->set_hash(crypto::HexEncode(hash));
      head->set_time_ms((w::kNow - 20) * 1000);
      head->set_key_id(key.public_key().KeyId());
      head->set_signature(
          Must(key.Sign(kAuditCheckpointDomain, AuditCheckpointMessage(41, hash, head->time_ms())),
               "audit head signature"));
      return p;
    };
    const std::string target = "fuzz_central_request";
    v1::BundlePayload acme =
        request_of(w::kAcmeSatellite, w::kAcme, w::AcmeSatelliteKey(), w::kAcmeLastSequence + 1);
    auto acme_signed = Must(sync::SignBundle(acme, w::AcmeSatelliteKey()), "sign acme request");
    Write(target, "acme-request", sync::SerializeBundle(acme_signed));
    Write(target, "acme-request.txt", sync::Armor(acme_signed, v1::BUNDLE_KIND_SYNC_REQUEST));
    // The flood of issue 17: acme's satellite id, a signature by a key nobody bound to it.
    sync::SignedBundle junk = Must(sync::SignBundle(acme, fuzz::OtherKey()), "junk");
    junk.set_key_id(w::AcmeSatelliteKey().public_key().KeyId());
    Write(target, "acme-bad-signature", sync::SerializeBundle(junk));
    // The unbound satellite's first contact: it introduces OtherKey with its enrollment proof.
    v1::BundlePayload first = request_of(w::kNewSatellite, w::kAcme, fuzz::OtherKey(), 1);
    first.mutable_sync_request()->set_satellite_public_key_pem(
        fuzz::OtherKey().public_key().ToPem());
    first.mutable_sync_request()->set_enrollment_proof(
        sync::EnrollmentProof(w::NewEnrollmentSecret(), fuzz::OtherKey().public_key()));
    Write(target, "first-contact",
          sync::SerializeBundle(Must(sync::SignBundle(first, fuzz::OtherKey()), "first")));
    // Another customer's satellite, with its own key, naming acme's satellite.
    v1::BundlePayload evil = request_of(w::kEvilSatellite, w::kEvil, w::EvilSatelliteKey(), 2);
    Write(target, "evil-request",
          sync::SerializeBundle(Must(sync::SignBundle(evil, w::EvilSatelliteKey()), "evil")));
    evil.mutable_sync_request()->set_satellite_id(w::kAcmeSatellite);
    Write(target, "evil-names-acme",
          sync::SerializeBundle(Must(sync::SignBundle(evil, w::EvilSatelliteKey()), "evil2")));
  }
  std::cout << "seeds written under " << g_root << "\n";
  return 0;
}
