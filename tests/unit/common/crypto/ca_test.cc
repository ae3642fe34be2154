#include "common/crypto/ca.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <set>
#include <string>

#include "tests/testing/test_util.h"
#include "tests/unit/common/crypto/crypto_test_util.h"

namespace outpost::crypto {
namespace {

using namespace ::outpost::crypto::testing;
using namespace std::chrono_literals;

constexpr auto kServer = CertificateProfile::kServer;
constexpr auto kClient = CertificateProfile::kClient;

KeyAlgorithm Other(KeyAlgorithm a) {
  return a == KeyAlgorithm::kEd25519 ? KeyAlgorithm::kEcdsaP256 : KeyAlgorithm::kEd25519;
}

std::string Hex(const ASN1_OCTET_STRING* s) {
  if (s == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// Parameter: the CA key algorithm. Leaf keys use the other algorithm, so mixed chains are
// covered both ways.
class CaTest : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  CaTest() : ca_(NewCa(GetParam())), leaf_key_(NewKey(Other(GetParam()))) {}

  Certificate IssueServer() {
    return ValueOrDie(ca_.Issue(leaf_key_.public_key(), ServerProfile()), "Issue");
  }

  CertificateAuthority ca_;
  PrivateKey leaf_key_;
};

TEST_P(CaTest, RootIsASelfSignedCaWithTheRequiredExtensions) {
  const Certificate& root = ca_.certificate();
  X509* x = root.get();
  EXPECT_EQ(root.subject_common_name(), "Outpost Test CA");
  EXPECT_EQ(root.issuer_common_name(), "Outpost Test CA");
  EXPECT_EQ(root.not_before(), kCaNotBefore);
  EXPECT_EQ(root.not_after(), kCaNotAfter);
  EXPECT_TRUE(root.is_ca());
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  EXPECT_TRUE(X509_get_extension_flags(x) & EXFLAG_SS) << "not self-signed";
  EXPECT_TRUE(X509_get_extension_flags(x) & EXFLAG_BCONS_CRITICAL);
  EXPECT_EQ(X509_get_pathlen(x), 0);
  EXPECT_EQ(X509_get_key_usage(x), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(x), nullptr);
  Result<PublicKey> key = root.public_key();
  ASSERT_OK(key);
  EXPECT_EQ(*key, ca_.key().public_key());
  EXPECT_OK(VerifyChain(root, {}, {root}, kT0, std::nullopt));
}

TEST_P(CaTest, IssuedServerCertificateHasTheProfileAndExtensions) {
  const Certificate cert = IssueServer();
  X509* x = cert.get();
  EXPECT_EQ(cert.subject_common_name(), "outpost.local");
  EXPECT_EQ(cert.issuer_common_name(), "Outpost Test CA");
  EXPECT_EQ(cert.dns_names(), (std::vector<std::string>{"localhost", "outpost.local"}));
  EXPECT_EQ(cert.ip_addresses(), (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(cert.not_before(), kT0);
  EXPECT_EQ(cert.not_after(), kT0 + 365 * kDay);
  EXPECT_FALSE(cert.is_ca());
  EXPECT_TRUE(X509_get_extension_flags(x) & EXFLAG_BCONS) << "basicConstraints missing";
  EXPECT_EQ(X509_get_key_usage(x), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(x), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(Hex(X509_get0_authority_key_id(x)),
            Hex(X509_get0_subject_key_id(ca_.certificate().get())));
  EXPECT_NE(X509_get0_subject_key_id(x), nullptr);
  Result<PublicKey> key = cert.public_key();
  ASSERT_OK(key);
  EXPECT_EQ(*key, leaf_key_.public_key());
}

TEST_P(CaTest, SerialNumbersAreDistinct) {
  std::set<std::string> serials = {ca_.certificate().serial_hex()};
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(serials.insert(IssueServer().serial_hex()).second) << "repeated serial";
  }
}

TEST_P(CaTest, ServerChainVerifiesInsideTheValidityPeriod) {
  const Certificate cert = IssueServer();
  // OpenSSL treats notBefore as inclusive and notAfter as exclusive.
  for (TimePoint at : {kT0, kT0 + 100 * kDay, kT0 + 365 * kDay - 1s}) {
    EXPECT_OK(VerifyChain(cert, {}, {ca_.certificate()}, at, kServer));
    EXPECT_OK(VerifyChain(cert, {}, {ca_.certificate()}, at, std::nullopt));
  }
}

TEST_P(CaTest, ServerChainFailsAfterNotAfter) {
  const Certificate cert = IssueServer();
  EXPECT_FALSE(VerifyChain(cert, {}, {ca_.certificate()}, cert.not_after(), kServer).ok());
  Status s = VerifyChain(cert, {}, {ca_.certificate()}, cert.not_after() + 1s, kServer);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("certificate has expired"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"outpost.local\""), std::string::npos) << s.message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(CaTest, ServerChainFailsBeforeNotBefore) {
  const Certificate cert = IssueServer();
  Status s = VerifyChain(cert, {}, {ca_.certificate()}, kT0 - 1s, kServer);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("not yet valid"), std::string::npos) << s.message();
}

TEST_P(CaTest, ChainFailsAgainstAnotherCa) {
  const Certificate cert = IssueServer();
  CertificateAuthority other = NewCa(GetParam(), "Outpost Test CA");  // same name, other key
  Status s = VerifyChain(cert, {}, {other.certificate()}, kT0 + kDay, kServer);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("not issued by a trusted CA"), std::string::npos) << s.message();
  // Trusting both works: the right root is found.
  EXPECT_OK(VerifyChain(cert, {}, {other.certificate(), ca_.certificate()}, kT0 + kDay, kServer));
}

TEST_P(CaTest, ChainFailsForAnAlteredCertificate) {
  std::string der = IssueServer().ToDer();
  const size_t at = der.find("outpost.local");
  ASSERT_NE(at, std::string::npos);
  der[at] = 'X';
  Result<Certificate> altered = Certificate::FromDer(der);
  ASSERT_OK(altered);
  Status s = VerifyChain(*altered, {}, {ca_.certificate()}, kT0 + kDay, kServer);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("signature"), std::string::npos) << s.message();
}

TEST_P(CaTest, ClientCertificateVerifiesOnlyForClientPurpose) {
  Result<Certificate> cert = ca_.Issue(leaf_key_.public_key(), ClientProfile());
  ASSERT_OK(cert);
  EXPECT_EQ(X509_get_extended_key_usage(cert->get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_TRUE(cert->dns_names().empty());
  EXPECT_OK(VerifyChain(*cert, {}, {ca_.certificate()}, kT0 + kDay, kClient));
  Status s = VerifyChain(*cert, {}, {ca_.certificate()}, kT0 + kDay, kServer);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("certificate purpose"), std::string::npos) << s.message();
}

TEST_P(CaTest, ServerCertificateIsNotAClientCertificate) {
  EXPECT_EQ(VerifyChain(IssueServer(), {}, {ca_.certificate()}, kT0 + kDay, kClient).code(),
            Errc::kUnauthenticated);
}

TEST_P(CaTest, IssueRefusesACertificateThatWouldOutliveTheCa) {
  CertificateProfile profile = ServerProfile();
  profile.not_after = kCaNotAfter + 1s;
  Result<Certificate> cert = ca_.Issue(leaf_key_.public_key(), profile);
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(cert.status().message().find("renew the CA"), std::string::npos);
  profile.not_after = kCaNotAfter;
  EXPECT_OK(ca_.Issue(leaf_key_.public_key(), profile));
}

TEST_P(CaTest, IssueRefusesBadProfilesSayingWhatIsWrong) {
  struct Case {
    const char* what;
    void (*mutate)(CertificateProfile&);
    const char* expected;
  };
  const Case cases[] = {
      {"empty CN", [](CertificateProfile& p) { p.common_name = ""; }, "common name"},
      {"long CN", [](CertificateProfile& p) { p.common_name = std::string(65, 'a'); }, "64"},
      {"empty validity", [](CertificateProfile& p) { p.not_after = p.not_before; }, "validity"},
      {"no SAN",
       [](CertificateProfile& p) {
         p.dns_names.clear();
         p.ip_addresses.clear();
       },
       "at least one DNS name or IP address"},
      {"bad DNS", [](CertificateProfile& p) { p.dns_names = {"bad name"}; }, "not a valid DNS"},
      {"DNS injection", [](CertificateProfile& p) { p.dns_names = {"a,DNS:evil.com"}; },
       "not a valid DNS"},
      {"empty label", [](CertificateProfile& p) { p.dns_names = {"a..b"}; }, "not a valid DNS"},
      {"IP as DNS", [](CertificateProfile& p) { p.dns_names = {"10.0.0.1"}; }, "ip_addresses"},
      {"bad IP", [](CertificateProfile& p) { p.ip_addresses = {"1.2.3"}; }, "not an IPv4"},
  };
  for (const Case& c : cases) {
    CertificateProfile profile = ServerProfile();
    c.mutate(profile);
    Result<Certificate> cert = ca_.Issue(leaf_key_.public_key(), profile);
    ASSERT_FALSE(cert.ok()) << c.what;
    EXPECT_EQ(cert.status().code(), Errc::kInvalidArgument) << c.what;
    EXPECT_NE(cert.status().message().find(c.expected), std::string::npos)
        << c.what << ": " << cert.status().message();
  }
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(CaTest, WildcardAndIpv6NamesAreAccepted) {
  CertificateProfile profile = ServerProfile();
  profile.dns_names = {"*.outpost.example", "outpost-1.example"};
  profile.ip_addresses = {"10.1.2.3", "fe80::1"};
  Result<Certificate> cert = ca_.Issue(leaf_key_.public_key(), profile);
  ASSERT_OK(cert);
  EXPECT_EQ(cert->dns_names(), profile.dns_names);
  EXPECT_EQ(cert->ip_addresses(), profile.ip_addresses);
}

TEST_P(CaTest, LoadedCaIssuesCertificatesThatVerify) {
  Result<Certificate> cert = Certificate::FromPem(ca_.certificate().ToPem());
  Result<PrivateKey> key = PrivateKey::FromPem(ca_.key().ToPem());
  ASSERT_OK(cert);
  ASSERT_OK(key);
  Result<CertificateAuthority> loaded =
      CertificateAuthority::Load(std::move(cert).value(), std::move(key).value());
  ASSERT_OK(loaded);
  Result<Certificate> issued = loaded->Issue(leaf_key_.public_key(), ServerProfile());
  ASSERT_OK(issued);
  EXPECT_OK(VerifyChain(*issued, {}, {ca_.certificate()}, kT0 + kDay, kServer));
}

TEST_P(CaTest, LoadRefusesAKeyThatDoesNotMatchTheCertificate) {
  Result<CertificateAuthority> loaded =
      CertificateAuthority::Load(ca_.certificate(), NewKey(GetParam()));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("does not belong"), std::string::npos)
      << loaded.status().message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(CaTest, LoadRefusesALeafCertificate) {
  Result<PrivateKey> leaf_key = PrivateKey::FromPem(leaf_key_.ToPem());
  ASSERT_OK(leaf_key);
  Result<CertificateAuthority> loaded =
      CertificateAuthority::Load(IssueServer(), std::move(leaf_key).value());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("not a CA certificate"), std::string::npos);
}

TEST_P(CaTest, CsrFlowIssuesAClientCertificateForTheDeviceKey) {
  PrivateKey device_key = NewKey(Other(GetParam()));
  Result<CertificateSigningRequest> csr =
      CertificateSigningRequest::Create(device_key, "what-the-device-claims");
  ASSERT_OK(csr);
  // The request travels as PEM.
  Result<CertificateSigningRequest> received = CertificateSigningRequest::FromPem(csr->ToPem());
  ASSERT_OK(received);
  Result<Certificate> cert = ca_.IssueFromCsr(*received, ClientProfile("device-0001"));
  ASSERT_OK(cert);
  // The identity comes from the profile, the key from the CSR.
  EXPECT_EQ(cert->subject_common_name(), "device-0001");
  Result<PublicKey> key = cert->public_key();
  ASSERT_OK(key);
  EXPECT_EQ(*key, device_key.public_key());
  EXPECT_OK(VerifyChain(*cert, {}, {ca_.certificate()}, kT0 + kDay, kClient));
  EXPECT_EQ(ERR_peek_error(), 0u) << "a successful flow left OpenSSL errors queued";
}

TEST_P(CaTest, CsrWithATamperedSignatureIsRefused) {
  PrivateKey device_key = NewKey(GetParam());
  Result<CertificateSigningRequest> csr =
      CertificateSigningRequest::Create(device_key, "device-0001");
  ASSERT_OK(csr);
  std::string der = csr->ToDer();
  der[der.size() - 5] ^= 0x10;
  Result<CertificateSigningRequest> tampered = CertificateSigningRequest::FromDer(der);
  ASSERT_OK(tampered);
  Result<Certificate> cert = ca_.IssueFromCsr(*tampered, ClientProfile());
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(cert.status().message().find("not signed by the key it contains"), std::string::npos)
      << cert.status().message();
}

INSTANTIATE_TEST_SUITE_P(CaAlgorithms, CaTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

TEST(CreateRootTest, RefusesAnEmptyValidityPeriodOrName) {
  EXPECT_EQ(CertificateAuthority::CreateRoot(NewKey(KeyAlgorithm::kEd25519), "CA", kT0, kT0)
                .status()
                .code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(CertificateAuthority::CreateRoot(NewKey(KeyAlgorithm::kEd25519), "", kT0, kT0 + kDay)
                .status()
                .code(),
            Errc::kInvalidArgument);
}

TEST(VerifyChainTest, RequiresAtLeastOneTrustedRoot) {
  CertificateAuthority ca = NewCa(KeyAlgorithm::kEd25519);
  Status s = VerifyChain(ca.certificate(), {}, {}, kT0, std::nullopt);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("no trusted root"), std::string::npos);
}

TEST(VerifyChainTest, UntrustedSelfSignedCertificateIsRefused) {
  CertificateAuthority ca = NewCa(KeyAlgorithm::kEd25519);
  CertificateAuthority other = NewCa(KeyAlgorithm::kEd25519, "Other CA");
  Status s = VerifyChain(ca.certificate(), {}, {other.certificate()}, kT0, std::nullopt);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("self-signed"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace outpost::crypto
