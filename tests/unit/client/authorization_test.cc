// Offline verification of signed authorizations: the only answer accepted is one signed by the
// pinned key, in the authorization domain, for this satellite and this device.

#include "client/authorization.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "common/crypto/merkle.h"
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

// Batch-signed answers ("ed25519-merkle"), as the satellite sends them: the answer for inst-1
// is leaf `index` of a batch of `size`, the others are answers for other devices.
class VerifyBatchAuthorizationTest : public VerifyAuthorizationTest {
 protected:
  v1::SignedAuthorization Batch(uint64_t index, uint64_t size) {
    return Batch(index, size, authorization_);
  }
  // The same, with `leaf` as the answer at `index`.
  v1::SignedAuthorization Batch(uint64_t index, uint64_t size, const v1::Authorization& leaf) {
    std::vector<std::string> payloads;
    std::vector<std::string> leaves;
    for (uint64_t i = 0; i < size; ++i) {
      v1::Authorization a =
          i == index ? leaf
                     : MakeAuthorization("sat-1", "other-" + std::to_string(i), clock_.Now());
      payloads.push_back(a.SerializeAsString());
      leaves.push_back(crypto::MerkleLeafHash(payloads.back()));
    }
    const crypto::MerkleTree tree = crypto::BuildMerkleTree(leaves);
    v1::SignedAuthorization out;
    out.set_payload(payloads[index]);
    out.set_key_id(key_.public_key().KeyId());
    out.set_algorithm("ed25519-merkle");
    out.set_signature(
        OrDie(key_.Sign(kAuthorizationBatchDomain, crypto::MerkleTreeHead(size, tree.root))));
    out.set_batch_index(index);
    out.set_batch_size(size);
    for (const std::string& h : tree.paths[index]) out.add_batch_path(h);
    return out;
  }
};

TEST_F(VerifyBatchAuthorizationTest, EveryPlaceInABatchIsAccepted) {
  for (uint64_t size : {1u, 2u, 5u, 64u}) {
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1}) {
      auto verified = VerifyAuthorization(Batch(index, size), Expected());
      ASSERT_TRUE(verified.ok()) << index << " of " << size << ": " << verified.status().message();
      EXPECT_EQ(verified->SerializeAsString(), authorization_.SerializeAsString());
    }
  }
}

TEST_F(VerifyBatchAuthorizationTest, AlteredPayloadPathIndexOrSizeIsRefused) {
  v1::SignedAuthorization answer = Batch(3, 6);
  ASSERT_OK(VerifyAuthorization(answer, Expected()));

  v1::SignedAuthorization changed = answer;
  authorization_.mutable_tags(0)->set_granted(1000);
  changed.set_payload(authorization_.SerializeAsString());
  ExpectRefused(changed, "signature does not verify");

  changed = answer;
  std::string sibling = changed.batch_path(0);
  sibling[0] ^= 0x01;
  changed.set_batch_path(0, sibling);
  ExpectRefused(changed, "signature does not verify");

  changed = answer;
  changed.set_batch_index(2);
  ExpectRefused(changed, "signature does not verify");

  changed = answer;  // a size whose tree has the same shape for this leaf: the signature binds it
  changed.set_batch_size(7);
  ExpectRefused(changed, "signature does not verify");

  changed = answer;
  changed.mutable_batch_path()->RemoveLast();
  ExpectRefused(changed, "batch proof is malformed");

  changed = answer;
  changed.set_batch_index(6);
  ExpectRefused(changed, "leaf 6 of a batch of 6");

  changed = answer;
  changed.set_batch_size(0);
  ExpectRefused(changed, "claims a batch of 0 answers");

  changed = answer;
  changed.set_batch_size(uint64_t{1} << 40);
  ExpectRefused(changed, "which no satellite sends");

  changed = answer;
  while (changed.batch_path_size() <= 64) changed.add_batch_path(std::string(32, 'h'));
  ExpectRefused(changed, "and 65 hashes, which no satellite sends");

  // A single-answer signature presented as a batch, and the other way round.
  changed = answer;
  changed.set_algorithm("ed25519");
  ExpectRefused(changed, "signature does not verify");
  v1::SignedAuthorization single = SignOrDie(key_, authorization_);
  single.set_algorithm("ed25519-merkle");
  single.set_batch_size(1);
  ExpectRefused(single, "signature does not verify");
}

TEST_F(VerifyBatchAuthorizationTest, AnotherDevicesAnswerInTheSameBatchIsRefused) {
  // Validly signed and proven, but the leaf is another device's answer.
  const v1::Authorization other = MakeAuthorization("sat-1", "inst-2", clock_.Now());
  ExpectRefused(Batch(1, 4, other), "for instance 'inst-2'");
}

v1::TagUse Use(const std::string& tag, int64_t count) {
  v1::TagUse use;
  use.set_tag(tag);
  use.set_count(count);
  return use;
}

v1::TagAuthorization* AddTag(v1::Authorization* a, const std::string& tag, int64_t requested,
                             int64_t granted) {
  v1::TagAuthorization* t = a->add_tags();
  t->set_tag(tag);
  t->set_requested(requested);
  t->set_granted(granted);
  return t;
}

TEST(CheckAnswersRequestTest, AnswerInRequestOrderIsAccepted) {
  v1::Authorization a;
  AddTag(&a, "a", 1, 1);
  AddTag(&a, "b", 3, 0);
  EXPECT_OK(CheckAnswersRequest(a, {Use("a", 1), Use("b", 3)}));
  EXPECT_OK(CheckAnswersRequest(v1::Authorization(), {}));
}

TEST(CheckAnswersRequestTest, AnswerToAnotherRequestIsRefused) {
  v1::Authorization a;
  AddTag(&a, "a", 1, 1);
  EXPECT_EQ(CheckAnswersRequest(a, {Use("a", 1), Use("b", 1)}).code(), Errc::kUnauthenticated);
  EXPECT_EQ(CheckAnswersRequest(a, {Use("b", 1)}).code(), Errc::kUnauthenticated);
  EXPECT_EQ(CheckAnswersRequest(a, {}).code(), Errc::kUnauthenticated);
}

// An older answer for the same tags (2 granted when 1 is now asked) is another request's.
TEST(CheckAnswersRequestTest, AnswerForAnotherCountIsRefused) {
  v1::Authorization a;
  AddTag(&a, "a", 2, 2);
  const Status s = CheckAnswersRequest(a, {Use("a", 1)});
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("it is for 2 of tag 'a', but 1 were asked"), std::string::npos)
      << s.message();
}

TEST(CheckAnswersRequestTest, GrantingMoreThanAskedOrLessThanNothingIsRefused) {
  for (int64_t granted : {int64_t{2}, int64_t{1'000'000'000}, int64_t{-1}}) {
    v1::Authorization a;
    AddTag(&a, "a", 1, granted);
    const Status s = CheckAnswersRequest(a, {Use("a", 1)});
    EXPECT_EQ(s.code(), Errc::kUnauthenticated) << granted;
    EXPECT_NE(s.message().find("grants " + std::to_string(granted)), std::string::npos)
        << s.message();
  }
}

TEST(CheckAnswersRequestTest, HostileTagNamesAreQuotedAndBounded) {
  v1::Authorization a;
  for (int i = 0; i < 1000; ++i) AddTag(&a, std::string(10000, 'x') + "\x1b[2J", 1, 1);
  const Status s = CheckAnswersRequest(a, {Use("a", 1)});
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_LT(s.message().size(), 1500u);
  EXPECT_EQ(s.message().find('\x1b'), std::string::npos);
}

class CheckCurrentTest : public ::testing::Test {
 protected:
  v1::Authorization Answer(int64_t issued_at, int64_t valid_until) const {
    v1::Authorization a;
    a.set_issued_at(issued_at);
    a.set_valid_until(valid_until);
    return a;
  }
  Status Check(const v1::Authorization& a,
               const std::optional<v1::Authorization>& previous = std::nullopt) const {
    return CheckCurrent(a, previous, FromUnixSeconds(now_), kSkew);
  }
  void ExpectRefused(const Status& s, const std::string& part) const {
    EXPECT_EQ(s.code(), Errc::kUnauthenticated);
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }

  static constexpr std::chrono::seconds kSkew{300};
  const int64_t now_ = 1'800'000'000;  // 2027
};

TEST_F(CheckCurrentTest, AnAnswerWhoseValidityHoldsNowIsAccepted) {
  EXPECT_OK(Check(Answer(now_, now_ + 3600)));
  // Within the skew on either side: the satellite's clock a little ahead, or this one.
  EXPECT_OK(Check(Answer(now_ + 300, now_ + 3600)));
  EXPECT_OK(Check(Answer(now_ - 3600, now_ - 300)));
}

TEST_F(CheckCurrentTest, AnswerValidUntil2017IsRefused) {
  ExpectRefused(Check(Answer(1'480'000'000, 1'490'000'000)), "already past");
  ExpectRefused(Check(Answer(now_ - 3600, now_ - 301)), "already past");
}

TEST_F(CheckCurrentTest, AnswerIssuedIn2096IsRefused) {
  ExpectRefused(Check(Answer(4'000'000'000, 4'000'086'400)), "in the future");
  ExpectRefused(Check(Answer(now_ + 301, now_ + 3600)), "clock is wrong");
  ExpectRefused(Check(Answer(INT64_MAX, INT64_MAX)), "in the future");
}

TEST_F(CheckCurrentTest, ValidityEndingBeforeItStartsIsRefused) {
  ExpectRefused(Check(Answer(now_, now_ - 1)), "before it was issued");
  ExpectRefused(Check(Answer(INT64_MIN, INT64_MIN)), "already past");
}

TEST_F(CheckCurrentTest, AnswerOlderThanTheStoredOneIsRefused) {
  ExpectRefused(Check(Answer(now_ - 60, now_ + 3600), Answer(now_ - 30, now_ + 3600)),
                "before the one this device already holds");
  // The same second is not older: two answers within one second are normal.
  EXPECT_OK(Check(Answer(now_, now_ + 3600), Answer(now_, now_ + 7200)));
  EXPECT_OK(Check(Answer(now_, now_ + 3600), Answer(now_ - 60, now_ + 3600)));
}

TEST_F(CheckCurrentTest, StoredAnswerFromTheFutureSetsNoFloor) {
  // Stored before these checks existed, or while the device's clock was wrong: it must not lock
  // the device out of every later answer.
  EXPECT_OK(Check(Answer(now_, now_ + 3600), Answer(4'000'000'000, 4'000'086'400)));
}

TEST_F(VerifyAuthorizationTest, OversizedPayloadIsRefusedBeforeItIsParsed) {
  authorization_.mutable_tags(0)->set_reason(std::string(kMaxAuthorizationPayloadBytes, 'r'));
  ExpectRefused(SignOrDie(key_, authorization_), "no answer is larger than");
}

TEST_F(VerifyAuthorizationTest, CanonicalFormKeepsOnlyTheSignedParts) {
  auto signed_authorization = SignOrDie(key_, authorization_);
  signed_authorization.mutable_authorization()->mutable_tags(0)->set_reason(std::string(4096, 'r'));
  signed_authorization.add_batch_path(std::string(32, 'p'));  // not used by "ed25519"
  signed_authorization.GetReflection()
      ->MutableUnknownFields(&signed_authorization)
      ->AddLengthDelimited(99, std::string(4096, 'u'));
  const v1::SignedAuthorization canonical = CanonicalSignedForm(signed_authorization);
  EXPECT_FALSE(canonical.has_authorization());
  EXPECT_EQ(canonical.batch_path_size(), 0);
  EXPECT_LT(canonical.ByteSizeLong(), 1024u);
  ASSERT_OK(VerifyAuthorization(canonical, Expected()));
  EXPECT_EQ(canonical.payload(), signed_authorization.payload());
}

TEST_F(VerifyBatchAuthorizationTest, CanonicalFormKeepsTheBatchProof) {
  for (uint64_t size : {uint64_t{1}, uint64_t{5}}) {
    for (uint64_t index = 0; index < size; ++index) {
      v1::SignedAuthorization answer = Batch(index, size);
      *answer.mutable_authorization() = authorization_;
      const v1::SignedAuthorization canonical = CanonicalSignedForm(answer);
      EXPECT_FALSE(canonical.has_authorization());
      EXPECT_OK(VerifyAuthorization(canonical, Expected()));
    }
  }
}

}  // namespace
}  // namespace outpost::client
