// Offline verification of signed authorizations: the only answer accepted is one signed by the
// pinned key, in the authorization domain, for this satellite and this device.

#include "client/authorization.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/client/client_test_util.h"

namespace outpost::client {
namespace {

using outpost::testing::MakeAuthorization;
using outpost::testing::OrDie;
using outpost::testing::SignOrDie;

class VerifyAuthorizationTest : public ::testing::Test {
 protected:
  VerifyAuthorizationTest()
      : key_(OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519))),
        authorization_(MakeAuthorization("sat-1", "inst-1", clock_.Now())) {}

  ExpectedSigner Expected() const {
    return ExpectedSigner{&key_.public_key(), key_.public_key().KeyId(), "sat-1", "inst-1"};
  }

  void ExpectRefused(const v1::SignedAuthorization& signed_authorization,
                     const std::string& message_part) {
    auto verified = VerifyAuthorization(signed_authorization, Expected());
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.status().code(), Errc::kUnauthenticated);
    EXPECT_NE(verified.status().message().find(message_part), std::string::npos)
        << verified.status().message();
  }

  outpost::testing::FakeClock clock_;
  crypto::PrivateKey key_;
  v1::Authorization authorization_;
};

TEST_F(VerifyAuthorizationTest, CorrectlySignedAuthorizationIsAccepted) {
  auto verified = VerifyAuthorization(SignOrDie(key_, authorization_), Expected());
  ASSERT_OK(verified);
  EXPECT_EQ(verified->SerializeAsString(), authorization_.SerializeAsString());
}

TEST_F(VerifyAuthorizationTest, OnlyTheSignedPayloadIsBelieved) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  // The readable copy is not covered by the signature: a change there must not show up.
  signed_authorization.mutable_authorization()->mutable_tags(0)->set_granted(1000);
  auto verified = VerifyAuthorization(signed_authorization, Expected());
  ASSERT_OK(verified);
  EXPECT_EQ(verified->tags(0).granted(), 2);
}

TEST_F(VerifyAuthorizationTest, FlippedPayloadByteIsRefused) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  std::string payload = signed_authorization.payload();
  payload[payload.size() / 2] ^= 0x01;
  signed_authorization.set_payload(payload);
  ExpectRefused(signed_authorization, "signature does not verify");
}

TEST_F(VerifyAuthorizationTest, FlippedSignatureByteIsRefused) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  std::string signature = signed_authorization.signature();
  signature[0] ^= 0x01;
  signed_authorization.set_signature(signature);
  ExpectRefused(signed_authorization, "signature does not verify");
}

TEST_F(VerifyAuthorizationTest, SignatureByAnotherKeyIsRefused) {
  auto other = OrDie(crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
  auto signed_authorization = SignOrDie(other, authorization_);
  // Even when it claims the pinned key's id.
  signed_authorization.set_key_id(key_.public_key().KeyId());
  ExpectRefused(signed_authorization, "signature does not verify");
}

TEST_F(VerifyAuthorizationTest, SignatureInAnotherDomainIsRefused) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  signed_authorization.set_signature(
      OrDie(key_.Sign("outpost/sync-response/v1", signed_authorization.payload())));
  ExpectRefused(signed_authorization, "signature does not verify");
}

TEST_F(VerifyAuthorizationTest, WrongKeyIdIsRefused) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  signed_authorization.set_key_id("00112233445566778899aabbccddeeff");
  ExpectRefused(signed_authorization, "not by the satellite key");
}

TEST_F(VerifyAuthorizationTest, OtherInstanceIsRefused) {
  authorization_.set_instance_id("inst-2");
  ExpectRefused(SignOrDie(key_, authorization_), "for instance 'inst-2'");
}

TEST_F(VerifyAuthorizationTest, OtherSatelliteIsRefused) {
  authorization_.set_satellite_id("sat-2");
  ExpectRefused(SignOrDie(key_, authorization_), "for satellite 'sat-2'");
}

TEST_F(VerifyAuthorizationTest, WrongAlgorithmIsRefused) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  signed_authorization.set_algorithm("ecdsa-p256-sha256");
  ExpectRefused(signed_authorization, "algorithm 'ecdsa-p256-sha256'");
  signed_authorization.set_algorithm("");
  ExpectRefused(signed_authorization, "algorithm ''");
}

TEST_F(VerifyAuthorizationTest, SignedGarbageIsRefused) {
  v1::SignedAuthorization signed_authorization;
  signed_authorization.set_payload("\xff\xff\xff not a protobuf");
  signed_authorization.set_key_id(key_.public_key().KeyId());
  signed_authorization.set_algorithm("ed25519");
  signed_authorization.set_signature(
      OrDie(key_.Sign(kAuthorizationDomain, signed_authorization.payload())));
  ExpectRefused(signed_authorization, "not an Authorization");
}

TEST_F(VerifyAuthorizationTest, EmptyAnswerIsRefused) {
  ExpectRefused(v1::SignedAuthorization(), "algorithm ''");
}

v1::TagUse Use(const std::string& tag, int64_t count) {
  v1::TagUse use;
  use.set_tag(tag);
  use.set_count(count);
  return use;
}

TEST(CheckAnswersRequestTest, AnswerInRequestOrderIsAccepted) {
  v1::Authorization a;
  a.add_tags()->set_tag("a");
  a.add_tags()->set_tag("b");
  EXPECT_OK(CheckAnswersRequest(a, {Use("a", 1), Use("b", 3)}));
  EXPECT_OK(CheckAnswersRequest(v1::Authorization(), {}));
}

TEST(CheckAnswersRequestTest, AnswerToAnotherRequestIsRefused) {
  v1::Authorization a;
  a.add_tags()->set_tag("a");
  EXPECT_EQ(CheckAnswersRequest(a, {Use("a", 1), Use("b", 1)}).code(), Errc::kUnauthenticated);
  EXPECT_EQ(CheckAnswersRequest(a, {Use("b", 1)}).code(), Errc::kUnauthenticated);
  EXPECT_EQ(CheckAnswersRequest(a, {}).code(), Errc::kUnauthenticated);
}

}  // namespace
}  // namespace outpost::client
