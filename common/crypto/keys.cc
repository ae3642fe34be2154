#include "common/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/openssl_util.h"
#include "common/crypto/secure_file.h"
#include "common/crypto/spki.h"

namespace outpost::crypto {
namespace {

using internal::Bytes;
using internal::DieOnOpenSslFailure;
using internal::OpenSslFailure;

constexpr size_t kMaxKeyFileBytes = 64 * 1024;
constexpr size_t kEd25519SeedSize = 32;
constexpr std::string_view kSupported = "supported: ed25519, ecdsa-p256-sha256";

// OpenSSL's default password callback reads from the terminal; a server must never block on
// a prompt, so encrypted keys simply fail to load.
int NoPassword(char*, int, int, void*) { return -1; }

Result<KeyAlgorithm> DetectAlgorithm(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyAlgorithm::kEd25519;
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      ERR_clear_error();
      return InvalidArgument("EC key without a named curve is not supported (" +
                             std::string(kSupported) + ")");
    }
    if (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0) {
      return KeyAlgorithm::kEcdsaP256;
    }
    return InvalidArgument("EC key on curve " + std::string(group) + " is not supported (" +
                           std::string(kSupported) + ")");
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return InvalidArgument("key type " + std::string(type != nullptr ? type : "unknown") +
                         " is not supported (" + std::string(kSupported) + ")");
}

const char* DigestName(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::kEd25519 ? nullptr : "SHA256";
}

Status CheckDomain(std::string_view domain) {
  if (domain.empty()) return InvalidArgument("signature domain must not be empty");
  if (domain.find('\0') != std::string_view::npos) {
    return InvalidArgument("signature domain must not contain a NUL byte");
  }
  return Status::Ok();
}

std::string DomainSeparated(std::string_view domain, std::string_view message) {
  std::string data;
  data.reserve(domain.size() + 1 + message.size());
  data.append(domain);
  data.push_back('\0');
  data.append(message);
  return data;
}

std::string PublicKeyDer(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) DieOnOpenSslFailure("cannot encode a public key");
  std::string der(static_cast<size_t>(len), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &p) != len) DieOnOpenSslFailure("cannot encode a public key");
  return der;
}

}  // namespace

std::string_view AlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEd25519:
      return "ed25519";
    case KeyAlgorithm::kEcdsaP256:
      return "ecdsa-p256-sha256";
  }
  return "unknown";
}

Result<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256}) {
    if (name == AlgorithmName(a)) return a;
  }
  return InvalidArgument("unknown key algorithm \"" + std::string(name) + "\" (" +
                         std::string(kSupported) + ")");
}

const EVP_MD* CertificateSignatureDigest(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::kEd25519 ? nullptr : EVP_sha256();
}

// ---------------------------------------------------------------------------------------------
// PublicKey

PublicKey::PublicKey(EvpPkeyPtr key, KeyAlgorithm algorithm)
    : key_(std::move(key)), algorithm_(algorithm) {}

PublicKey::PublicKey(const PublicKey& other) : algorithm_(other.algorithm_) {
  if (other.key_ != nullptr && EVP_PKEY_up_ref(other.key_.get()) == 1) {
    key_.reset(other.key_.get());
  }
}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) *this = PublicKey(other);
  return *this;
}

// The fast paths of FromDer and FromPem (see spki.h): a SubjectPublicKeyInfo of a supported
// type, parsed without OpenSSL 3.0's decoder lookups. std::nullopt means "not covered here",
// never "invalid": the caller then runs OpenSSL's generic decoder, which decides.
std::optional<PublicKey> PublicKey::DecodeSupportedDer(std::string_view der) {
  ERR_set_mark();
  X509PubkeyPtr spki = internal::ParseUndecodedSpki(der);
  std::optional<internal::DecodedKey> decoded = internal::DecodeSupportedKey(spki.get());
  ERR_pop_to_mark();
  if (!decoded) return std::nullopt;
  return PublicKey(std::move(decoded->key), decoded->algorithm);
}

std::optional<PublicKey> PublicKey::DecodeSupportedPem(std::string_view pem) {
  // Only the plain form: the first PEM block is "PUBLIC KEY" without headers. Everything that
  // PEM_read_bio_PUBKEY also accepts (other block types, encrypted blocks) goes to it.
  Result<BioPtr> bio = internal::ReadOnlyBio(pem);
  if (!bio.ok()) return std::nullopt;
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  ERR_set_mark();
  const bool read = PEM_read_bio(bio->get(), &name, &header, &data, &len) == 1;
  ERR_pop_to_mark();
  std::optional<PublicKey> key;
  if (read && std::strcmp(name, PEM_STRING_PUBLIC) == 0 && header[0] == '\0') {
    key = DecodeSupportedDer(
        std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(len)));
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return key;
}

Result<PublicKey> PublicKey::FromEvpPkey(EVP_PKEY* key) {
  if (key == nullptr) return InvalidArgument("no public key");
  OUTPOST_ASSIGN_OR_RETURN(KeyAlgorithm algorithm, DetectAlgorithm(key));
  if (EVP_PKEY_up_ref(key) != 1) DieOnOpenSslFailure("EVP_PKEY_up_ref");
  return PublicKey(EvpPkeyPtr(key), algorithm);
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (std::optional<PublicKey> key = DecodeSupportedPem(pem)) return *std::move(key);
  OUTPOST_ASSIGN_OR_RETURN(BioPtr bio, internal::ReadOnlyBio(pem));
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument,
                          "not a PEM public key (expected \"-----BEGIN PUBLIC KEY-----\")");
  }
  OUTPOST_ASSIGN_OR_RETURN(KeyAlgorithm algorithm, DetectAlgorithm(key.get()));
  return PublicKey(std::move(key), algorithm);
}

Result<PublicKey> PublicKey::FromDer(std::string_view der) {
  if (std::optional<PublicKey> key = DecodeSupportedDer(der)) return *std::move(key);
  const unsigned char* p = Bytes(der);
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument, "not a DER SubjectPublicKeyInfo public key");
  }
  if (p != Bytes(der) + der.size()) {
    return InvalidArgument("DER public key is followed by " +
                           std::to_string(Bytes(der) + der.size() - p) + " unexpected bytes");
  }
  OUTPOST_ASSIGN_OR_RETURN(KeyAlgorithm algorithm, DetectAlgorithm(key.get()));
  return PublicKey(std::move(key), algorithm);
}

std::string PublicKey::ToPem() const {
  BioPtr bio = internal::WritableBio();
  if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    DieOnOpenSslFailure("cannot encode a public key as PEM");
  }
  return internal::BioContents(bio.get());
}

std::string PublicKey::ToDer() const { return PublicKeyDer(key_.get()); }

Status PublicKey::Verify(std::string_view domain, std::string_view message,
                         std::string_view signature) const {
  OUTPOST_RETURN_IF_ERROR(CheckDomain(domain));
  return VerifyRaw(DomainSeparated(domain, message), signature);
}

Status PublicKey::VerifyRaw(std::string_view message, std::string_view signature) const {
  // Only built on failure: KeyId() hashes the key, which the hot path does not need.
  auto which = [this] {
    return " with " + std::string(AlgorithmName(algorithm_)) + " key " + KeyId();
  };
  if (algorithm_ == KeyAlgorithm::kEd25519 && signature.size() != 64) {
    return InvalidArgument("signature does not verify" + which() + ": it is " +
                           std::to_string(signature.size()) + " bytes, an ed25519 signature is 64");
  }
  if (signature.empty()) return InvalidArgument("signature does not verify" + which() + ": empty");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) DieOnOpenSslFailure("EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, DigestName(algorithm_), nullptr, nullptr,
                              key_.get(), nullptr) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot start signature verification" + which());
  }
  const int rc = EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                                  message.size());
  // A bad signature leaves entries (e.g. a DER decoding error) that say nothing useful.
  ERR_clear_error();
  if (rc == 1) return Status::Ok();
  return InvalidArgument("signature does not verify" + which() +
                         ": the data was altered, signed for another purpose, or signed by a "
                         "different key");
}

std::string PublicKey::KeyId() const { return HexEncode(Sha256(ToDer()).substr(0, 16)); }

std::string PublicKey::Fingerprint() const { return Sha256Fingerprint(ToDer()); }

bool operator==(const PublicKey& a, const PublicKey& b) {
  if (a.algorithm_ != b.algorithm_ || a.key_ == nullptr || b.key_ == nullptr) {
    return a.key_ == b.key_;
  }
  const bool equal = EVP_PKEY_eq(a.key_.get(), b.key_.get()) == 1;
  ERR_clear_error();
  return equal;
}

// ---------------------------------------------------------------------------------------------
// PrivateKey

PrivateKey::PrivateKey(EvpPkeyPtr key, PublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}

Result<PrivateKey> PrivateKey::FromEvpPkey(EvpPkeyPtr key) {
  OUTPOST_RETURN_IF_ERROR(DetectAlgorithm(key.get()));
  // The public half is a separate object without the private material, so that a PublicKey
  // handed around (or serialised) can never carry the secret.
  OUTPOST_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromDer(PublicKeyDer(key.get())));
  return PrivateKey(std::move(key), std::move(public_key));
}

Result<PrivateKey> PrivateKey::Generate(KeyAlgorithm algorithm) {
  EvpPkeyPtr key(algorithm == KeyAlgorithm::kEd25519
                     ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInternal,
                          "cannot generate a " + std::string(AlgorithmName(algorithm)) + " key");
  }
  return FromEvpPkey(std::move(key));
}

Result<PrivateKey> PrivateKey::FromRawEd25519(std::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return InvalidArgument("an ed25519 secret key is 32 bytes, got " + std::to_string(seed.size()));
  }
  EvpPkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size()));
  if (key == nullptr) return OpenSslFailure(Errc::kInternal, "cannot load an ed25519 secret key");
  return FromEvpPkey(std::move(key));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return InvalidArgument(
        "the private key is encrypted; outpost reads unencrypted keys protected by file mode "
        "0600: decrypt it with `openssl pkey -in KEY -out NEWKEY`");
  }
  OUTPOST_ASSIGN_OR_RETURN(BioPtr bio, internal::ReadOnlyBio(pem));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return OpenSslFailure(Errc::kInvalidArgument,
                          "not a PEM private key (expected \"-----BEGIN PRIVATE KEY-----\")");
  }
  return FromEvpPkey(std::move(key));
}

Result<PrivateKey> PrivateKey::LoadFile(const std::filesystem::path& path) {
  Result<std::string> pem = ReadSecretFile(path, kMaxKeyFileBytes);
  if (!pem.ok()) return pem.status().WithContext("loading private key: ");
  Result<PrivateKey> key = FromPem(*pem);
  internal::Cleanse(*pem);
  if (!key.ok()) {
    return Status(key.status().code(),
                  "private key file " + path.string() + " is unusable: " + key.status().message() +
                      "; restore it from a backup or generate a new one (`outpost init`)");
  }
  return key;
}

std::string PrivateKey::ToPem() const {
  BioPtr bio = internal::WritableBio(/*secure=*/true);
  if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    DieOnOpenSslFailure("cannot encode a private key as PEM");
  }
  return internal::BioContents(bio.get());
}

Status PrivateKey::SaveFile(const std::filesystem::path& path) const {
  std::string pem = ToPem();
  Status status = WriteFileAtomically(
      path, pem, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      IfExists::kFail);
  internal::Cleanse(pem);
  if (!status.ok()) return status.WithContext("saving private key: ");
  return status;
}

Result<std::string> PrivateKey::Sign(std::string_view domain, std::string_view message) const {
  OUTPOST_RETURN_IF_ERROR(CheckDomain(domain));
  return SignRaw(DomainSeparated(domain, message));
}

Result<std::string> PrivateKey::SignRaw(std::string_view message) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) DieOnOpenSslFailure("EVP_MD_CTX_new");
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, DigestName(algorithm()), nullptr, nullptr,
                            key_.get(), nullptr) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot start signing with " +
                                               std::string(AlgorithmName(algorithm())) + " key " +
                                               public_key_.KeyId());
  }
  // EVP_PKEY_get_size is the maximum signature size (DER ECDSA signatures vary in length).
  size_t len = static_cast<size_t>(EVP_PKEY_get_size(key_.get()));
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(message), message.size()) != 1) {
    return OpenSslFailure(Errc::kInternal, "signing with " +
                                               std::string(AlgorithmName(algorithm())) + " key " +
                                               public_key_.KeyId() + " failed");
  }
  signature.resize(len);
  return signature;
}

}  // namespace outpost::crypto
