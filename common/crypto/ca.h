#pragma once

// The certificate authority that issues TLS server and device (client) certificates, and
// certificate chain verification.
//
// Time: every validity period comes from the caller (who reads an injected Clock); nothing
// here reads the clock or backdates. Certificates have one-second resolution.
// Thread-safety: const methods may be called concurrently. Moved-from objects may only be
// destroyed or assigned.
// Errors: kInvalidArgument for a bad profile or input; kFailedPrecondition when the CA cannot
// issue what was asked (for example a certificate that would outlive the CA);
// kUnauthenticated when a chain does not verify; kInternal when OpenSSL fails.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/status.h"

namespace outpost::crypto {

// What to put in an issued certificate.
struct CertificateProfile {
  enum Usage {
    kServer,  // extendedKeyUsage serverAuth; needs at least one DNS name or IP address
    kClient,  // extendedKeyUsage clientAuth (device identity certificates)
  };

  Usage usage = kServer;
  std::string common_name;                // 1 to 64 bytes
  std::vector<std::string> dns_names;     // e.g. "localhost", "*.example.com"
  std::vector<std::string> ip_addresses;  // IPv4 or IPv6 text, e.g. "127.0.0.1", "::1"
  TimePoint not_before;
  TimePoint not_after;  // must be after not_before and no later than the CA's not_after
};

class CertificateAuthority {
 public:
  // A self-signed root: version 3, random 128-bit serial, subject = issuer = CN=common_name,
  // basicConstraints critical CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign,
  // subjectKeyIdentifier. Signed with `key` (Ed25519 or ECDSA P-256 with SHA-256).
  static Result<CertificateAuthority> CreateRoot(PrivateKey key, std::string common_name,
                                                 TimePoint not_before, TimePoint not_after);
  // An existing CA: checks that `key` matches `certificate` and that the certificate is a CA
  // allowed to sign certificates.
  static Result<CertificateAuthority> Load(Certificate certificate, PrivateKey key);

  CertificateAuthority(CertificateAuthority&&) noexcept = default;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept = default;

  // A certificate for `subject` as described by `profile`: random 128-bit serial,
  // basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage
  // by profile.usage, subjectAltName from the profile, subject and authority key identifiers.
  Result<Certificate> Issue(const PublicKey& subject, const CertificateProfile& profile) const;
  // Verifies the CSR's self-signature, then issues for its public key. Only the public key is
  // taken from the CSR: the identity (names) and validity come from `profile`, which the caller
  // fills from what it has authenticated, never from the requester's claims.
  Result<Certificate> IssueFromCsr(const CertificateSigningRequest& csr,
                                   const CertificateProfile& profile) const;

  const Certificate& certificate() const { return certificate_; }
  const PrivateKey& key() const { return key_; }

 private:
  class LeafExtensions;

  CertificateAuthority(Certificate certificate, PrivateKey key);
  // Issue, given the subject key's encoded ECDSA point if the caller has it ("" if not).
  Result<Certificate> IssueForKey(const PublicKey& subject, std::string_view encoded_point,
                                  const CertificateProfile& profile) const;

  Certificate certificate_;
  PrivateKey key_;
  // Immutable, built from certificate_ on construction (see ca.cc).
  std::shared_ptr<const LeafExtensions> leaf_extensions_;
};

// Ok iff `leaf` chains through `intermediates` (untrusted, any order) to one of
// `trusted_roots`, with every certificate valid at time `at` (not_before <= at < not_after:
// OpenSSL treats the not_after second itself as expired), under RFC 5280 strict checks
// (X509_V_FLAG_X509_STRICT). With `purpose`, the leaf must also be usable for TLS server or
// client authentication. Hostnames and revocation are not checked here.
// A chain that does not verify is kUnauthenticated, naming the reason and the certificate.
Status VerifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                   const std::vector<Certificate>& trusted_roots, TimePoint at,
                   std::optional<CertificateProfile::Usage> purpose);

}  // namespace outpost::crypto
