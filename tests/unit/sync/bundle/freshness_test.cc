#include "sync/bundle/freshness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "sync/bundle/trust.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/sync/bundle/bundle_test_util.h"

namespace outpost::sync {
namespace {

using namespace outpost::sync::testing;  // NOLINT: test helpers
using std::chrono::minutes;
using std::chrono::seconds;

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string::npos;
}

// A satellite that has imported response 6 and exported requests up to 12.
SatelliteSyncState State() {
  SatelliteSyncState state;
  state.satellite_id = kSatelliteId;
  state.account_id = kAccountId;
  state.last_response_number = 6;
  state.last_request_sequence = 12;
  state.central_key = CentralKey().public_key();
  return state;
}

class CheckResponseTest : public ::testing::Test {
 protected:
  // One hour after SampleResponse() was issued.
  outpost::testing::FakeClock clock_{FromUnixSeconds(kIssuedAt + 3600)};
};

TEST_F(CheckResponseTest, NewerResponseForThisSatelliteIsAccepted) {
  EXPECT_OK(CheckResponse(SampleResponse(), State(), clock_.Now()));
}

TEST_F(CheckResponseTest, FirstResponseIsAccepted) {
  SatelliteSyncState state = State();
  state.last_response_number = 0;
  EXPECT_OK(CheckResponse(SampleResponse(), state, clock_.Now()));
}

TEST_F(CheckResponseTest, SameResponseAgainIsAlreadyImported) {
  SatelliteSyncState state = State();
  state.last_response_number = 7;
  Status status = CheckResponse(SampleResponse(), state, clock_.Now());
  EXPECT_EQ(status.code(), Errc::kAlreadyExists);
  EXPECT_EQ(status.message(), "sync response 7 was already imported; nothing to do");
}

TEST_F(CheckResponseTest, OlderResponseIsRefusedAsRollback) {
  SatelliteSyncState state = State();
  state.last_response_number = 9;
  Status status = CheckResponse(SampleResponse(), state, clock_.Now());
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "sync response 7 is older than the last imported response 9 (rollback refused); "
            "import the newest response from central");
}

// A satellite restored from a backup (docs/operations.md) imports only responses made for its
// restore, and a copy that was not restored none made for a restored one.
TEST_F(CheckResponseTest, ResponseForAnotherLineOfTheSatellitesHistoryIsRefused) {
  SatelliteSyncState restored = State();
  restored.restore_id = "restore-2";
  Status before_restore = CheckResponse(SampleResponse(), restored, clock_.Now());
  EXPECT_EQ(before_restore.code(), Errc::kFailedPrecondition);
  EXPECT_TRUE(Contains(before_restore,
                       "was made before this satellite was restored from a "
                       "backup (restore restore-2)"))
      << before_restore.ToString();

  v1::SyncResponse for_restore = SampleResponse();
  for_restore.set_restore_id("restore-2");
  EXPECT_OK(CheckResponse(for_restore, restored, clock_.Now()));
  Status not_restored = CheckResponse(for_restore, State(), clock_.Now());
  EXPECT_EQ(not_restored.code(), Errc::kFailedPrecondition);
  EXPECT_TRUE(
      Contains(not_restored, "was made for a copy of this satellite restored from a backup"))
      << not_restored.ToString();
  for_restore.set_restore_id("restore-1");
  EXPECT_EQ(CheckResponse(for_restore, restored, clock_.Now()).code(), Errc::kFailedPrecondition);
}

TEST_F(CheckResponseTest, ResponseForAnotherSatelliteIsRefusedNamingBoth) {
  SatelliteSyncState state = State();
  state.satellite_id = "11111111-2222-4333-8444-555555555555";
  Status status = CheckResponse(SampleResponse(), state, clock_.Now());
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_EQ(status.message(), std::string("this sync response is for satellite ") + kSatelliteId +
                                  " (account " + kAccountId +
                                  ") but this is satellite 11111111-2222-4333-8444-555555555555 "
                                  "(account " +
                                  kAccountId + "); it was made for another satellite");
}

TEST_F(CheckResponseTest, ResponseForAnotherAccountIsRefused) {
  SatelliteSyncState state = State();
  state.account_id = "another-account";
  Status status = CheckResponse(SampleResponse(), state, clock_.Now());
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_TRUE(Contains(status, "(account another-account)"));
}

TEST_F(CheckResponseTest, ForeignResponseIsRefusedEvenWithTheLastImportedNumber) {
  SatelliteSyncState state = State();
  state.last_response_number = 7;
  state.satellite_id = "11111111-2222-4333-8444-555555555555";
  EXPECT_EQ(CheckResponse(SampleResponse(), state, clock_.Now()).code(), Errc::kPermissionDenied);
}

TEST_F(CheckResponseTest, ExpiredResponseIsRefused) {
  clock_.Set(FromUnixSeconds(kValidUntil - 1));
  EXPECT_OK(CheckResponse(SampleResponse(), State(), clock_.Now()));
  clock_.Advance(seconds(1));
  Status status = CheckResponse(SampleResponse(), State(), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "sync response 7 expired at 2026-06-27T20:26:40Z; export a new request and get a "
            "fresh response");
}

TEST_F(CheckResponseTest, AlreadyImportedResponseIsReportedAsSuchEvenAfterItExpired) {
  SatelliteSyncState state = State();
  state.last_response_number = 7;
  clock_.Set(FromUnixSeconds(kValidUntil + 86'400));
  EXPECT_EQ(CheckResponse(SampleResponse(), state, clock_.Now()).code(), Errc::kAlreadyExists);
}

TEST_F(CheckResponseTest, ResponseIssuedInTheFutureIsRefusedBeyondTheTolerance) {
  clock_.Set(FromUnixSeconds(kIssuedAt) - minutes(5));
  EXPECT_OK(CheckResponse(SampleResponse(), State(), clock_.Now()));
  clock_.Advance(-seconds(1));
  Status status = CheckResponse(SampleResponse(), State(), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "sync response 7 was issued at 2026-05-28T20:26:40Z, 301 s later than this "
            "satellite's time (2026-05-28T20:21:39Z); check the clocks of the satellite and of "
            "central");
  EXPECT_OK(CheckResponse(SampleResponse(), State(), clock_.Now(), minutes(10)));
}

TEST_F(CheckResponseTest, ResponseToARequestNeverSentIsRefused) {
  SatelliteSyncState state = State();
  state.last_request_sequence = 11;
  Status status = CheckResponse(SampleResponse(), state, clock_.Now());
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "sync response 7 answers request 12, but this satellite has only exported requests "
            "up to 11; it was not made for a request from this satellite");
}

TEST_F(CheckResponseTest, ResponseToAnOlderRequestIsAccepted) {
  // Offline, request 11's answer may arrive after request 12 was exported.
  v1::SyncResponse response = SampleResponse();
  response.set_answers_request_sequence(11);
  EXPECT_OK(CheckResponse(response, State(), clock_.Now()));
}

TEST_F(CheckResponseTest, StructurallyInvalidResponsesAreRefused) {
  v1::SyncResponse no_number = SampleResponse();
  no_number.set_response_number(0);
  EXPECT_EQ(CheckResponse(no_number, State(), clock_.Now()).code(), Errc::kInvalidArgument);

  v1::SyncResponse no_request = SampleResponse();
  no_request.set_answers_request_sequence(0);
  EXPECT_EQ(CheckResponse(no_request, State(), clock_.Now()).code(), Errc::kInvalidArgument);

  v1::SyncResponse backwards = SampleResponse();
  backwards.set_valid_until(backwards.issued_at());
  Status status = CheckResponse(backwards, State(), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "not after it was issued"));
}

TEST_F(CheckResponseTest, ValidKeyRotationIsAccepted) {
  v1::SyncResponse response = SampleResponse();
  const crypto::PrivateKey next = OtherKey();
  *response.mutable_key_rotation() =
      *MakeKeyRotation(CentralKey().public_key(), next, FromUnixSeconds(kIssuedAt));
  EXPECT_OK(CheckResponse(response, State(), clock_.Now()));

  SatelliteSyncState no_key = State();
  no_key.central_key.reset();
  EXPECT_EQ(CheckResponse(response, no_key, clock_.Now()).code(), Errc::kFailedPrecondition);
}

TEST_F(CheckResponseTest, KeyRotationThatDoesNotCheckRefusesTheResponse) {
  v1::SyncResponse response = SampleResponse();
  const crypto::PrivateKey next = OtherKey();
  *response.mutable_key_rotation() =
      *MakeKeyRotation(CentralKey().public_key(), next, FromUnixSeconds(kIssuedAt));
  response.mutable_key_rotation()->set_effective_from(kIssuedAt + 1);  // not what was signed
  Status status = CheckResponse(response, State(), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "is not signed by that key"));
}

TEST(KeyRotationTest, RotationYieldsTheNewKey) {
  const crypto::PrivateKey next = OtherKey();
  const crypto::PublicKey current = CentralKey().public_key();
  Result<v1::KeyRotation> rotation = MakeKeyRotation(current, next, FromUnixSeconds(kIssuedAt));
  ASSERT_OK(rotation);
  EXPECT_EQ(rotation->previous_key_id(), current.KeyId());
  EXPECT_EQ(rotation->new_key_id(), next.public_key().KeyId());
  Result<crypto::PublicKey> new_key = CheckKeyRotation(*rotation, current);
  ASSERT_OK(new_key);
  EXPECT_EQ(*new_key, next.public_key());
}

TEST(KeyRotationTest, RotationFromAKeyTheSatelliteDoesNotTrustIsRefused) {
  const crypto::PrivateKey next = OtherKey();
  v1::KeyRotation rotation = *MakeKeyRotation(SatelliteKey().public_key(), next, {});
  Result<crypto::PublicKey> new_key = CheckKeyRotation(rotation, CentralKey().public_key());
  ASSERT_FALSE(new_key.ok());
  EXPECT_EQ(new_key.status().code(), Errc::kPermissionDenied);
  EXPECT_EQ(new_key.status().message(),
            "the key rotation replaces central key " + SatelliteKey().public_key().KeyId() +
                " but this satellite trusts central key " + CentralKey().public_key().KeyId());
}

TEST(KeyRotationTest, RotationSignedByAnotherKeyOrNamingAnotherIdIsRefused) {
  const crypto::PublicKey current = CentralKey().public_key();
  const crypto::PrivateKey next = OtherKey();
  const crypto::PrivateKey impostor = SatelliteKey();

  v1::KeyRotation unproven = *MakeKeyRotation(current, impostor, {});
  unproven.set_new_public_key_pem(next.public_key().ToPem());
  unproven.set_new_key_id(next.public_key().KeyId());
  EXPECT_EQ(CheckKeyRotation(unproven, current).status().code(), Errc::kInvalidArgument);

  v1::KeyRotation wrong_id = *MakeKeyRotation(current, next, {});
  wrong_id.set_new_key_id(impostor.public_key().KeyId());
  Result<crypto::PublicKey> key = CheckKeyRotation(wrong_id, current);
  ASSERT_FALSE(key.ok());
  EXPECT_TRUE(Contains(key.status(), "but carries key " + next.public_key().KeyId()));

  v1::KeyRotation garbled = *MakeKeyRotation(current, next, {});
  garbled.set_new_public_key_pem("not a key");
  EXPECT_EQ(CheckKeyRotation(garbled, current).status().code(), Errc::kInvalidArgument);
}

TEST(KeyRotationTest, RotatingToTheCurrentKeyIsRefused) {
  const crypto::PrivateKey central = CentralKey();
  EXPECT_EQ(MakeKeyRotation(central.public_key(), central, {}).status().code(),
            Errc::kInvalidArgument);
}

TEST(CheckRequestTest, NewerSequenceIsAccepted) {
  EXPECT_OK(CheckRequest(SampleRequest(), 11));
  EXPECT_OK(CheckRequest(SampleRequest(), 0));  // first contact
  EXPECT_OK(CheckRequest(SampleRequest(), 3));  // requests lost on the way are no problem
}

TEST(CheckRequestTest, SameSequenceIsAReplayToAnswerWithTheStoredResponse) {
  Status status = CheckRequest(SampleRequest(), 12);
  EXPECT_EQ(status.code(), Errc::kAlreadyExists);
  EXPECT_EQ(status.message(), std::string("sync request 12 from satellite ") + kSatelliteId +
                                  " was already processed; resend the stored response");
}

TEST(CheckRequestTest, OlderSequenceIsRefused) {
  Status status = CheckRequest(SampleRequest(), 13);
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  EXPECT_TRUE(Contains(status, "is older than the last processed request 13 (replay refused)"));
}

TEST(CheckRequestTest, RequestWithoutSequenceOrSatelliteIsInvalid) {
  v1::SyncRequest no_sequence = SampleRequest();
  no_sequence.set_sequence(0);
  EXPECT_EQ(CheckRequest(no_sequence, 0).code(), Errc::kInvalidArgument);
  v1::SyncRequest negative = SampleRequest();
  negative.set_sequence(-5);
  EXPECT_EQ(CheckRequest(negative, 0).code(), Errc::kInvalidArgument);
  v1::SyncRequest anonymous = SampleRequest();
  anonymous.clear_satellite_id();
  EXPECT_EQ(CheckRequest(anonymous, 0).code(), Errc::kInvalidArgument);
}

TEST(EnrollmentProofTest, ProofMadeWithTheSecretChecks) {
  const std::string secret = Seed(0xa0);
  const crypto::PublicKey satellite = SatelliteKey().public_key();
  const std::string proof = EnrollmentProof(secret, satellite);
  EXPECT_EQ(proof.size(), 64u);  // an Ed25519 signature
  EXPECT_OK(CheckEnrollmentProof(proof, secret, satellite));
  // Central checks it with the stored verifier, which is not the secret.
  auto verifier = EnrollmentVerifier(secret);
  ASSERT_OK(verifier);
  EXPECT_EQ(verifier->find(secret), std::string::npos);
  EXPECT_OK(CheckEnrollmentProofWithVerifier(proof, *verifier, satellite));
  EXPECT_EQ(CheckEnrollmentProofWithVerifier(proof, "garbage", satellite).code(),
            Errc::kInvalidArgument);
}

TEST(EnrollmentProofTest, ProofForAnotherKeyOrWithAnotherSecretIsRefused) {
  const std::string secret = Seed(0xa0);
  const crypto::PublicKey satellite = SatelliteKey().public_key();
  const crypto::PublicKey intruder = OtherKey().public_key();
  // A proof copied from the real satellite's request does not cover another key.
  Status status = CheckEnrollmentProof(EnrollmentProof(secret, satellite), secret, intruder);
  EXPECT_EQ(status.code(), Errc::kPermissionDenied);
  EXPECT_EQ(status.message(), "the enrollment proof for satellite key " + intruder.KeyId() +
                                  " was not made with this satellite's enrollment secret");
  EXPECT_EQ(CheckEnrollmentProof(EnrollmentProof(Seed(0xb0), satellite), secret, satellite).code(),
            Errc::kPermissionDenied);
  EXPECT_EQ(CheckEnrollmentProof("", secret, satellite).code(), Errc::kPermissionDenied);
  EXPECT_EQ(CheckEnrollmentProof(EnrollmentProof("short", satellite), "short", satellite).code(),
            Errc::kInvalidArgument);
}

}  // namespace
}  // namespace outpost::sync
