#include "common/crypto/x509.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/stat.h>

#include <string>

#include "common/crypto/hash.h"
#include "tests/testing/test_util.h"
#include "tests/unit/common/crypto/crypto_test_util.h"

namespace outpost::crypto {
namespace {

using namespace ::outpost::crypto::testing;
using ::outpost::testing::ReadFileOrDie;
using ::outpost::testing::TempDir;

class CertificateTest : public ::testing::Test {
 protected:
  CertificateTest()
      : ca_(NewCa(KeyAlgorithm::kEcdsaP256)),
        leaf_key_(NewKey(KeyAlgorithm::kEd25519)),
        leaf_(ValueOrDie(ca_.Issue(leaf_key_.public_key(), ServerProfile()), "Issue")) {}

  CertificateAuthority ca_;
  PrivateKey leaf_key_;
  Certificate leaf_;
};

TEST_F(CertificateTest, PemRoundTripKeepsTheCertificate) {
  const std::string pem = leaf_.ToPem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  Result<Certificate> parsed = Certificate::FromPem(pem);
  ASSERT_OK(parsed);
  EXPECT_EQ(*parsed, leaf_);
  EXPECT_EQ(parsed->ToDer(), leaf_.ToDer());
  EXPECT_EQ(parsed->Fingerprint(), leaf_.Fingerprint());
}

TEST_F(CertificateTest, DerRoundTripKeepsTheCertificate) {
  Result<Certificate> parsed = Certificate::FromDer(leaf_.ToDer());
  ASSERT_OK(parsed);
  EXPECT_EQ(*parsed, leaf_);
  EXPECT_EQ(parsed->ToPem(), leaf_.ToPem());
}

TEST_F(CertificateTest, AccessorsReturnWhatWasIssued) {
  EXPECT_EQ(leaf_.subject_common_name(), "outpost.local");
  EXPECT_EQ(leaf_.issuer_common_name(), "Outpost Test CA");
  EXPECT_EQ(leaf_.not_before(), kT0);
  EXPECT_EQ(leaf_.not_after(), kT0 + 365 * kDay);
  EXPECT_EQ(leaf_.dns_names(), (std::vector<std::string>{"localhost", "outpost.local"}));
  EXPECT_EQ(leaf_.ip_addresses(), (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_FALSE(leaf_.is_ca());
  EXPECT_TRUE(ca_.certificate().is_ca());
  Result<PublicKey> key = leaf_.public_key();
  ASSERT_OK(key);
  EXPECT_EQ(*key, leaf_key_.public_key());
  EXPECT_EQ(key->algorithm(), KeyAlgorithm::kEd25519);
}

TEST_F(CertificateTest, FingerprintIsSha256OfDer) {
  EXPECT_EQ(leaf_.Fingerprint(), Sha256Fingerprint(leaf_.ToDer()));
  EXPECT_NE(leaf_.Fingerprint(), ca_.certificate().Fingerprint());
}

TEST_F(CertificateTest, SerialIsLowercaseHexOfAtMost128Bits) {
  const std::string serial = leaf_.serial_hex();
  EXPECT_FALSE(serial.empty());
  EXPECT_LE(serial.size(), 32u);
  EXPECT_NE(serial[0], '0');
  EXPECT_EQ(serial.find_first_not_of("0123456789abcdef"), std::string::npos) << serial;
}

TEST_F(CertificateTest, CopiesShareTheCertificate) {
  Certificate copy = leaf_;
  Certificate assigned = ca_.certificate();
  assigned = copy;
  EXPECT_EQ(copy.get(), leaf_.get());
  EXPECT_EQ(assigned, leaf_);
  EXPECT_EQ(assigned.not_after(), leaf_.not_after());
}

TEST_F(CertificateTest, ParsePemChainReadsEveryCertificateInOrder) {
  Result<std::vector<Certificate>> chain =
      Certificate::ParsePemChain(ToPemChain({leaf_, ca_.certificate()}));
  ASSERT_OK(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0], leaf_);
  EXPECT_EQ((*chain)[1], ca_.certificate());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_F(CertificateTest, FromPemRejectsMoreThanOneCertificate) {
  Result<Certificate> parsed = Certificate::FromPem(ToPemChain({leaf_, ca_.certificate()}));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("found 2"), std::string::npos);
}

TEST_F(CertificateTest, GarbageIsNotACertificate) {
  for (const char* bad :
       {"", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}) {
    Result<Certificate> parsed = Certificate::FromPem(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Errc::kInvalidArgument);
  }
  EXPECT_NE(Certificate::FromPem("hello").status().message().find("no PEM certificate"),
            std::string::npos);
  EXPECT_FALSE(Certificate::FromDer("").ok());
  EXPECT_FALSE(Certificate::FromDer(leaf_.ToDer() + "x").ok());
  EXPECT_FALSE(Certificate::FromDer(leaf_.ToDer().substr(0, 100)).ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_F(CertificateTest, TruncatedSecondCertificateIsReportedByPosition) {
  const std::string ca_pem = ca_.certificate().ToPem();
  Result<std::vector<Certificate>> chain =
      Certificate::ParsePemChain(leaf_.ToPem() + ca_pem.substr(0, ca_pem.size() / 2));
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.status().message().find("certificate #2"), std::string::npos)
      << chain.status().message();
}

TEST_F(CertificateTest, ChainFileRoundTripsWithMode0644) {
  TempDir dir;
  const auto path = dir / "server-chain.pem";
  ASSERT_OK(SaveCertificateChainFile(path, {leaf_, ca_.certificate()}, IfExists::kFail));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  Result<std::vector<Certificate>> chain = Certificate::LoadChainFile(path);
  ASSERT_OK(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0], leaf_);
  EXPECT_EQ(Certificate::LoadFile(path).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(SaveCertificateChainFile(path, {leaf_}, IfExists::kFail).code(), Errc::kAlreadyExists);
  ASSERT_OK(SaveCertificateChainFile(path, {leaf_}, IfExists::kReplace));
  Result<Certificate> single = Certificate::LoadFile(path);
  ASSERT_OK(single);
  EXPECT_EQ(*single, leaf_);
  EXPECT_EQ(ReadFileOrDie(path), leaf_.ToPem());
}

TEST(CertificateTimeTest, ValidityAfter2049UsesGeneralizedTimeAndReadsBackExactly) {
  // RFC 5280 switches from UTCTime to GeneralizedTime in 2050.
  const TimePoint not_after = FromUnixSeconds(2'900'000'000);  // 2061-11-24
  Result<CertificateAuthority> ca = CertificateAuthority::CreateRoot(
      NewKey(KeyAlgorithm::kEd25519), "Long-lived CA", kT0, not_after);
  ASSERT_OK(ca);
  EXPECT_EQ(ca->certificate().not_before(), kT0);
  EXPECT_EQ(ca->certificate().not_after(), not_after);
}

// ---------------------------------------------------------------------------------------------
// CertificateSigningRequest

class CsrTest : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(CsrTest, CreatedRequestRoundTripsAndVerifies) {
  PrivateKey key = NewKey(GetParam());
  Result<CertificateSigningRequest> csr = CertificateSigningRequest::Create(key, "device-0001");
  ASSERT_OK(csr);
  EXPECT_OK(csr->VerifySelfSignature());

  const std::string pem = csr->ToPem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
  Result<CertificateSigningRequest> parsed = CertificateSigningRequest::FromPem(pem);
  ASSERT_OK(parsed);
  EXPECT_OK(parsed->VerifySelfSignature());
  EXPECT_EQ(parsed->subject_common_name(), "device-0001");
  Result<PublicKey> public_key = parsed->public_key();
  ASSERT_OK(public_key);
  EXPECT_EQ(*public_key, key.public_key());

  Result<CertificateSigningRequest> from_der = CertificateSigningRequest::FromDer(csr->ToDer());
  ASSERT_OK(from_der);
  EXPECT_EQ(from_der->ToDer(), csr->ToDer());
}

TEST_P(CsrTest, RequestAlteredAfterSigningIsRefused) {
  PrivateKey key = NewKey(GetParam());
  Result<CertificateSigningRequest> csr = CertificateSigningRequest::Create(key, "device-0001");
  ASSERT_OK(csr);
  std::string der = csr->ToDer();
  const size_t at = der.find("device-0001");
  ASSERT_NE(at, std::string::npos);
  der[at + 10] = '2';  // claim to be device-0002

  Result<CertificateSigningRequest> tampered = CertificateSigningRequest::FromDer(der);
  ASSERT_OK(tampered);  // still well-formed...
  EXPECT_EQ(tampered->subject_common_name(), "device-0002");
  Status s = tampered->VerifySelfSignature();  // ...but not signed as it now reads
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("not signed by the key it contains"), std::string::npos)
      << s.message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(CsrTest, RequestWithAlteredSignatureIsRefused) {
  PrivateKey key = NewKey(GetParam());
  Result<CertificateSigningRequest> csr = CertificateSigningRequest::Create(key, "device-0001");
  ASSERT_OK(csr);
  std::string der = csr->ToDer();
  der.back() ^= 0x01;  // the signature is the last field
  Result<CertificateSigningRequest> tampered = CertificateSigningRequest::FromDer(der);
  ASSERT_OK(tampered);
  EXPECT_EQ(tampered->VerifySelfSignature().code(), Errc::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, CsrTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

TEST(CsrParsingTest, BadInputIsRejected) {
  EXPECT_EQ(CertificateSigningRequest::FromPem("hello").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(CertificateSigningRequest::FromDer("hello").status().code(), Errc::kInvalidArgument);
  PrivateKey key = NewKey(KeyAlgorithm::kEd25519);
  EXPECT_EQ(CertificateSigningRequest::Create(key, "").status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(CertificateSigningRequest::Create(key, std::string(65, 'a')).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

}  // namespace
}  // namespace outpost::crypto
