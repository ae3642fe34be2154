// Public keys and certificates from outside: a satellite's key in a sync request, central's key
// in an enrollment bundle or a key rotation (PEM), DER SubjectPublicKeyInfo, and certificates
// (central-ca.pem, a device's client certificate, CA chains). Properties: a parsed key or
// certificate re-encodes to something that parses to an equal one; a signature made by another
// key never verifies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto/x509.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;

void ExerciseKey(const crypto::PublicKey& key) {
  (void)key.KeyId();
  (void)key.Fingerprint();
  auto der = crypto::PublicKey::FromDer(key.ToDer());
  fuzz::Check(der.ok() && *der == key, "key does not round-trip through DER");
  auto pem = crypto::PublicKey::FromPem(key.ToPem());
  fuzz::Check(pem.ok() && *pem == key, "key does not round-trip through PEM");
  static const std::string* const sig = [] {
    auto s = fuzz::TestKey().Sign("outpost/fuzz/v1", "message");
    fuzz::Check(s.ok(), "sign");
    return new std::string(*s);
  }();
  if (!(key == fuzz::TestKey().public_key())) {
    fuzz::Check(!key.Verify("outpost/fuzz/v1", "message", *sig).ok(),
                "another key's signature verified");
  }
  (void)key.Verify("outpost/fuzz/v1", "message", "");
}

void ExerciseCertificate(const crypto::Certificate& cert) {
  (void)cert.subject_common_name();
  (void)cert.issuer_common_name();
  (void)cert.serial_hex();
  (void)cert.dns_names();
  (void)cert.ip_addresses();
  (void)cert.Fingerprint();
  (void)cert.is_ca();
  if (auto key = cert.public_key(); key.ok()) ExerciseKey(*key);
  auto der = crypto::Certificate::FromDer(cert.ToDer());
  fuzz::Check(der.ok() && *der == cert, "certificate does not round-trip through DER");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto key = crypto::PublicKey::FromPem(bytes); key.ok()) ExerciseKey(*key);
  if (auto key = crypto::PublicKey::FromDer(bytes); key.ok()) ExerciseKey(*key);
  if (auto cert = crypto::Certificate::FromPem(bytes); cert.ok()) ExerciseCertificate(*cert);
  if (auto cert = crypto::Certificate::FromDer(bytes); cert.ok()) ExerciseCertificate(*cert);
  if (auto chain = crypto::Certificate::ParsePemChain(bytes); chain.ok()) {
    fuzz::Check(!chain->empty(), "empty chain parsed");
    for (const auto& cert : *chain) ExerciseCertificate(cert);
  }
  (void)crypto::ParseKeyAlgorithm(bytes);
  return 0;
}
