// The registration fast paths (spki.h, the prepared leaf extensions, PemEncode) must give what
// OpenSSL's generic code gives: the same keys, the same certificate bytes apart from serial and
// signature, and the same refusals. Each test compares against that generic code directly.

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto/ca.h"
#include "common/crypto/spki.h"
#include "common/crypto/x509.h"
#include "tests/testing/test_util.h"
#include "tests/unit/common/crypto/crypto_test_util.h"

namespace outpost::crypto {
namespace {

using namespace ::outpost::crypto::testing;

template <typename T, int (*Encode)(const T*, unsigned char**)>
std::string Der(const T* object) {
  unsigned char* der = nullptr;
  const int len = Encode(object, &der);
  if (len <= 0) {
    ADD_FAILURE() << "cannot encode";
    return "";
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : "";
}

std::string ExtensionDer(const X509_EXTENSION* ext) {
  return Der<X509_EXTENSION, i2d_X509_EXTENSION>(ext);
}

// The SubjectPublicKeyInfo of `key` with its point in compressed form.
std::string CompressedSpki(const PublicKey& key) {
  EvpPkeyPtr copy(EVP_PKEY_dup(key.get()));
  EXPECT_NE(copy, nullptr);
  EXPECT_EQ(EVP_PKEY_set_utf8_string_param(copy.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  return Der<EVP_PKEY, i2d_PUBKEY>(copy.get());
}

// A CSR for `key` (any type OpenSSL signs with SHA-256), built with OpenSSL alone.
std::string RequestPem(EVP_PKEY* key) {
  X509ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  EXPECT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>("device"), -1, -1, 0),
            1);
  EXPECT_EQ(X509_REQ_set_pubkey(req.get(), key), 1);
  EXPECT_GT(X509_REQ_sign(req.get(), key, EVP_sha256()), 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509_REQ(bio.get(), req.get()), 1);
  return BioString(bio.get());
}

// ---------------------------------------------------------------------------------------------
// Keys

class SupportedKeyTest : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(SupportedKeyTest, DirectDecodingEqualsOpenSslsDecoder) {
  PrivateKey key = NewKey(GetParam());
  const std::string der = key.public_key().ToDer();
  X509PubkeyPtr spki = internal::ParseUndecodedSpki(der);
  ASSERT_NE(spki, nullptr);
  std::optional<internal::DecodedKey> decoded = internal::DecodeSupportedKey(spki.get());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->algorithm, GetParam());
  const unsigned char* p = Bytes(der);
  EvpPkeyPtr generic(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(generic, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(decoded->key.get(), generic.get()), 1);
  EXPECT_EQ((Der<EVP_PKEY, i2d_PUBKEY>(decoded->key.get())), der);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(SupportedKeyTest, PemAndDerParsingGiveTheSameKeyAsBefore) {
  PrivateKey key = NewKey(GetParam());
  Result<PublicKey> from_pem = PublicKey::FromPem(key.public_key().ToPem());
  ASSERT_OK(from_pem);
  EXPECT_EQ(*from_pem, key.public_key());
  EXPECT_EQ(from_pem->algorithm(), GetParam());
  EXPECT_EQ(from_pem->ToDer(), key.public_key().ToDer());
  Result<PublicKey> from_der = PublicKey::FromDer(key.public_key().ToDer());
  ASSERT_OK(from_der);
  EXPECT_EQ(*from_der, key.public_key());
  // The decoded key works: it verifies the private key's signatures.
  Result<std::string> signature = key.Sign("outpost/test/v1", "message");
  ASSERT_OK(signature);
  EXPECT_OK(from_pem->Verify("outpost/test/v1", "message", *signature));
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SupportedKeyTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

TEST(UnsupportedKeyTest, OtherKeysAreLeftToOpenSslsDecoder) {
  EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_NE(p384, nullptr);
  PrivateKey p256 = NewKey(KeyAlgorithm::kEcdsaP256);
  for (const std::string& der :
       {Der<EVP_PKEY, i2d_PUBKEY>(p384.get()), CompressedSpki(p256.public_key())}) {
    X509PubkeyPtr spki = internal::ParseUndecodedSpki(der);
    ASSERT_NE(spki, nullptr);
    EXPECT_FALSE(internal::DecodeSupportedKey(spki.get()).has_value());
  }
  EXPECT_EQ(internal::ParseUndecodedSpki("not DER"), nullptr);
  ERR_clear_error();  // ParseUndecodedSpki's own parse errors
  EXPECT_EQ(internal::ParseUndecodedSpki(p256.public_key().ToDer() + "x"), nullptr);
}

TEST(UnsupportedKeyTest, PointOffTheCurveIsNotDecoded) {
  PrivateKey key = NewKey(KeyAlgorithm::kEcdsaP256);
  std::string der = key.public_key().ToDer();
  der.back() ^= 0x01;  // the last byte of y: almost surely off the curve
  X509PubkeyPtr spki = internal::ParseUndecodedSpki(der);
  ASSERT_NE(spki, nullptr);
  EXPECT_FALSE(internal::DecodeSupportedKey(spki.get()).has_value());
  EXPECT_EQ(ERR_peek_error(), 0u) << "the failed decoding left OpenSSL errors queued";
  // And the public parser still refuses it, as OpenSSL's decoder always did.
  EXPECT_EQ(PublicKey::FromDer(der).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST(UnsupportedKeyTest, CompressedP256KeyParsesAndKeepsItsEncoding) {
  PrivateKey key = NewKey(KeyAlgorithm::kEcdsaP256);
  const std::string compressed = CompressedSpki(key.public_key());
  Result<PublicKey> parsed = PublicKey::FromDer(compressed);
  ASSERT_OK(parsed);
  EXPECT_EQ(*parsed, key.public_key());
  EXPECT_EQ(parsed->ToDer(), compressed);
}

// ---------------------------------------------------------------------------------------------
// Requests

TEST(RequestParsingTest, ParsedRequestKeyEqualsTheGenericDecoding) {
  for (KeyAlgorithm algorithm : {KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256}) {
    PrivateKey key = NewKey(algorithm);
    Result<CertificateSigningRequest> created = CertificateSigningRequest::Create(key, "device");
    ASSERT_OK(created);
    const std::string der = created->ToDer();
    Result<CertificateSigningRequest> parsed = CertificateSigningRequest::FromPem(created->ToPem());
    ASSERT_OK(parsed);
    EXPECT_EQ(parsed->ToDer(), der);
    EXPECT_OK(parsed->VerifySelfSignature());
    Result<PublicKey> public_key = parsed->public_key();
    ASSERT_OK(public_key);
    const unsigned char* p = Bytes(der);
    X509ReqPtr generic(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_NE(generic, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(public_key->get(), X509_REQ_get0_pubkey(generic.get())), 1);
    EXPECT_EQ(public_key->algorithm(), algorithm);
    EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
  }
}

TEST(RequestParsingTest, RequestWithAnUnsupportedKeyVerifiesButIsNotIssued) {
  // As before: the self-signature is checked with OpenSSL's key, then the type is refused.
  EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_NE(p384, nullptr);
  Result<CertificateSigningRequest> csr =
      CertificateSigningRequest::FromPem(RequestPem(p384.get()));
  ASSERT_OK(csr);
  EXPECT_OK(csr->VerifySelfSignature());
  EXPECT_EQ(csr->public_key().status().code(), Errc::kInvalidArgument);
  CertificateAuthority ca = NewCa(KeyAlgorithm::kEcdsaP256);
  Result<Certificate> cert = ca.IssueFromCsr(*csr, ClientProfile());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(cert.status().message().find("not supported"), std::string::npos)
      << cert.status().message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST(RequestParsingTest, RequestWithAPointOffTheCurveIsRefused) {
  PrivateKey key = NewKey(KeyAlgorithm::kEcdsaP256);
  Result<CertificateSigningRequest> csr = CertificateSigningRequest::Create(key, "device");
  ASSERT_OK(csr);
  std::string der = csr->ToDer();
  const std::string spki = key.public_key().ToDer();
  const size_t at = der.find(spki);
  ASSERT_NE(at, std::string::npos);
  der[at + spki.size() - 1] ^= 0x01;
  Result<CertificateSigningRequest> altered = CertificateSigningRequest::FromDer(der);
  ASSERT_OK(altered);  // well-formed; the key is what is wrong
  Status s = altered->VerifySelfSignature();
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("public key cannot be decoded"), std::string::npos) << s.message();
  CertificateAuthority ca = NewCa(KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(ca.IssueFromCsr(*altered, ClientProfile()).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST(RequestParsingTest, PemWithoutARequestIsRefused) {
  PrivateKey key = NewKey(KeyAlgorithm::kEcdsaP256);
  for (const std::string& bad :
       {key.public_key().ToPem(), std::string("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                              "-----END CERTIFICATE REQUEST-----\n")}) {
    Result<CertificateSigningRequest> csr = CertificateSigningRequest::FromPem(bad);
    ASSERT_FALSE(csr.ok());
    EXPECT_EQ(csr.status().code(), Errc::kInvalidArgument);
    EXPECT_NE(csr.status().message().find("not a PEM certificate signing request"),
              std::string::npos)
        << csr.status().message();
  }
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

// ---------------------------------------------------------------------------------------------
// Certificates

// Parameter: the CA's key algorithm. The subject keys cover both algorithms.
class IssuanceTest : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  IssuanceTest() : ca_(NewCa(GetParam())) {}

  // The extensions Issue made with X509V3_EXT_nconf_nid before they were prepared, in order,
  // made the same way now for `cert`.
  std::vector<std::string> ExpectedFixedExtensions(X509* cert, const char* eku) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_.certificate().get(), cert, nullptr, nullptr, 0);
    const std::pair<int, const char*> values[] = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                  {NID_key_usage, "critical,digitalSignature"},
                                                  {NID_ext_key_usage, eku},
                                                  {NID_subject_key_identifier, "hash"},
                                                  {NID_authority_key_identifier, "keyid:always"}};
    std::vector<std::string> out;
    for (const auto& [nid, value] : values) {
      X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
      EXPECT_NE(ext, nullptr) << value;
      out.push_back(ext == nullptr ? "" : ExtensionDer(ext.get()));
    }
    return out;
  }

  CertificateAuthority ca_;
};

TEST_P(IssuanceTest, ExtensionsAreExactlyWhatTheirConfigStringsMake) {
  for (KeyAlgorithm subject : {KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256}) {
    PrivateKey key = NewKey(subject);
    for (const CertificateProfile& profile : {ClientProfile(), ServerProfile()}) {
      Result<Certificate> cert = ca_.Issue(key.public_key(), profile);
      ASSERT_OK(cert);
      const bool server = profile.usage == CertificateProfile::kServer;
      const std::vector<std::string> expected =
          ExpectedFixedExtensions(cert->get(), server ? "serverAuth" : "clientAuth");
      ASSERT_EQ(X509_get_ext_count(cert->get()), server ? 6 : 5);
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(ExtensionDer(X509_get_ext(cert->get(), static_cast<int>(i))), expected[i])
            << "extension #" << i << (server ? " (server)" : " (client)");
      }
      if (server) {
        EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert->get(), 5))),
                  NID_subject_alt_name);
      }
    }
  }
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(IssuanceTest, CertificateVerifiesWithTheCaKeyAndNoOther) {
  PrivateKey device = NewKey(KeyAlgorithm::kEcdsaP256);
  Result<CertificateSigningRequest> csr = CertificateSigningRequest::Create(device, "device");
  ASSERT_OK(csr);
  Result<CertificateSigningRequest> received = CertificateSigningRequest::FromPem(csr->ToPem());
  ASSERT_OK(received);
  Result<Certificate> cert = ca_.IssueFromCsr(*received, ClientProfile());
  ASSERT_OK(cert);
  EXPECT_EQ(X509_verify(cert->get(), ca_.key().public_key().get()), 1);
  PrivateKey other = NewKey(GetParam());
  EXPECT_EQ(X509_verify(cert->get(), other.public_key().get()), 0);
  ERR_clear_error();  // the failed verification's entries
  // The PEM that Register sends parses back to the same certificate.
  Result<Certificate> sent = Certificate::FromPem(cert->ToPem());
  ASSERT_OK(sent);
  EXPECT_EQ(sent->ToDer(), cert->ToDer());
  EXPECT_OK(VerifyChain(*sent, {}, {ca_.certificate()}, kT0 + kDay, CertificateProfile::kClient));
}

TEST_P(IssuanceTest, CertificateCarriesTheSubjectKeyEncodingUnchanged) {
  PrivateKey p256 = NewKey(KeyAlgorithm::kEcdsaP256);
  PrivateKey ed25519 = NewKey(KeyAlgorithm::kEd25519);
  Result<PublicKey> compressed = PublicKey::FromDer(CompressedSpki(p256.public_key()));
  ASSERT_OK(compressed);
  const PublicKey* subjects[] = {&p256.public_key(), &ed25519.public_key(), &*compressed};
  for (const PublicKey* subject : subjects) {
    Result<Certificate> cert = ca_.Issue(*subject, ClientProfile());
    ASSERT_OK(cert);
    EXPECT_EQ((Der<X509_PUBKEY, i2d_X509_PUBKEY>(X509_get_X509_PUBKEY(cert->get()))),
              subject->ToDer());
    Result<PublicKey> key = cert->public_key();
    ASSERT_OK(key);
    EXPECT_EQ(*key, *subject);
    EXPECT_EQ(key->algorithm(), subject->algorithm());
    EXPECT_EQ(key->ToDer(), subject->ToDer());
    // The certificate's own EVP_PKEY is usable (TLS and X509_check_private_key need it).
    const PrivateKey& private_key = subject->algorithm() == KeyAlgorithm::kEd25519 ? ed25519 : p256;
    EXPECT_EQ(X509_check_private_key(cert->get(), private_key.get()), 1);
  }
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(IssuanceTest, RequestWithACompressedKeyGivesACertificateWithThatEncoding) {
  PrivateKey device = NewKey(KeyAlgorithm::kEcdsaP256);
  EvpPkeyPtr compressed(EVP_PKEY_dup(device.get()));
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(
                compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
            1);
  Result<CertificateSigningRequest> csr =
      CertificateSigningRequest::FromPem(RequestPem(compressed.get()));
  ASSERT_OK(csr);
  Result<Certificate> cert = ca_.IssueFromCsr(*csr, ClientProfile());
  ASSERT_OK(cert);
  EXPECT_EQ((Der<X509_PUBKEY, i2d_X509_PUBKEY>(X509_get_X509_PUBKEY(cert->get()))),
            (Der<X509_PUBKEY, i2d_X509_PUBKEY>(X509_REQ_get_X509_PUBKEY(csr->get()))));
  EXPECT_EQ(ValueOrDie(cert->public_key(), "public_key"), device.public_key());
  EXPECT_EQ(X509_check_private_key(cert->get(), device.get()), 1);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(IssuanceTest, PemIsWhatPemWriteBioWrites) {
  PrivateKey key = NewKey(KeyAlgorithm::kEcdsaP256);
  // Several certificates, so that DER lengths with and without a partial last line occur.
  for (int i = 0; i < 8; ++i) {
    CertificateProfile profile = ServerProfile();
    profile.dns_names.push_back(std::string(static_cast<size_t>(i) * 7 + 1, 'a') + ".example");
    Result<Certificate> cert = ca_.Issue(key.public_key(), profile);
    ASSERT_OK(cert);
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASSERT_EQ(PEM_write_bio_X509(bio.get(), cert->get()), 1);
    EXPECT_EQ(cert->ToPem(), BioString(bio.get()));
  }
}

TEST_P(IssuanceTest, TwoThreadsIssuingAtOnceGetValidDistinctCertificates) {
  constexpr int kPerThread = 20;
  std::vector<std::string> requests;
  for (int i = 0; i < 2 * kPerThread; ++i) {
    PrivateKey device = NewKey(KeyAlgorithm::kEcdsaP256);
    requests.push_back(
        ValueOrDie(CertificateSigningRequest::Create(device, "device"), "Create").ToPem());
  }
  std::vector<std::vector<Certificate>> issued(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        Result<CertificateSigningRequest> csr =
            CertificateSigningRequest::FromPem(requests[static_cast<size_t>(i)]);
        if (!csr.ok()) continue;  // counted below
        Result<Certificate> cert = ca_.IssueFromCsr(*csr, ClientProfile());
        if (cert.ok()) issued[static_cast<size_t>(t)].push_back(std::move(cert).value());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> serials;
  for (const auto& certs : issued) {
    ASSERT_EQ(certs.size(), static_cast<size_t>(kPerThread));
    for (const Certificate& cert : certs) {
      EXPECT_OK(
          VerifyChain(cert, {}, {ca_.certificate()}, kT0 + kDay, CertificateProfile::kClient));
      EXPECT_TRUE(serials.insert(cert.serial_hex()).second) << "repeated serial";
    }
  }
}

TEST_P(IssuanceTest, CaWithoutSubjectKeyIdentifierStillCannotIssue) {
  // Built with OpenSSL alone: a CA certificate that Load accepts but that lacks the
  // subjectKeyIdentifier "keyid:always" copies. Issuing fails as it always did.
  PrivateKey key = NewKey(GetParam());
  X509Ptr x(X509_new());
  X509NamePtr name(X509_NAME_new());
  ASSERT_EQ(
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("No SKI CA"), -1, -1, 0),
      1);
  ASSERT_EQ(X509_set_version(x.get(), X509_VERSION_3), 1);
  ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1), 1);
  ASSERT_EQ(X509_set_subject_name(x.get(), name.get()), 1);
  ASSERT_EQ(X509_set_issuer_name(x.get(), name.get()), 1);
  ASSERT_NE(ASN1_TIME_set(X509_getm_notBefore(x.get()), ToUnixSeconds(kCaNotBefore)), nullptr);
  ASSERT_NE(ASN1_TIME_set(X509_getm_notAfter(x.get()), ToUnixSeconds(kCaNotAfter)), nullptr);
  ASSERT_EQ(X509_set_pubkey(x.get(), key.public_key().get()), 1);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> ca_extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign,cRLSign"}};
  for (const auto& [nid, value] : ca_extensions) {
    X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    ASSERT_NE(ext, nullptr);
    ASSERT_EQ(X509_add_ext(x.get(), ext.get(), -1), 1);
  }
  ASSERT_GT(X509_sign(x.get(), key.get(), CertificateSignatureDigest(key.algorithm())), 0);
  Result<Certificate> cert = Certificate::FromX509(x.get());
  ASSERT_OK(cert);
  Result<CertificateAuthority> ca = CertificateAuthority::Load(*cert, std::move(key));
  ASSERT_OK(ca);
  PrivateKey device = NewKey(KeyAlgorithm::kEcdsaP256);
  Result<Certificate> issued = ca->Issue(device.public_key(), ClientProfile());
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.status().code(), Errc::kInternal);
  EXPECT_NE(issued.status().message().find("authorityKeyIdentifier"), std::string::npos)
      << issued.status().message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

INSTANTIATE_TEST_SUITE_P(CaAlgorithms, IssuanceTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

}  // namespace
}  // namespace outpost::crypto
