#include "server/tls_renewal.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

using std::chrono::days;

class TlsRenewalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    ASSERT_OK(key);
    auto ca = crypto::CertificateAuthority::CreateRoot(std::move(*key), "Test CA", now_ - days(1),
                                                       now_ + days(3650));
    ASSERT_OK(ca);
    ca_.emplace(std::move(*ca));
    auto server_key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
    ASSERT_OK(server_key);
    server_key_.emplace(std::move(*server_key));
  }

  crypto::Certificate Issue(const crypto::CertificateAuthority& ca, TimePoint at) {
    auto cert = ca.Issue(server_key_->public_key(),
                         ServerCertificateProfile("outpost-satellite", {"localhost", "sat.lan"},
                                                  {"127.0.0.1", "::1", "10.0.0.5"}, at,
                                                  ca.certificate().not_after()));
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return *cert;
  }

  TimePoint now_ = FromUnixSeconds(1'780'000'000);
  std::optional<crypto::CertificateAuthority> ca_;
  std::optional<crypto::PrivateKey> server_key_;
};

TEST_F(TlsRenewalTest, ProfileLastsTheServerValidityButNeverPastTheCa) {
  const auto p = ServerCertificateProfile("x", {"localhost"}, {}, now_, now_ + days(3650));
  EXPECT_EQ(p.not_before, now_ - kServerCertificateBackdate);
  EXPECT_EQ(p.not_after, now_ + kServerCertificateValidity);
  const auto short_ca = ServerCertificateProfile("x", {"localhost"}, {}, now_, now_ + days(10));
  EXPECT_EQ(short_ca.not_after, now_ + days(10));
}

TEST_F(TlsRenewalTest, IssuedByTellsTheSatelliteCaFromAnother) {
  const crypto::Certificate ours = Issue(*ca_, now_);
  EXPECT_TRUE(IssuedBy(ours, ca_->certificate()));
  auto other_key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(other_key);
  // Same subject name, other key: the name matches, the signature does not.
  auto other = crypto::CertificateAuthority::CreateRoot(std::move(*other_key), "Test CA",
                                                        now_ - days(1), now_ + days(3650));
  ASSERT_OK(other);
  const crypto::Certificate theirs = Issue(*other, now_);
  EXPECT_FALSE(IssuedBy(theirs, ca_->certificate()));
  EXPECT_FALSE(IssuedBy(ours, other->certificate()));
}

TEST_F(TlsRenewalTest, RenewsOnlyWithinTheWindowAndOnlyItsOwnCertificates) {
  const crypto::Certificate cert = Issue(*ca_, now_);
  const TimePoint end = cert.not_after();
  const auto window = days(30);
  const auto& ca = ca_->certificate();
  EXPECT_EQ(DecideRenewal(cert, true, ca, now_, window), RenewalVerdict::kValid);
  EXPECT_EQ(DecideRenewal(cert, true, ca, end - days(31), window), RenewalVerdict::kValid);
  EXPECT_EQ(DecideRenewal(cert, true, ca, end - days(30), window), RenewalVerdict::kRenew);
  EXPECT_EQ(DecideRenewal(cert, true, ca, end + days(1), window), RenewalVerdict::kRenew);
  EXPECT_EQ(DecideRenewal(cert, false, ca, end - days(29), window),
            RenewalVerdict::kOperatorExpiring);
  EXPECT_EQ(DecideRenewal(cert, false, ca, end - days(31), window), RenewalVerdict::kValid);
}

// A CA that ends within the window cannot give a renewal that leaves it: renewing would repeat
// at every check, so the satellite raises the alarm instead.
TEST_F(TlsRenewalTest, ACaAboutToExpireIsNotRenewedFromEveryCheck) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(key);
  auto short_ca = crypto::CertificateAuthority::CreateRoot(std::move(*key), "Short CA",
                                                           now_ - days(1), now_ + days(40));
  ASSERT_OK(short_ca);
  const crypto::Certificate cert = Issue(*short_ca, now_);
  EXPECT_EQ(cert.not_after(), short_ca->certificate().not_after());
  EXPECT_EQ(DecideRenewal(cert, true, short_ca->certificate(), now_ + days(20), days(30)),
            RenewalVerdict::kCaExpiresTooSoon);
}

TEST_F(TlsRenewalTest, RenewalKeepsNamesAndKeyAndStartsNow) {
  const crypto::Certificate cert = Issue(*ca_, now_);
  const TimePoint later = cert.not_after() - days(10);
  auto pem = RenewServerCertificate(*ca_, cert, server_key_->public_key(), later);
  ASSERT_OK(pem);
  auto chain = crypto::Certificate::ParsePemChain(*pem);
  ASSERT_OK(chain);
  ASSERT_EQ(chain->size(), 2u);
  const crypto::Certificate& renewed = chain->front();
  EXPECT_EQ((*chain)[1], ca_->certificate());
  EXPECT_EQ(renewed.dns_names(), cert.dns_names());
  EXPECT_EQ(renewed.ip_addresses(), cert.ip_addresses());
  EXPECT_EQ(renewed.subject_common_name(), "outpost-satellite");
  EXPECT_NE(renewed.serial_hex(), cert.serial_hex());
  EXPECT_EQ(renewed.not_after(), later + kServerCertificateValidity);
  EXPECT_TRUE(IssuedBy(renewed, ca_->certificate()));
  auto key = renewed.public_key();
  ASSERT_OK(key);
  EXPECT_EQ(key->Fingerprint(), server_key_->public_key().Fingerprint());
  EXPECT_OK(crypto::VerifyChain(renewed, {}, {ca_->certificate()}, later,
                                crypto::CertificateProfile::kServer));
}

}  // namespace
}  // namespace outpost::server
