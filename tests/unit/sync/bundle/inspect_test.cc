#include "sync/bundle/inspect.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto/encoding.h"
#include "common/proto_json.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/trust.h"
#include "tests/testing/test_util.h"
#include "tests/unit/sync/bundle/bundle_test_util.h"

namespace outpost::sync {
namespace {

using namespace outpost::sync::testing;  // NOLINT: test helpers

bool Has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(DescribeBundleTest, ResponseWithTheRightKeyIsDescribedAsVerified) {
  const crypto::PrivateKey central = CentralKey();
  v1::SyncResponse response = SampleResponse();
  *response.mutable_key_rotation() =
      *MakeKeyRotation(central.public_key(), OtherKey(), FromUnixSeconds(kValidUntil));
  const SignedBundle bundle = *SignBundle(ResponsePayload(response), central);
  const crypto::PublicKey key = central.public_key();
  const std::string text = DescribeBundle(bundle, &key);
  EXPECT_TRUE(text.starts_with("Outpost bundle: sync response\n")) << text;
  EXPECT_TRUE(Has(text, "  format version:       1\n")) << text;
  EXPECT_TRUE(Has(text, "  signed by key:        " + key.KeyId() + " (ed25519)\n")) << text;
  EXPECT_TRUE(Has(text, "  signature:            verified with key " + key.KeyId() + "\n"));
  EXPECT_TRUE(Has(text, std::string("  satellite:            ") + kSatelliteId + "\n"));
  EXPECT_TRUE(Has(text, "  response number:      7\n"));
  EXPECT_TRUE(Has(text, "  answers request:      12\n"));
  EXPECT_TRUE(Has(text, "  issued at:            2026-05-28T20:26:40Z\n"));
  EXPECT_TRUE(Has(text, "  valid until:          2026-06-27T20:26:40Z\n"));
  EXPECT_TRUE(Has(text, "  entitlements:         2\n"));
  EXPECT_TRUE(Has(text, "  acknowledged reports: 1\n"));
  EXPECT_TRUE(Has(text, "  key rotation:         to central key " +
                            OtherKey().public_key().KeyId() + ", effective 2026-06-27T20:26:40Z"))
      << text;
}

TEST(DescribeBundleTest, WrongKeyOrTamperingIsDescribedAsNotVerified) {
  const SignedBundle bundle = *SignBundle(ResponsePayload(), CentralKey());
  const crypto::PublicKey other = OtherKey().public_key();
  const std::string wrong_key = DescribeBundle(bundle, &other);
  // Said in terms of the key given, never of what a satellite pins or enrolls with.
  EXPECT_TRUE(Has(wrong_key,
                  "  signature:            NOT VERIFIED: the signature does not verify with this "
                  "key (key id " +
                      other.KeyId() + "): the bundle was signed by key " + bundle.key_id()))
      << wrong_key;
  EXPECT_FALSE(Has(wrong_key, "trusts")) << wrong_key;
  EXPECT_FALSE(Has(wrong_key, "enrol")) << wrong_key;
  // The contents are still shown: that is when the operator needs to see them.
  EXPECT_TRUE(Has(wrong_key, "  response number:      7\n"));

  SignedBundle tampered = bundle;
  tampered.mutable_payload()->back() ^= 0x01;
  const crypto::PublicKey central = CentralKey().public_key();
  EXPECT_TRUE(Has(DescribeBundle(tampered, &central),
                  "NOT VERIFIED: the signature does not verify with this key (key id " +
                      central.KeyId() + "): the bundle was altered or damaged"));
}

TEST(DescribeBundleTest, WithoutAKeyTheSignatureIsNotChecked) {
  const std::string text = DescribeBundle(*SignBundle(RequestPayload(), SatelliteKey()), nullptr);
  EXPECT_TRUE(text.starts_with("Outpost bundle: sync request\n")) << text;
  EXPECT_TRUE(Has(text, "  signature:            not checked (no key to check it with)\n"));
  EXPECT_TRUE(Has(text, "  sequence:             12\n"));
  EXPECT_TRUE(Has(text, "  satellite key:        " + SatelliteKey().public_key().KeyId()));
  EXPECT_TRUE(Has(text, "  usage reports:        1\n"));
  EXPECT_TRUE(Has(text, "  devices:              42 devices in 0 virtual accounts\n")) << text;
  EXPECT_TRUE(Has(text, "  audit head:           record 1234, hash aaaaaaaaaaaaaaaa..."));
}

TEST(DescribeBundleTest, EnrollmentIsCheckedAgainstItsKeyAndNeverShowsTheSecret) {
  const crypto::PrivateKey central = CentralKey();
  const SignedBundle bundle = *SignBundle(EnrollmentPayload(central.public_key()), central);
  const std::string text = DescribeBundle(bundle, nullptr);
  EXPECT_TRUE(text.starts_with("Outpost bundle: enrollment\n")) << text;
  EXPECT_TRUE(Has(text, "verified with the central key it carries, fingerprint " +
                            central.public_key().Fingerprint()))
      << text;
  EXPECT_TRUE(Has(text, "  central fingerprint:  " + central.public_key().Fingerprint()));
  EXPECT_TRUE(Has(text, "  enrollment secret:    present (32 bytes, not shown)\n"));
  const std::string secret = Seed(0xa0);
  for (const std::string& form :
       {crypto::Base64Encode(secret), crypto::HexEncode(secret), secret}) {
    EXPECT_FALSE(Has(text, form));
  }
  Result<std::string> json = BundleToJson(bundle, nullptr);
  ASSERT_OK(json);
  EXPECT_FALSE(Has(*json, crypto::Base64Encode(secret))) << *json;
}

TEST(DescribeBundleTest, UnreadablePayloadIsStillDescribed) {
  SignedBundle bundle = *SignBundle(ResponsePayload(), CentralKey());
  bundle.set_payload("\xff\xff\xff");
  const std::string text = DescribeBundle(bundle, nullptr);
  EXPECT_TRUE(text.starts_with("Outpost bundle: unknown\n")) << text;
  EXPECT_TRUE(Has(text, "  contents:             cannot be read (truncated or garbled)\n"));
  EXPECT_EQ(BundleToJson(bundle, nullptr).status().code(), Errc::kInvalidArgument);
}

TEST(BundleToJsonTest, JsonParsesBackIntoTheInspection) {
  const crypto::PrivateKey central = CentralKey();
  const SignedBundle bundle = *SignBundle(ResponsePayload(), central);
  const crypto::PublicKey key = central.public_key();
  Result<std::string> json = BundleToJson(bundle, &key);
  ASSERT_OK(json);
  EXPECT_TRUE(Has(*json, "\"signature_status\": \"verified\"")) << *json;
  EXPECT_TRUE(Has(*json, "\"valid_until\": \"" + std::to_string(kValidUntil) + "\""));
  v1::BundleInspection back;
  ASSERT_OK(FromJson(*json, &back));
  EXPECT_EQ(back.kind(), "sync response");
  EXPECT_EQ(back.key_id(), key.KeyId());
  EXPECT_EQ(back.algorithm(), "ed25519");
  EXPECT_EQ(back.signature(), bundle.signature());
  EXPECT_EQ(back.payload_bytes(), static_cast<int64_t>(bundle.payload().size()));
  EXPECT_EQ(back.payload().sync_response().entitlements(1).enforcement(), v1::ENFORCEMENT_ENFORCED);
  EXPECT_EQ(back.payload().SerializeAsString(),
            ParseUnverifiedPayload(bundle)->SerializeAsString());
}

TEST(BundleToJsonTest, UnverifiedBundleSaysWhy) {
  const SignedBundle bundle = *SignBundle(ResponsePayload(), OtherKey());
  const crypto::PublicKey key = CentralKey().public_key();
  v1::BundleInspection back;
  ASSERT_OK(FromJson(*BundleToJson(bundle, &key, false), &back));
  EXPECT_EQ(back.signature_status(), "not_verified");
  EXPECT_TRUE(Has(back.signature_detail(), "does not verify with this key (key id " + key.KeyId()))
      << back.signature_detail();
  EXPECT_TRUE(Has(back.signature_detail(), "outpost central key")) << back.signature_detail();
}

}  // namespace
}  // namespace outpost::sync
