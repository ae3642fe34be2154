#pragma once

// Owning pointers for the OpenSSL objects that appear in the public crypto headers. Each
// deleter frees the object (or, for reference-counted objects, drops one reference).

#include <openssl/types.h>

#include <memory>

struct X509_req_st;        // X509_REQ
struct X509_extension_st;  // X509_EXTENSION

namespace outpost::crypto {

struct OpenSslDeleter {
  void operator()(EVP_PKEY* p) const;
  void operator()(EVP_PKEY_CTX* p) const;
  void operator()(EVP_MD_CTX* p) const;
  void operator()(BIO* p) const;
  void operator()(BIGNUM* p) const;
  void operator()(ASN1_STRING* p) const;  // ASN1_INTEGER, ASN1_TIME, ASN1_OCTET_STRING...
  void operator()(X509* p) const;
  void operator()(X509_req_st* p) const;
  void operator()(X509_extension_st* p) const;
  void operator()(X509_NAME* p) const;
  void operator()(X509_PUBKEY* p) const;
  void operator()(X509_STORE* p) const;
  void operator()(X509_STORE_CTX* p) const;
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslDeleter>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter>;
using X509ReqPtr = std::unique_ptr<X509_req_st, OpenSslDeleter>;
using X509ExtensionPtr = std::unique_ptr<X509_extension_st, OpenSslDeleter>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter>;
using X509PubkeyPtr = std::unique_ptr<X509_PUBKEY, OpenSslDeleter>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter>;

}  // namespace outpost::crypto
