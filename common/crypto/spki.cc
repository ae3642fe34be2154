#include "common/crypto/spki.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>

#include <cstring>

#include "common/crypto/openssl_util.h"

namespace outpost::crypto::internal {
namespace {

// An uncompressed P-256 point: 0x04 || x || y.
constexpr size_t kP256PointBytes = 65;
constexpr size_t kEd25519KeyBytes = 32;

// P-256 domain parameters as a provider key without a public or private part: the template
// that keys decoded here are copied from (EVP_PKEY_dup copies the prepared group, where
// building a key from its curve name would set the group up again every time).
EVP_PKEY* P256Parameters() {
  static EVP_PKEY* const parameters = [] {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY* key = nullptr;
    if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
      DieOnOpenSslFailure("cannot set up the P-256 key template");
    }
    return key;
  }();
  return parameters;
}

// The same parameters in OpenSSL's legacy EC form (d2i_KeyParams builds legacy keys in 3.0),
// or nullptr if this OpenSSL has no legacy EC keys, in which case X509_set_pubkey is used as is.
EVP_PKEY* P256LegacyParameters() {
  static EVP_PKEY* const parameters = []() -> EVP_PKEY* {
    ERR_set_mark();
    unsigned char der[16];
    unsigned char* out = der;
    const ASN1_OBJECT* curve = OBJ_nid2obj(NID_X9_62_prime256v1);
    const int len = i2d_ASN1_OBJECT(curve, nullptr);
    EVP_PKEY* key = nullptr;
    if (len > 0 && static_cast<size_t>(len) <= sizeof(der) && i2d_ASN1_OBJECT(curve, &out) == len) {
      const unsigned char* in = der;
      key = d2i_KeyParams(EVP_PKEY_EC, nullptr, &in, len);
    }
    ERR_pop_to_mark();
    return key;
  }();
  return parameters;
}

std::optional<DecodedKey> DecodeP256(const unsigned char* point, size_t len) {
  if (len != kP256PointBytes || point[0] != POINT_CONVERSION_UNCOMPRESSED) return std::nullopt;
  EvpPkeyPtr key(EVP_PKEY_dup(P256Parameters()));
  if (key == nullptr) DieOnOpenSslFailure("EVP_PKEY_dup");
  // Checks that the point is on the curve, as decoding the SubjectPublicKeyInfo would.
  if (EVP_PKEY_set1_encoded_public_key(key.get(), point, len) != 1) return std::nullopt;
  return DecodedKey{std::move(key), KeyAlgorithm::kEcdsaP256};
}

std::optional<DecodedKey> DecodeEd25519(const unsigned char* bytes, size_t len) {
  if (len != kEd25519KeyBytes) return std::nullopt;
  EvpPkeyPtr key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, bytes, len));
  if (key == nullptr) return std::nullopt;
  return DecodedKey{std::move(key), KeyAlgorithm::kEd25519};
}

// A legacy-form copy of the P-256 `key` (whose encoded point is `encoded_point`, if known),
// or nullptr.
EvpPkeyPtr LegacyP256Copy(const PublicKey& key, std::string_view encoded_point) {
  EVP_PKEY* parameters = P256LegacyParameters();
  if (parameters == nullptr) return nullptr;
  // The encoded point in the key's own conversion form, which the legacy key keeps.
  unsigned char buffer[kP256PointBytes + 1];
  size_t len = 0;
  const unsigned char* point = Bytes(encoded_point);
  if (encoded_point.empty()) {
    // OpenSSL 3.0 gives the encoded public key uncompressed whatever the key's form, so a key
    // kept in another form is left to X509_set_pubkey.
    char form[16] = {};
    if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form,
                                       sizeof(form), nullptr) != 1 ||
        std::strcmp(form, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0 ||
        EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buffer,
                                        sizeof(buffer), &len) != 1 ||
        len != kP256PointBytes || buffer[0] != POINT_CONVERSION_UNCOMPRESSED) {
      return nullptr;
    }
    point = buffer;
  } else {
    len = encoded_point.size();
  }
  EvpPkeyPtr copy(EVP_PKEY_new());
  if (copy == nullptr) DieOnOpenSslFailure("EVP_PKEY_new");
  if (EVP_PKEY_copy_parameters(copy.get(), parameters) != 1) return nullptr;
  EVP_PKEY* target = copy.get();
  const unsigned char* in = point;
  if (d2i_PublicKey(EVP_PKEY_EC, &target, &in, static_cast<long>(len)) != copy.get() ||
      in != point + len) {
    return nullptr;
  }
  return copy;
}

}  // namespace

OSSL_LIB_CTX* UndecodedKeyContext() {
  static OSSL_LIB_CTX* const context = [] {
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    // Loading any provider explicitly stops OpenSSL from loading the default one into it.
    if (ctx == nullptr || OSSL_PROVIDER_load(ctx, "null") == nullptr) {
      DieOnOpenSslFailure("cannot set up a library context without decoders");
    }
    return ctx;
  }();
  return context;
}

std::optional<DecodedKey> DecodeSupportedKey(const X509_PUBKEY* spki) {
  if (spki == nullptr) return std::nullopt;
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bytes = nullptr;
  int len = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &bytes, &len, &algor, spki) != 1 || bytes == nullptr ||
      len <= 0) {
    return std::nullopt;
  }
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  X509_ALGOR_get0(nullptr, &parameter_type, &parameter, algor);
  // Whatever fails here is left for OpenSSL's decoder to report, so errors are not kept.
  ERR_set_mark();
  std::optional<DecodedKey> decoded;
  switch (OBJ_obj2nid(algorithm)) {
    case NID_X9_62_id_ecPublicKey:
      if (parameter_type == V_ASN1_OBJECT &&
          OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(parameter)) == NID_X9_62_prime256v1) {
        decoded = DecodeP256(bytes, static_cast<size_t>(len));
      }
      break;
    case NID_ED25519:
      if (parameter_type == V_ASN1_UNDEF) decoded = DecodeEd25519(bytes, static_cast<size_t>(len));
      break;
    default:
      break;
  }
  ERR_pop_to_mark();
  return decoded;
}

X509PubkeyPtr ParseUndecodedSpki(std::string_view der) {
  const unsigned char* p = Bytes(der);
  X509PubkeyPtr spki(reinterpret_cast<X509_PUBKEY*>(
      ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(X509_PUBKEY),
                       UndecodedKeyContext(), nullptr)));
  if (spki == nullptr || p != Bytes(der) + der.size()) return nullptr;
  return spki;
}

Status SetCertificatePublicKey(X509* cert, const PublicKey& key, std::string_view encoded_point) {
  EvpPkeyPtr legacy;
  if (key.algorithm() == KeyAlgorithm::kEcdsaP256) {
    ERR_set_mark();
    legacy = LegacyP256Copy(key, encoded_point);
    ERR_pop_to_mark();
  }
  if (X509_set_pubkey(cert, legacy != nullptr ? legacy.get() : key.get()) != 1) {
    return OpenSslFailure(Errc::kInternal, "cannot set the certificate's public key");
  }
  return Status::Ok();
}

const EVP_MD* Sha1() {
  static EVP_MD* const sha1 = [] {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    if (md == nullptr) DieOnOpenSslFailure("cannot fetch SHA-1");
    return md;
  }();
  return sha1;
}

}  // namespace outpost::crypto::internal
