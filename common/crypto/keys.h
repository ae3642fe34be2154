#pragma once

// Signing keys: Ed25519 and ECDSA P-256 (SHA-256, DER signatures), on OpenSSL EVP_PKEY.
//
// Domain separation: Sign(domain, message) signs the bytes  domain || 0x00 || message  and
// Verify(domain, ...) checks the same, so a signature made for one purpose (for example
// "outpost/sync-response/v1") never verifies for another. A domain must be non-empty and
// contain no NUL byte (that keeps the encoding unambiguous); otherwise Sign/Verify return
// kInvalidArgument. SignRaw/VerifyRaw sign the message alone (interoperability, test vectors).
//
// Ed25519 is pure Ed25519 (RFC 8032, no pre-hash); ECDSA signs SHA-256(data) and encodes the
// signature as DER (X9.62 Ecdsa-Sig-Value).
//
// Thread-safety: const methods may be called concurrently on one object (OpenSSL keys are
// safe for concurrent read-only use). Moved-from objects may only be destroyed or assigned.
// Errors: parsing and verification return kInvalidArgument with a message saying what was
// wrong; file access errors are as in secure_file.h; kInternal means OpenSSL itself failed.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto/openssl_ptr.h"
#include "common/status.h"

namespace outpost::crypto {

enum class KeyAlgorithm { kEd25519, kEcdsaP256 };

// "ed25519" or "ecdsa-p256-sha256": the names used in configuration and on the wire.
std::string_view AlgorithmName(KeyAlgorithm algorithm);
// The inverse of AlgorithmName; kInvalidArgument listing the accepted names otherwise.
Result<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name);

class PublicKey {
 public:
  // SubjectPublicKeyInfo, PEM ("-----BEGIN PUBLIC KEY-----") or DER.
  static Result<PublicKey> FromPem(std::string_view pem);
  static Result<PublicKey> FromDer(std::string_view der);
  // Shares `key` (takes a new reference). Fails for algorithms other than the two above.
  static Result<PublicKey> FromEvpPkey(EVP_PKEY* key);

  PublicKey(const PublicKey& other);
  PublicKey& operator=(const PublicKey& other);
  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;

  std::string ToPem() const;
  std::string ToDer() const;

  // Ok iff `signature` is this key's signature over domain || 0x00 || message. A signature
  // that does not verify is kInvalidArgument "signature does not verify ...".
  Status Verify(std::string_view domain, std::string_view message,
                std::string_view signature) const;
  // Ok iff `signature` is this key's signature over `message` itself.
  Status VerifyRaw(std::string_view message, std::string_view signature) const;

  // Lowercase hex of the first 16 bytes of SHA-256(DER SubjectPublicKeyInfo): a short,
  // stable name for the key in databases, logs and bundles.
  std::string KeyId() const;
  // SHA-256(DER SubjectPublicKeyInfo) as colon-separated uppercase hex pairs.
  std::string Fingerprint() const;

  KeyAlgorithm algorithm() const { return algorithm_; }
  EVP_PKEY* get() const { return key_.get(); }

  // Same algorithm and same public key.
  friend bool operator==(const PublicKey& a, const PublicKey& b);

 private:
  PublicKey(EvpPkeyPtr key, KeyAlgorithm algorithm);
  static std::optional<PublicKey> DecodeSupportedDer(std::string_view der);
  static std::optional<PublicKey> DecodeSupportedPem(std::string_view pem);

  EvpPkeyPtr key_;
  KeyAlgorithm algorithm_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(KeyAlgorithm algorithm);
  // An Ed25519 key from its 32-byte RFC 8032 secret (seed). For test vectors and imports.
  static Result<PrivateKey> FromRawEd25519(std::string_view seed);
  // PKCS#8 ("-----BEGIN PRIVATE KEY-----") or traditional ("EC PRIVATE KEY") PEM.
  // Encrypted keys are refused (no prompt is ever shown).
  static Result<PrivateKey> FromPem(std::string_view pem);
  // Reads a PEM file written by SaveFile. Refuses a file that group or others can access,
  // telling the operator to `chmod 600` it.
  static Result<PrivateKey> LoadFile(const std::filesystem::path& path);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  // Unencrypted PKCS#8 PEM. The result is secret: do not log it.
  std::string ToPem() const;
  // Writes ToPem() to `path` with mode 0600, atomically (see WriteFileAtomically). Never
  // overwrites: an existing file gives kAlreadyExists and is left untouched.
  Status SaveFile(const std::filesystem::path& path) const;

  // Signature over domain || 0x00 || message (see the top of this file).
  Result<std::string> Sign(std::string_view domain, std::string_view message) const;
  // Signature over `message` itself.
  Result<std::string> SignRaw(std::string_view message) const;

  const PublicKey& public_key() const { return public_key_; }
  KeyAlgorithm algorithm() const { return public_key_.algorithm(); }
  EVP_PKEY* get() const { return key_.get(); }

 private:
  PrivateKey(EvpPkeyPtr key, PublicKey public_key);
  static Result<PrivateKey> FromEvpPkey(EvpPkeyPtr key);

  EvpPkeyPtr key_;
  PublicKey public_key_;
};

// The message digest to pass to X509_sign/X509_REQ_sign for a key of `algorithm`: nullptr
// for Ed25519 (which hashes internally), SHA-256 for ECDSA.
const EVP_MD* CertificateSignatureDigest(KeyAlgorithm algorithm);

}  // namespace outpost::crypto
