#include "sync/bundle/codec.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/crypto/encoding.h"
#include "tests/testing/test_util.h"
#include "tests/unit/sync/bundle/bundle_test_util.h"

namespace outpost::sync {
namespace {

using namespace outpost::sync::testing;  // NOLINT: test helpers

// The serialized SignedBundle of SignBundle(ResponsePayload(), CentralKey()), recorded when
// format version 1 was defined, and checked then with an independent implementation (Python's
// `cryptography`: Ed25519 over b"outpost/sync-response/v1\x00" + payload, key id = first 16
// bytes of SHA-256 of the DER public key). If this test fails, the bundle format changed:
// bundles already in the field would no longer be read the same way. Do not update it without
// a new format version.
constexpr std::string_view kGoldenResponseBase64 =
    "CrwCCAEQAyq1AgokNmYxYzFmM2UtNWE3Yi00YzJkLTllOGYtMGExYjJjM2Q0ZTVmEiQwZDllOGY3YS02"
    "YjVjLTRkM2UtOGYyYS0xYjBjOWQ4ZTdmNmEYByAMKIDK4tAGMIDkgNIGOj0KBWVudC0xEgdkZWZhdWx0"
    "GiFyZWdpZC4yMDI2LTAxLmNvbS5leGFtcGxlLmZ3LmJhc2UgZCiAp93QBjgBOkMKBWVudC0yEgNsYWIa"
    "I3JlZ2lkLjIwMjYtMDEuY29tLmV4YW1wbGUuZncuY3J5cHRvIAUogKfd0AYwgLHn3wY4AkgBQgdkZWZh"
    "dWx0QgNsYWJKJDNiMGY2YTU4LTRmN2UtNGQ4Yi05YTM0LTZmMWUyZDNjNGI1YVIRCIDO2gMQgJqeARiE"
    "ByCAowVyDEV4YW1wbGUgQ29ycBIgYTA1MDgzN2Q4NTA3MDU4MmNjZjczOTRiMDk4ODg0N2MaB2VkMjU1"
    "MTkiQObJ8pAV3le6YigHHpohl7bev68auaSjcERd4ihJXnlE1T8PNQPEShEeYt5j0SlA3YvbpZqDAUpy"
    "As8b7MTLMwk=";

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string::npos;
}

SignedBundle GoldenBundle() {
  auto bytes = crypto::Base64Decode(kGoldenResponseBase64);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto bundle = ParseBundleBytes(bytes.ok() ? *bytes : "");
  EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
  return bundle.ok() ? *bundle : SignedBundle();
}

TEST(BundleGoldenTest, StoredBundleOpensWithTheFixedKeyAndHoldsTheFixedPayload) {
  const crypto::PrivateKey central = CentralKey();
  Result<BundlePayload> opened =
      OpenBundle(GoldenBundle(), v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_OK(opened);
  BundlePayload expected = ResponsePayload();
  expected.set_format_version(kBundleFormatVersion);
  EXPECT_EQ(opened->SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(opened->sync_response().entitlements_size(), 2);
}

TEST(BundleGoldenTest, SigningTheFixedPayloadReproducesTheStoredBytesExactly) {
  // Ed25519 is deterministic and serialization is deterministic: same payload, same key, same
  // bytes, including the signature.
  Result<SignedBundle> signed_bundle = SignBundle(ResponsePayload(), CentralKey());
  ASSERT_OK(signed_bundle);
  const SignedBundle golden = GoldenBundle();
  EXPECT_EQ(signed_bundle->signature(), golden.signature());
  EXPECT_EQ(crypto::Base64Encode(SerializeBundle(*signed_bundle)), kGoldenResponseBase64);
  EXPECT_EQ(golden.key_id(), CentralKey().public_key().KeyId());
  EXPECT_EQ(golden.algorithm(), "ed25519");
}

// Whether `bytes` survives both the parser and the signature check.
bool Opens(const std::string& bytes, const crypto::PublicKey& key) {
  Result<SignedBundle> bundle = ParseBundleBytes(bytes);
  return bundle.ok() && OpenBundle(*bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, key).ok();
}

TEST(BundleGoldenTest, FlippingAnySingleByteIsRefused) {
  // protobuf logs each string field with invalid UTF-8 it meets; thousands of lines of noise.
  google::protobuf::LogSilencer silence;
  const crypto::PrivateKey central = CentralKey();
  const std::string bytes = *crypto::Base64Decode(kGoldenResponseBase64);
  ASSERT_TRUE(Opens(bytes, central.public_key()));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      EXPECT_FALSE(Opens(flipped, central.public_key()))
          << "byte " << i << " of " << bytes.size() << " xor " << int{mask};
    }
  }
}

TEST(BundleGoldenTest, EveryTruncationIsRefusedAsTruncatedOrGarbled) {
  const std::string bytes = *crypto::Base64Decode(kGoldenResponseBase64);
  for (size_t length = 1; length < bytes.size(); ++length) {
    Result<SignedBundle> bundle = ParseBundleBytes(bytes.substr(0, length), "request.bundle");
    ASSERT_FALSE(bundle.ok()) << "prefix of " << length << " bytes parsed";
    EXPECT_EQ(bundle.status().code(), Errc::kInvalidArgument);
    EXPECT_TRUE(Contains(bundle.status(),
                         "request.bundle is not an Outpost bundle (truncated or "
                         "garbled"))
        << bundle.status().ToString();
  }
}

TEST(ParseBundleBytesTest, EmptyInputIsNotABundle) {
  Result<SignedBundle> bundle = ParseBundleBytes("", "response.bundle");
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bundle.status().message(), "response.bundle is empty, not an Outpost bundle");
}

TEST(ParseBundleBytesTest, RandomGarbageIsNotABundle) {
  google::protobuf::LogSilencer silence;
  std::mt19937 random(20260528);  // fixed: the same garbage every run
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string garbage(1 + round % 300, '\0');
    for (char& c : garbage) c = static_cast<char>(byte(random));
    Result<SignedBundle> bundle = ParseBundleBytes(garbage, "garbage");
    ASSERT_FALSE(bundle.ok()) << "round " << round;
    EXPECT_EQ(bundle.status().code(), Errc::kInvalidArgument);
    EXPECT_TRUE(Contains(bundle.status(), "garbage is not an Outpost bundle")) << round;
  }
}

TEST(ParseBundleBytesTest, InputAboveTheLimitIsRefusedBeforeParsingNamingSizeAndLimit) {
  const std::string bytes = SerializeBundle(*SignBundle(ResponsePayload(), CentralKey()));
  ASSERT_OK(ParseBundleBytes(bytes, "input", bytes.size()));
  Result<SignedBundle> bundle = ParseBundleBytes(bytes, "response.bundle", bytes.size() - 1);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kPayloadTooLarge);
  EXPECT_EQ(bundle.status().message(), "response.bundle is " + std::to_string(bytes.size()) +
                                           " bytes, more than the bundle limit of " +
                                           std::to_string(bytes.size() - 1) +
                                           " bytes; is it the right file?");
  // Garbage that large is refused for its size, not parsed.
  Result<SignedBundle> big = ParseBundleBytes(std::string(1001, '\x0a'), "big", 1000);
  EXPECT_EQ(big.status().code(), Errc::kPayloadTooLarge);
}

TEST(ParseBundleBytesTest, EnvelopeWithUnknownOrMissingFieldsIsGarbled) {
  SignedBundle bundle = *SignBundle(ResponsePayload(), CentralKey());
  std::string with_extra = SerializeBundle(bundle);
  with_extra += std::string("\x28\x01", 2);  // field 5, varint 1
  Result<SignedBundle> extra = ParseBundleBytes(with_extra);
  ASSERT_FALSE(extra.ok());
  EXPECT_TRUE(Contains(extra.status(), "unexpected fields in the envelope"));

  SignedBundle unsigned_bundle = bundle;
  unsigned_bundle.clear_signature();
  Result<SignedBundle> missing = ParseBundleBytes(SerializeBundle(unsigned_bundle));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status(), "no signature"));
}

TEST(SignBundleTest, WritesTheCurrentFormatVersionKeyIdAndAlgorithm) {
  const crypto::PrivateKey central = CentralKey();
  Result<SignedBundle> bundle = SignBundle(ResponsePayload(), central);
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->key_id(), central.public_key().KeyId());
  EXPECT_EQ(bundle->algorithm(), "ed25519");
  EXPECT_EQ(ParseUnverifiedPayload(*bundle)->format_version(), kBundleFormatVersion);
  EXPECT_OK(
      central.public_key().Verify(kSyncResponseDomain, bundle->payload(), bundle->signature()));
}

TEST(SignBundleTest, RefusesPayloadsWhoseKindDoesNotMatchTheBody) {
  const crypto::PrivateKey central = CentralKey();
  BundlePayload no_kind = ResponsePayload();
  no_kind.clear_kind();
  EXPECT_EQ(SignBundle(no_kind, central).status().code(), Errc::kInvalidArgument);

  BundlePayload mislabelled = ResponsePayload();
  mislabelled.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
  Result<SignedBundle> bundle = SignBundle(mislabelled, central);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().message(),
            "the bundle payload says it is a sync request but carries the body of a sync "
            "response");

  BundlePayload no_body;
  no_body.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  EXPECT_TRUE(Contains(SignBundle(no_body, central).status(), "carries no body"));
}

TEST(SignBundleTest, RefusesToWriteAFormatVersionItDoesNotKnow) {
  BundlePayload payload = ResponsePayload();
  payload.set_format_version(kBundleFormatVersion + 1);
  Result<SignedBundle> bundle = SignBundle(payload, CentralKey());
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), Errc::kInvalidArgument);
}

TEST(OpenBundleTest, RequestSignedAsRequestDoesNotOpenAsResponse) {
  // Even with the same key on both sides, the kinds cannot be confused.
  const crypto::PrivateKey key = CentralKey();
  SignedBundle request = *SignBundle(RequestPayload(), key);
  ASSERT_OK(OpenBundle(request, v1::BUNDLE_KIND_SYNC_REQUEST, key.public_key()));
  Result<BundlePayload> as_response =
      OpenBundle(request, v1::BUNDLE_KIND_SYNC_RESPONSE, key.public_key());
  ASSERT_FALSE(as_response.ok());
  EXPECT_EQ(as_response.status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(as_response.status().message(),
            "this bundle is a sync request, but a sync response is expected here; check that it "
            "is the right file");
}

TEST(OpenBundleTest, SignatureMadeForAnotherKindDoesNotVerifyWhateverThePayloadClaims) {
  // A payload that claims to be a response, signed under the request domain: what an attacker
  // could build from a satellite's own signature if domains were not separated.
  const crypto::PrivateKey key = CentralKey();
  BundlePayload payload = ResponsePayload();
  payload.set_format_version(kBundleFormatVersion);
  SignedBundle bundle;
  bundle.set_payload(payload.SerializeAsString());
  bundle.set_key_id(key.public_key().KeyId());
  bundle.set_algorithm("ed25519");
  bundle.set_signature(*key.Sign(kSyncRequestDomain, bundle.payload()));
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, key.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(Contains(opened.status(), "the signature of this sync response does not verify"))
      << opened.status().ToString();
}

TEST(OpenBundleTest, BundleSignedByAnotherKeyNamesBothKeyIds) {
  const crypto::PrivateKey other = OtherKey();
  const crypto::PrivateKey central = CentralKey();
  SignedBundle bundle = *SignBundle(ResponsePayload(), other);
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kPermissionDenied);
  EXPECT_TRUE(Contains(opened.status(), "this sync response was signed by key " +
                                            other.public_key().KeyId() +
                                            " but this satellite trusts central key " +
                                            central.public_key().KeyId()))
      << opened.status().ToString();
}

TEST(OpenBundleTest, RequestSignedByAnotherKeyNamesTheKeyCentralHasOnRecord) {
  const crypto::PrivateKey satellite = SatelliteKey();
  const crypto::PrivateKey other = OtherKey();
  SignedBundle bundle = *SignBundle(RequestPayload(), other);
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_REQUEST, satellite.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kPermissionDenied);
  EXPECT_TRUE(Contains(opened.status(), "central has satellite key " +
                                            satellite.public_key().KeyId() +
                                            " on record for this satellite"));
}

TEST(OpenBundleTest, KeyIdOfTheTrustedKeyDoesNotHelpAForgedSignature) {
  // An attacker copies the trusted key id into a bundle signed with their own key.
  const crypto::PrivateKey central = CentralKey();
  SignedBundle bundle = *SignBundle(ResponsePayload(), OtherKey());
  bundle.set_key_id(central.public_key().KeyId());
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(Contains(opened.status(), "altered or damaged"));
}

TEST(OpenBundleTest, BundleOfAnotherAlgorithmNamesBothAlgorithms) {
  const crypto::PrivateKey ecdsa =
      crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256).value();
  SignedBundle bundle = *SignBundle(ResponsePayload(), ecdsa);
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, CentralKey().public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kPermissionDenied);
  EXPECT_TRUE(Contains(opened.status(),
                       "signed with ecdsa-p256-sha256 by key " + ecdsa.public_key().KeyId()));
  EXPECT_TRUE(Contains(opened.status(), "but this satellite trusts central key " +
                                            CentralKey().public_key().KeyId() + " (ed25519)"));
}

TEST(OpenBundleTest, UnknownAlgorithmIsRefused) {
  SignedBundle bundle = *SignBundle(ResponsePayload(), CentralKey());
  bundle.set_algorithm("rsa-4096\x01");
  Result<BundlePayload> opened =
      OpenBundle(bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, CentralKey().public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kInvalidArgument);
  EXPECT_TRUE(Contains(opened.status(), "unknown signature algorithm 'rsa-4096?'"))
      << opened.status().ToString();
}

// A bundle of `payload` as given (no version filled in), signed correctly by `key`.
SignedBundle SignVerbatim(const BundlePayload& payload, const crypto::PrivateKey& key) {
  SignedBundle bundle;
  bundle.set_payload(payload.SerializeAsString());
  bundle.set_key_id(key.public_key().KeyId());
  bundle.set_algorithm(std::string(crypto::AlgorithmName(key.algorithm())));
  bundle.set_signature(*key.Sign(DomainFor(payload.kind()), bundle.payload()));
  return bundle;
}

TEST(OpenBundleTest, NewerFormatVersionAsksToUpgrade) {
  const crypto::PrivateKey central = CentralKey();
  BundlePayload payload = ResponsePayload();
  payload.set_format_version(kBundleFormatVersion + 1);
  Result<BundlePayload> opened = OpenBundle(SignVerbatim(payload, central),
                                            v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kFailedPrecondition);
  EXPECT_EQ(opened.status().message(),
            "this sync response has format version 2: it was made by a newer outpost (this one "
            "reads up to version 1); upgrade outpost");
}

TEST(OpenBundleTest, MissingFormatVersionIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  Result<BundlePayload> opened = OpenBundle(SignVerbatim(ResponsePayload(), central),
                                            v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(Contains(opened.status(), "has no format version"));
}

TEST(OpenBundleTest, SignedPayloadWithoutItsBodyIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  BundlePayload payload;
  payload.set_format_version(kBundleFormatVersion);
  payload.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  Result<BundlePayload> opened = OpenBundle(SignVerbatim(payload, central),
                                            v1::BUNDLE_KIND_SYNC_RESPONSE, central.public_key());
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(Contains(opened.status(), "carries no body"));
}

TEST(OpenBundleTest, EcdsaP256BundlesSignAndOpen) {
  const crypto::PrivateKey key =
      crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256).value();
  SignedBundle bundle = *SignBundle(RequestPayload(), key);
  EXPECT_EQ(bundle.algorithm(), "ecdsa-p256-sha256");
  Result<SignedBundle> parsed = ParseBundleBytes(SerializeBundle(bundle));
  ASSERT_OK(parsed);
  Result<BundlePayload> opened =
      OpenBundle(*parsed, v1::BUNDLE_KIND_SYNC_REQUEST, key.public_key());
  ASSERT_OK(opened);
  EXPECT_EQ(opened->sync_request().sequence(), 12);
  // And a changed payload does not verify.
  SignedBundle tampered = bundle;
  tampered.mutable_payload()->back() ^= 0x01;
  EXPECT_FALSE(OpenBundle(tampered, v1::BUNDLE_KIND_SYNC_REQUEST, key.public_key()).ok());
}

TEST(OpenEnrollmentBundleTest, OpensWithTheCentralKeyItCarries) {
  const crypto::PrivateKey central = CentralKey();
  SignedBundle bundle = *SignBundle(EnrollmentPayload(central.public_key()), central);
  Result<OpenedEnrollment> opened = OpenEnrollmentBundle(bundle);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->central_key, central.public_key());
  EXPECT_EQ(opened->payload.enrollment().satellite_id(), kSatelliteId);
  EXPECT_EQ(opened->payload.enrollment().enrollment_secret().size(), 32u);
}

TEST(OpenEnrollmentBundleTest, KeyIdThatDoesNotMatchTheCarriedKeyIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  BundlePayload payload = EnrollmentPayload(central.public_key());
  payload.mutable_enrollment()->set_central_key_id(OtherKey().public_key().KeyId());
  Result<OpenedEnrollment> opened = OpenEnrollmentBundle(*SignBundle(payload, central));
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(
      Contains(opened.status(), "but the key it carries has id " + central.public_key().KeyId()));
}

TEST(OpenEnrollmentBundleTest, SignatureByAKeyOtherThanTheCarriedOneIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  const crypto::PrivateKey other = OtherKey();
  SignedBundle bundle = *SignBundle(EnrollmentPayload(central.public_key()), other);
  Result<OpenedEnrollment> opened = OpenEnrollmentBundle(bundle);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kPermissionDenied);
}

TEST(OpenEnrollmentBundleTest, SecretOfTheWrongSizeIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  BundlePayload payload = EnrollmentPayload(central.public_key());
  payload.mutable_enrollment()->set_enrollment_secret("short");
  Result<OpenedEnrollment> opened = OpenEnrollmentBundle(*SignBundle(payload, central));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().message(), "the enrollment secret in this bundle is 5 bytes, not 32");
}

TEST(OpenEnrollmentBundleTest, SyncResponseIsNotAnEnrollmentBundle) {
  Result<OpenedEnrollment> opened =
      OpenEnrollmentBundle(*SignBundle(ResponsePayload(), CentralKey()));
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(Contains(opened.status(),
                       "this bundle is a sync response, but an enrollment bundle is expected"));
}

}  // namespace
}  // namespace outpost::sync
