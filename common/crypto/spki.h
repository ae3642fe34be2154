#pragma once

// Internal to common/crypto: SubjectPublicKeyInfo handling that avoids OpenSSL 3.0's
// OSSL_DECODER/OSSL_ENCODER lookups on the registration path. Include it only from
// common/crypto/*.cc and their tests.
//
// Why: in OpenSSL 3.0 every parse of a structure holding a SubjectPublicKeyInfo (a CSR, a
// certificate, a PUBLIC KEY PEM) builds an OSSL_DECODER_CTX to turn the key into an EVP_PKEY,
// and X509_set_pubkey builds an OSSL_ENCODER_CTX and then decodes its own output again. Each
// of those searches every decoder or encoder of the default provider under its locks: about
// 0.1 to 0.3 ms apiece, several times the ECDSA arithmetic. For the two key types the satellite
// accepts this file does the same conversions directly, and leaves everything else to OpenSSL's
// generic code (same results, old cost).
//
// Thread-safety: all functions may be called concurrently. The objects created once here are
// never modified after creation and are never freed (they must outlive any static destructor
// that might still use them, and OpenSSL tears down its own state at exit).

#include <openssl/x509.h>

#include <optional>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/crypto/openssl_ptr.h"
#include "common/status.h"

namespace outpost::crypto::internal {

// A library context holding only OpenSSL's "null" provider. ASN.1 parsed with
// ASN1_item_d2i_ex in this context keeps its SubjectPublicKeyInfo undecoded (X509_PUBKEY with
// no EVP_PKEY): OpenSSL's opportunistic decoding finds no decoder and gives up at once.
// Nothing else may be done in this context (it has no algorithms).
OSSL_LIB_CTX* UndecodedKeyContext();

// A SubjectPublicKeyInfo decoded to an EVP_PKEY of the default library context.
struct DecodedKey {
  EvpPkeyPtr key;
  KeyAlgorithm algorithm;
};

// Decodes `spki` if it is an ECDSA P-256 key (id-ecPublicKey, namedCurve prime256v1,
// uncompressed point on the curve) or an Ed25519 key (no parameters, 32 bytes). Returns
// std::nullopt for anything else, including malformed keys of those types, with the OpenSSL
// error queue unchanged: the caller then decodes with OpenSSL's generic decoder, which accepts
// and rejects exactly what it did before and gives an equal key for everything decoded here.
std::optional<DecodedKey> DecodeSupportedKey(const X509_PUBKEY* spki);

// A DER SubjectPublicKeyInfo parsed without decoding the key (see UndecodedKeyContext), or
// nullptr if `der` is not one or has trailing bytes.
X509PubkeyPtr ParseUndecodedSpki(std::string_view der);

// As X509_set_pubkey(cert, key.get()), with the same encoding of the key in the certificate
// (including an ECDSA point's compressed or uncompressed form), and the same EVP_PKEY
// semantics for X509_get0_pubkey. For P-256 it encodes from a copy of the key held in
// OpenSSL's legacy EC form, whose encoder is a direct function call. `encoded_point`, if not
// empty, must be the P-256 key's point as encoded in its SubjectPublicKeyInfo (it saves
// encoding it again).
Status SetCertificatePublicKey(X509* cert, const PublicKey& key,
                               std::string_view encoded_point = {});

// SHA-1 (for RFC 5280 key identifiers), fetched once.
const EVP_MD* Sha1();

}  // namespace outpost::crypto::internal
