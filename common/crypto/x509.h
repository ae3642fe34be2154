#pragma once

// X.509 certificates and certificate signing requests (PKCS#10).
//
// Thread-safety: const methods may be called concurrently on one object. Moved-from objects
// may only be destroyed or assigned.
// Errors: parsing returns kInvalidArgument saying what the input was not; file access errors
// are as in secure_file.h.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/crypto/openssl_ptr.h"
#include "common/crypto/secure_file.h"
#include "common/status.h"

namespace outpost::crypto {

// An immutable certificate. Copies share the underlying X509 (reference counted).
class Certificate {
 public:
  // Exactly one "-----BEGIN CERTIFICATE-----" block (use ParsePemChain for several).
  static Result<Certificate> FromPem(std::string_view pem);
  static Result<Certificate> FromDer(std::string_view der);
  // One or more certificates in PEM, in file order (leaf first, by convention).
  static Result<std::vector<Certificate>> ParsePemChain(std::string_view pem);
  // A PEM file holding exactly one certificate.
  static Result<Certificate> LoadFile(const std::filesystem::path& path);
  // A PEM file holding one or more certificates.
  static Result<std::vector<Certificate>> LoadChainFile(const std::filesystem::path& path);
  // Shares `cert` (takes a new reference).
  static Result<Certificate> FromX509(X509* cert);

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  std::string ToPem() const;
  std::string ToDer() const;

  // The subject's (issuer's) first commonName as UTF-8, or "" if there is none.
  std::string subject_common_name() const;
  std::string issuer_common_name() const;
  // The serial number as lowercase hex without leading zeros, e.g. "3f09a1...".
  std::string serial_hex() const;
  // Validity period (one-second resolution).
  TimePoint not_before() const { return not_before_; }
  TimePoint not_after() const { return not_after_; }
  // The subject public key; fails if it is not an ed25519 or ecdsa-p256 key.
  Result<PublicKey> public_key() const;
  // Subject alternative names: DNS entries, and IP entries in text form ("127.0.0.1", "::1").
  std::vector<std::string> dns_names() const;
  std::vector<std::string> ip_addresses() const;
  // SHA-256 of the DER encoding, colon-separated uppercase hex pairs.
  std::string Fingerprint() const;
  // True iff basicConstraints says CA:TRUE.
  bool is_ca() const;

  X509* get() const { return cert_.get(); }

  // Same DER encoding.
  friend bool operator==(const Certificate& a, const Certificate& b);

 private:
  Certificate(X509Ptr cert, TimePoint not_before, TimePoint not_after);
  static Result<Certificate> Adopt(X509Ptr cert);
  static std::string SerialHexOf(const X509* cert);

  // Read from the certificate once, when it is parsed; shared by copies, like the X509.
  struct Names {
    std::string subject_common_name;
    std::string serial_hex;
  };

  X509Ptr cert_;
  TimePoint not_before_;
  TimePoint not_after_;
  std::shared_ptr<const Names> names_;
};

// The PEM blocks of `chain` concatenated in order (e.g. leaf then CA, for a TLS chain file).
std::string ToPemChain(const std::vector<Certificate>& chain);

// Writes ToPemChain(chain) to `path` with mode 0644 (certificates are public), atomically.
Status SaveCertificateChainFile(const std::filesystem::path& path,
                                const std::vector<Certificate>& chain, IfExists if_exists);

// A PKCS#10 certificate signing request: a subject name and public key, signed by the
// corresponding private key to prove possession.
class CertificateSigningRequest {
 public:
  // A CSR for `key` with subject CN=`common_name`, signed by `key`. The common name must be
  // 1 to 64 bytes of UTF-8.
  static Result<CertificateSigningRequest> Create(const PrivateKey& key,
                                                  std::string_view common_name);
  // "-----BEGIN CERTIFICATE REQUEST-----" PEM, or DER. An ed25519 or ecdsa-p256 public key
  // (the usual case) is decoded directly; any other key by OpenSSL's generic decoder.
  static Result<CertificateSigningRequest> FromPem(std::string_view pem);
  static Result<CertificateSigningRequest> FromDer(std::string_view der);

  CertificateSigningRequest(CertificateSigningRequest&&) noexcept = default;
  CertificateSigningRequest& operator=(CertificateSigningRequest&&) noexcept = default;

  std::string ToPem() const;
  std::string ToDer() const;

  // Ok iff the CSR is signed by the private key of the public key it contains. A CSR that was
  // altered after signing (or signed by another key) is kInvalidArgument. Parsing does not
  // check this: call it before trusting anything in the CSR.
  Status VerifySelfSignature() const;
  Result<PublicKey> public_key() const;
  std::string subject_common_name() const;

  // The parsed request. For a parsed ed25519 or ecdsa-p256 request the X509_REQ's own copy
  // of the key is left undecoded (X509_REQ_get0_pubkey returns nullptr): use public_key().
  X509_req_st* get() const { return req_.get(); }

 private:
  CertificateSigningRequest(X509ReqPtr req, EvpPkeyPtr key)
      : req_(std::move(req)), key_(std::move(key)) {}
  static Result<CertificateSigningRequest> Parse(std::string_view der, bool whole_input);
  // The request's public key: key_ if it was decoded on parsing, else the X509_REQ's own.
  EVP_PKEY* Key() const;

  X509ReqPtr req_;
  EvpPkeyPtr key_;  // nullptr when the X509_REQ holds the decoded key
};

}  // namespace outpost::crypto
