#include "common/crypto/keys.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <string>

#include "common/crypto/encoding.h"
#include "tests/testing/test_util.h"

namespace outpost::crypto {
namespace {

constexpr std::string_view kDomain = "outpost/test/v1";

TEST(KeyAlgorithmTest, NamesRoundTrip) {
  EXPECT_EQ(AlgorithmName(KeyAlgorithm::kEd25519), "ed25519");
  EXPECT_EQ(AlgorithmName(KeyAlgorithm::kEcdsaP256), "ecdsa-p256-sha256");
  for (KeyAlgorithm a : {KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256}) {
    Result<KeyAlgorithm> parsed = ParseKeyAlgorithm(AlgorithmName(a));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, a);
  }
}

TEST(KeyAlgorithmTest, UnknownNameIsRejectedListingTheSupportedOnes) {
  Result<KeyAlgorithm> parsed = ParseKeyAlgorithm("rsa");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("ed25519, ecdsa-p256-sha256"), std::string::npos);
}

class KeysTest : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  PrivateKey NewKey() {
    Result<PrivateKey> key = PrivateKey::Generate(GetParam());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (!key.ok()) std::abort();
    return std::move(key).value();
  }
};

TEST_P(KeysTest, GeneratedKeyHasTheRequestedAlgorithm) {
  PrivateKey key = NewKey();
  EXPECT_EQ(key.algorithm(), GetParam());
  EXPECT_EQ(key.public_key().algorithm(), GetParam());
  EXPECT_NE(key.get(), nullptr);
}

TEST_P(KeysTest, PrivateKeyPemRoundTripKeepsTheKey) {
  PrivateKey key = NewKey();
  const std::string pem = key.ToPem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PRIVATE KEY-----\n")) << "expected PKCS#8";
  Result<PrivateKey> loaded = PrivateKey::FromPem(pem);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->algorithm(), GetParam());
  EXPECT_EQ(loaded->public_key(), key.public_key());
  EXPECT_EQ(loaded->ToPem(), pem);
  // The reloaded key signs what the original's public key accepts.
  Result<std::string> signature = loaded->Sign(kDomain, "message");
  ASSERT_OK(signature);
  EXPECT_OK(key.public_key().Verify(kDomain, "message", *signature));
}

TEST_P(KeysTest, PublicKeyPemAndDerRoundTrip) {
  const PublicKey public_key = NewKey().public_key();
  const std::string pem = public_key.ToPem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
  Result<PublicKey> from_pem = PublicKey::FromPem(pem);
  ASSERT_OK(from_pem);
  EXPECT_EQ(*from_pem, public_key);
  Result<PublicKey> from_der = PublicKey::FromDer(public_key.ToDer());
  ASSERT_OK(from_der);
  EXPECT_EQ(*from_der, public_key);
  EXPECT_EQ(from_der->KeyId(), public_key.KeyId());
  EXPECT_EQ(from_der->algorithm(), GetParam());
}

TEST_P(KeysTest, PublicKeyPemHoldsNoPrivateMaterial) {
  PrivateKey key = NewKey();
  const std::string pem = key.public_key().ToPem();
  EXPECT_EQ(pem.find("PRIVATE"), std::string::npos);
  EXPECT_FALSE(PrivateKey::FromPem(pem).ok());
}

TEST_P(KeysTest, SignatureVerifies) {
  PrivateKey key = NewKey();
  Result<std::string> signature = key.Sign(kDomain, "license grant #1");
  ASSERT_OK(signature);
  EXPECT_OK(key.public_key().Verify(kDomain, "license grant #1", *signature));
  Result<std::string> raw = key.SignRaw("raw message");
  ASSERT_OK(raw);
  EXPECT_OK(key.public_key().VerifyRaw("raw message", *raw));
}

TEST_P(KeysTest, EmptyMessageSignsAndVerifies) {
  PrivateKey key = NewKey();
  Result<std::string> signature = key.Sign(kDomain, "");
  ASSERT_OK(signature);
  EXPECT_OK(key.public_key().Verify(kDomain, "", *signature));
}

TEST_P(KeysTest, TamperedMessageFailsToVerify) {
  PrivateKey key = NewKey();
  Result<std::string> signature = key.Sign(kDomain, "seats=10");
  ASSERT_OK(signature);
  Status s = key.public_key().Verify(kDomain, "seats=99", *signature);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("signature does not verify"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(key.public_key().KeyId()), std::string::npos) << s.message();
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(KeysTest, TamperedSignatureFailsToVerify) {
  PrivateKey key = NewKey();
  Result<std::string> signature = key.Sign(kDomain, "seats=10");
  ASSERT_OK(signature);
  for (size_t i : {size_t{0}, signature->size() / 2, signature->size() - 1}) {
    std::string bad = *signature;
    bad[i] ^= 0x40;
    EXPECT_EQ(key.public_key().Verify(kDomain, "seats=10", bad).code(), Errc::kInvalidArgument)
        << "byte " << i;
  }
  EXPECT_FALSE(key.public_key().Verify(kDomain, "seats=10", "").ok());
  EXPECT_FALSE(key.public_key().Verify(kDomain, "seats=10", signature->substr(1)).ok());
  EXPECT_FALSE(key.public_key().Verify(kDomain, "seats=10", *signature + "x").ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST_P(KeysTest, WrongDomainFailsToVerify) {
  PrivateKey key = NewKey();
  Result<std::string> signature = key.Sign("outpost/sync-response/v1", "payload");
  ASSERT_OK(signature);
  EXPECT_FALSE(key.public_key().Verify("outpost/sync-request/v1", "payload", *signature).ok());
  // Domain separation: moving bytes between domain and message changes what is signed...
  EXPECT_FALSE(key.public_key().Verify("outpost/sync-response/v", "1payload", *signature).ok());
  // ...and a domain-separated signature is not a raw signature over the message.
  EXPECT_FALSE(key.public_key().VerifyRaw("payload", *signature).ok());
  EXPECT_OK(
      key.public_key().VerifyRaw(std::string("outpost/sync-response/v1\0payload", 32), *signature));
}

TEST_P(KeysTest, SignatureFromAnotherKeyFailsToVerify) {
  PrivateKey key = NewKey();
  PrivateKey other = NewKey();
  Result<std::string> signature = other.Sign(kDomain, "payload");
  ASSERT_OK(signature);
  EXPECT_EQ(key.public_key().Verify(kDomain, "payload", *signature).code(), Errc::kInvalidArgument);
  EXPECT_FALSE(key.public_key() == other.public_key());
}

TEST_P(KeysTest, EmptyOrNulDomainIsRejected) {
  PrivateKey key = NewKey();
  Result<std::string> empty = key.Sign("", "payload");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("domain"), std::string::npos);
  EXPECT_FALSE(key.Sign(std::string("a\0b", 3), "payload").ok());
  Result<std::string> signature = key.Sign(kDomain, "payload");
  ASSERT_OK(signature);
  EXPECT_EQ(key.public_key().Verify("", "payload", *signature).code(), Errc::kInvalidArgument);
}

TEST_P(KeysTest, KeyIdAndFingerprintHaveTheirDocumentedForms) {
  const PublicKey key = NewKey().public_key();
  const std::string id = key.KeyId();
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  const std::string fingerprint = key.Fingerprint();
  ASSERT_EQ(fingerprint.size(), 32u * 3 - 1);
  EXPECT_EQ(fingerprint.find_first_not_of("0123456789ABCDEF:"), std::string::npos);
  // The key id is the start of the fingerprint.
  std::string fingerprint_hex;
  for (char c : fingerprint.substr(0, 16 * 3 - 1)) {
    if (c != ':') fingerprint_hex += static_cast<char>(std::tolower(c));
  }
  EXPECT_EQ(fingerprint_hex, id);
}

TEST_P(KeysTest, PublicKeyCopiesShareTheKey) {
  PrivateKey key = NewKey();
  PublicKey copy = key.public_key();
  PublicKey assigned = NewKey().public_key();
  assigned = copy;
  EXPECT_EQ(copy.get(), key.public_key().get());
  EXPECT_EQ(assigned, key.public_key());
  Result<std::string> signature = key.Sign(kDomain, "m");
  ASSERT_OK(signature);
  EXPECT_OK(assigned.Verify(kDomain, "m", *signature));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KeysTest,
                         ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kEcdsaP256),
                         [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
                           return info.param == KeyAlgorithm::kEd25519 ? "Ed25519" : "EcdsaP256";
                         });

TEST(KeyParsingTest, GarbageIsNotAPrivateKey) {
  Result<PrivateKey> key = PrivateKey::FromPem("hello");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(key.status().message().find("not a PEM private key"), std::string::npos);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

TEST(KeyParsingTest, EncryptedPrivateKeyIsRefusedWithoutPrompting) {
  Result<PrivateKey> key = PrivateKey::FromPem(
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGb\n-----END ENCRYPTED PRIVATE KEY-----\n");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("encrypted"), std::string::npos);
}

TEST(KeyParsingTest, UnsupportedCurveIsRejected) {
  // A P-384 public key.
  const char* pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEumt5xgx41R6kXRCs4sa8zYSS7yX7q+lb\n"
      "UrISc5Pwt7QNgk9Z38Erd0Mb0UOSzqLoRfgealU1DhNeEejh6oFJZqrBQnhfcFke\n"
      "NoC75IcF1HQU17QlF1K4sOdJtes+RXTl\n"
      "-----END PUBLIC KEY-----\n";
  Result<PublicKey> key = PublicKey::FromPem(pem);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(key.status().message().find("not supported"), std::string::npos)
      << key.status().message();
}

TEST(KeyParsingTest, DerWithTrailingBytesIsRejected) {
  Result<PrivateKey> key = PrivateKey::Generate(KeyAlgorithm::kEd25519);
  ASSERT_OK(key);
  Result<PublicKey> parsed = PublicKey::FromDer(key->public_key().ToDer() + "x");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("unexpected bytes"), std::string::npos);
  EXPECT_FALSE(PublicKey::FromDer("").ok());
  EXPECT_FALSE(PublicKey::FromPem("").ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
}

}  // namespace
}  // namespace outpost::crypto
