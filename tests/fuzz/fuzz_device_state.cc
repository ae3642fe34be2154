// What the device library takes from its satellite and from its state directory (issue 17):
//   'n' a registration answer (RegisterResponse) checked by DeviceState::FromRegistration against
//       a fixed trusted CA, then an authorization answer (SignedAuthorization) re-signed with the
//       pinned key and put through VerifyAuthorization, CheckAnswersRequest and CheckCurrent, as
//       DeviceClient::Register and Authorize do. Fields the input leaves empty are filled from a
//       valid answer, so the checks after the certificate and key parsing run too.
//   's' the files of a state directory (device_state_input.h), written to a scratch directory and
//       read by DeviceState::Load and LoadAuthorization, then verified like LastAuthorization.
// Properties: an accepted registration saves and loads back unchanged; an accepted answer, stored
// in its canonical form, loads back and verifies (an answer can never make the state unreadable).
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/authorization.h"
#include "client/device_state.h"
#include "common/crypto/ca.h"
#include "tests/fuzz/device_state_input.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;
namespace fs = std::filesystem;

const TimePoint kNow = FromUnixSeconds(fuzz::kDeviceFuzzNow);

// A valid registration for a fixed device key, from a CA made once per process.
struct World {
  std::string ca_pem;
  std::string device_key_pem;
  v1::RegisterResponse valid;
  fs::path scratch;
};

const World& TheWorld() {
  static const World* world = [] {
    auto* w = new World;
    auto ca_key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    fuzz::Check(ca_key.ok(), "ca key");
    auto ca = crypto::CertificateAuthority::CreateRoot(
        std::move(*ca_key), "fuzz CA", kNow - std::chrono::hours(1), kNow + std::chrono::hours(48));
    fuzz::Check(ca.ok(), "ca");
    auto device_key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    fuzz::Check(device_key.ok(), "device key");
    crypto::CertificateProfile profile;
    profile.usage = crypto::CertificateProfile::kClient;
    profile.common_name = "inst-1";
    profile.not_before = kNow - std::chrono::hours(1);
    profile.not_after = kNow + std::chrono::hours(24);
    auto certificate = ca->Issue(device_key->public_key(), profile);
    fuzz::Check(certificate.ok(), "certificate");
    w->ca_pem = ca->certificate().ToPem();
    w->device_key_pem = device_key->ToPem();
    v1::RegisterResponse& r = w->valid;
    r.set_instance_id("inst-1");
    r.set_va("default");
    r.set_udi("PID1:SN1");
    r.set_certificate_pem(certificate->ToPem());
    r.add_ca_chain_pem(w->ca_pem);
    r.set_satellite_id("sat-1");
    r.set_signing_public_key_pem(fuzz::TestKey().public_key().ToPem());
    r.set_signing_key_id(fuzz::TestKey().public_key().KeyId());
    char tmpl[] = "/tmp/fuzz_device_state.XXXXXX";
    fuzz::Check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    w->scratch = tmpl;
    return w;
  }();
  return *world;
}

// Empties the scratch directory; returns a fresh state directory path inside it.
fs::path FreshDir() {
  const World& w = TheWorld();
  std::error_code ec;
  fs::remove_all(w.scratch / "state", ec);
  return w.scratch / "state";
}

client::ExpectedSigner SignerFor(const client::DeviceState& state) {
  return client::ExpectedSigner{&state.signing_key(), state.registration().signing_key_id(),
                                state.registration().satellite_id(),
                                state.registration().instance_id()};
}

void FillFromValid(v1::RegisterResponse* r, const v1::RegisterResponse& valid) {
  if (r->instance_id().empty()) r->set_instance_id(valid.instance_id());
  if (r->va().empty()) r->set_va(valid.va());
  if (r->udi().empty()) r->set_udi(valid.udi());
  if (r->certificate_pem().empty()) r->set_certificate_pem(valid.certificate_pem());
  if (r->ca_chain_pem().empty()) *r->mutable_ca_chain_pem() = valid.ca_chain_pem();
  if (r->satellite_id().empty()) r->set_satellite_id(valid.satellite_id());
  if (r->signing_public_key_pem().empty()) {
    r->set_signing_public_key_pem(valid.signing_public_key_pem());
  }
  if (r->signing_key_id().empty()) r->set_signing_key_id(valid.signing_key_id());
}

void Network(const std::vector<std::string>& parts) {
  const World& w = TheWorld();
  v1::RegisterResponse registration;
  if (!registration.ParseFromString(parts[0])) return;
  FillFromValid(&registration, w.valid);
  auto key = crypto::PrivateKey::FromPem(w.device_key_pem);
  fuzz::Check(key.ok(), "device key pem");
  const fs::path dir = FreshDir();
  auto state = client::DeviceState::FromRegistration(dir, "https://127.0.0.1:8443", w.ca_pem,
                                                     std::move(*key), registration, kNow);
  if (!state.ok()) {
    fuzz::Check(!fs::exists(dir), "a refused registration wrote something");
    return;
  }
  fuzz::Check(state->Save().ok(), "an accepted registration cannot be saved");
  auto loaded = client::DeviceState::Load(dir);
  fuzz::Check(loaded.ok(), "an accepted registration does not load back");
  fuzz::Check(loaded->registration().SerializeAsString() == registration.SerializeAsString(),
              "the registration changed on the way through the disk");
  if (parts.size() < 2) return;

  v1::SignedAuthorization answer;
  if (!answer.ParseFromString(parts[1])) return;
  // Re-signed with the pinned key in the single form, so the checks after the signature run.
  answer.set_key_id(fuzz::TestKey().public_key().KeyId());
  answer.set_algorithm(std::string(kAuthorizationAlgorithm));
  auto signature = fuzz::TestKey().Sign(kAuthorizationDomain, answer.payload());
  fuzz::Check(signature.ok(), "sign");
  answer.set_signature(*signature);
  auto authorization = client::VerifyAuthorization(answer, SignerFor(*loaded));
  if (!authorization.ok()) return;
  std::vector<v1::TagUse> request;
  for (const auto& tag : authorization->tags()) {
    v1::TagUse use;
    use.set_tag(tag.tag());
    use.set_count(tag.requested());
    request.push_back(use);
  }
  if (!client::CheckAnswersRequest(*authorization, request).ok()) return;
  for (const auto& tag : authorization->tags()) {
    fuzz::Check(tag.granted() >= 0 && tag.granted() <= tag.requested(), "granted beyond asked");
  }
  if (!client::CheckCurrent(*authorization, std::nullopt, kNow, client::kDefaultClockSkew).ok()) {
    return;
  }
  fuzz::Check(authorization->issued_at() <= fuzz::kDeviceFuzzNow + 300 &&
                  authorization->valid_until() >= fuzz::kDeviceFuzzNow - 300,
              "an answer not current at now passed CheckCurrent");
  const Status saved = loaded->SaveAuthorization(client::CanonicalSignedForm(answer));
  if (!saved.ok()) return;
  auto stored = loaded->LoadAuthorization();
  fuzz::Check(stored.ok() && stored->has_value(), "a stored answer does not load back");
  fuzz::Check(client::VerifyAuthorization(**stored, SignerFor(*loaded)).ok(),
              "a stored answer does not verify");
}

void StateDirectory(const std::vector<std::string>& parts) {
  const fs::path dir = FreshDir();
  fuzz::Check(::mkdir(dir.c_str(), 0700) == 0, "mkdir");
  size_t i = 0;
  for (const char* name : fuzz::kStateFiles) {
    if (i >= parts.size()) break;
    std::ofstream(dir / name, std::ios::binary) << parts[i++];
    ::chmod((dir / name).c_str(), 0600);
  }
  auto state = client::DeviceState::Load(dir);
  if (!state.ok()) return;
  auto stored = state->LoadAuthorization();
  if (!stored.ok() || !stored->has_value()) return;
  (void)client::VerifyAuthorization(**stored, SignerFor(*state));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> parts = fuzz::SplitParts(input.substr(1));
  if (input[0] == 'n') Network(parts);
  if (input[0] == 's') StateDirectory(parts);
  return 0;
}
