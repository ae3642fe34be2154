// A device's certificate signing request (POST /v1/devices/register carries it as PEM): parsed as
// PEM or DER, its self-signature checked, and, when it verifies, a device certificate issued from
// it by a throwaway CA, as registration does.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/crypto/ca.h"
#include "common/crypto/x509.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;

const TimePoint kNow{std::chrono::seconds(1'800'000'000)};

const crypto::CertificateAuthority& TestCa() {
  static const crypto::CertificateAuthority* ca = [] {
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    fuzz::Check(key.ok(), "CA key");
    auto root = crypto::CertificateAuthority::CreateRoot(std::move(*key), "fuzz CA", kNow,
                                                         kNow + std::chrono::hours(24 * 365));
    fuzz::Check(root.ok(), "CA");
    return new crypto::CertificateAuthority(std::move(*root));
  }();
  return *ca;
}

void Exercise(const crypto::CertificateSigningRequest& csr) {
  (void)csr.subject_common_name();
  (void)csr.public_key();
  auto der = crypto::CertificateSigningRequest::FromDer(csr.ToDer());
  fuzz::Check(der.ok(), "a parsed CSR does not parse from its own DER");
  if (!csr.VerifySelfSignature().ok()) return;
  fuzz::Check(der->VerifySelfSignature().ok(), "re-encoding broke a CSR's signature");
  crypto::CertificateProfile profile;
  profile.usage = crypto::CertificateProfile::kClient;
  profile.common_name = "0f6c2d3e-1a2b-4c3d-8e9f-001122334455";
  profile.not_before = kNow;
  profile.not_after = kNow + std::chrono::hours(24);
  auto cert = TestCa().IssueFromCsr(csr, profile);
  if (cert.ok()) {
    auto key = cert->public_key();
    auto csr_key = csr.public_key();
    fuzz::Check(key.ok() && csr_key.ok() && *key == *csr_key,
                "issued certificate is not for the CSR's key");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto csr = crypto::CertificateSigningRequest::FromPem(bytes); csr.ok()) Exercise(*csr);
  if (auto csr = crypto::CertificateSigningRequest::FromDer(bytes); csr.ok()) Exercise(*csr);
  return 0;
}
