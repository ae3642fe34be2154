#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/crypto/encoding.h"
#include "server/audit/audit_log.h"
#include "server/audit/chain.h"
#include "server/audit/checkpoint.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using testing::AuditDbTest;

class AppendTest : public AuditDbTest {
 protected:
  int64_t RecordCount() {
    auto count = db().QueryInt64("SELECT count(*) FROM audit_log");
    EXPECT_OK(count);
    return count.ok() ? *count : -1;
  }
};

TEST_F(AppendTest, AppendedChainVerifies) {
  AppendMany(50);
  const VerifyReport report = VerifyLog();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 50);
  EXPECT_EQ(report.last_seq, 50);
  EXPECT_EQ(report.first_bad_seq, 0);
  EXPECT_EQ(report.problem_kind, VerifyProblem::kNone);
  EXPECT_EQ(report.key_fingerprint, key().public_key().Fingerprint());
  auto head = CurrentHead(db());
  ASSERT_OK(head);
  EXPECT_EQ(head->seq, 50);
  EXPECT_EQ(report.head_hash, crypto::HexEncode(head->hash));
}

TEST_F(AppendTest, StoredRecordHasTheDocumentedHash) {
  // The same record as ChainTest's vector, written through Append.
  AuditEvent event;
  event.actor = {"user", "alice"};
  event.action = "token.create";
  event.object = "token:7f3a";
  event.details = R"({"va":"default","max_uses":5})";
  const TimePoint now =
      TimePoint(std::chrono::milliseconds(1'780'000'000'123) + std::chrono::microseconds(999));
  ASSERT_OK(Append(db(), event, now));
  auto statement = db().Query("SELECT seq, time_ms, actor, prev_hash, hash FROM audit_log");
  ASSERT_OK(statement);
  auto row = (*statement)->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ((*statement)->ColumnInt64(0), 1);
  EXPECT_EQ((*statement)->ColumnInt64(1), 1'780'000'000'123);
  EXPECT_EQ((*statement)->ColumnText(2), "user:alice");
  EXPECT_EQ((*statement)->ColumnBlob(3), GenesisHash());
  EXPECT_EQ(crypto::HexEncode((*statement)->ColumnBlob(4)),
            "8b4d8444046347bcf3beb1ef73b36318161867ad9e6c57b0aa8ad67b96d6390f");
}

TEST_F(AppendTest, EachRecordChainsToThePreviousOne) {
  AppendMany(3);
  auto statement = db().Query("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq");
  ASSERT_OK(statement);
  std::string previous = GenesisHash();
  for (int64_t seq = 1; seq <= 3; ++seq) {
    auto row = (*statement)->Step();
    ASSERT_OK(row);
    ASSERT_TRUE(*row);
    EXPECT_EQ((*statement)->ColumnInt64(0), seq);
    EXPECT_EQ((*statement)->ColumnBlob(1), previous);
    previous = (*statement)->ColumnBlob(2);
  }
}

TEST_F(AppendTest, SystemActorIsRecordedWithoutId) {
  ASSERT_OK(Append(db(), {Actor::System(), "sweep.release", "device:d1", "{}"}, clock_.Now()));
  auto statement = db().Query("SELECT actor FROM audit_log");
  ASSERT_OK(statement);
  ASSERT_TRUE(*(*statement)->Step());
  EXPECT_EQ((*statement)->ColumnText(0), "system");
}

TEST_F(AppendTest, InvalidEventsAreRefusedAndWriteNothing) {
  AuditEvent no_action{{"user", "alice"}, "", "x", "{}"};
  AuditEvent no_actor{{"", ""}, "token.create", "x", "{}"};
  AuditEvent binary_details{{"user", "alice"}, "token.create", "x", "{\"k\":\"\xff\"}"};
  AuditEvent binary_actor{{"device", "\xc0\xaf"}, "token.create", "x", "{}"};
  AuditEvent huge_details{
      {"user", "alice"}, "token.create", "x", std::string(kMaxFieldBytes + 1, 'x')};
  for (const AuditEvent& event :
       {no_action, no_actor, binary_details, binary_actor, huge_details}) {
    Status status = Append(db(), event, clock_.Now());
    EXPECT_EQ(status.code(), Errc::kInvalidArgument) << status.ToString();
    EXPECT_FALSE(status.message().empty());
  }
  EXPECT_EQ(RecordCount(), 0);
}

TEST_F(AppendTest, RefusesToChainOntoAMalformedHead) {
  AppendMany(2);
  Sql("UPDATE audit_log SET hash = x'0102' WHERE seq = 2");
  Status status = Append(db(), EventNumber(3), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kDataLoss) << status.ToString();
  EXPECT_NE(status.message().find("outpost audit verify"), std::string::npos);
  EXPECT_EQ(RecordCount(), 2);
}

TEST_F(AppendTest, RefusesToChainBeyondTheLargestSeq) {
  AppendMany(2);
  Sql("UPDATE audit_log SET seq = 9223372036854775807 WHERE seq = 2");
  Status status = Append(db(), EventNumber(3), clock_.Now());
  EXPECT_EQ(status.code(), Errc::kDataLoss) << status.ToString();
  EXPECT_EQ(RecordCount(), 2);
}

TEST_F(AppendTest, HeadOfAnEmptyLogIsTheGenesisHash) {
  auto head = CurrentHead(db());
  ASSERT_OK(head);
  EXPECT_EQ(head->seq, 0);
  EXPECT_EQ(head->hash, GenesisHash());
  EXPECT_EQ(head->time_ms, 0);
}

TEST_F(AppendTest, HeadIsTheNewestRecord) {
  AppendMany(4);
  auto head = CurrentHead(db());
  ASSERT_OK(head);
  EXPECT_EQ(head->seq, 4);
  EXPECT_EQ(head->time_ms, ToUnixMillis(clock_.Now()));
  auto hash = db().Query("SELECT hash FROM audit_log WHERE seq = 4");
  ASSERT_OK(hash);
  ASSERT_TRUE(*(*hash)->Step());
  EXPECT_EQ(head->hash, (*hash)->ColumnBlob(0));
}

TEST_F(AppendTest, CheckpointSignsTheHeadOnce) {
  AppendMany(5);
  clock_.Advance(std::chrono::minutes(1));
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now() + std::chrono::hours(1)));
  auto count = db().QueryInt64("SELECT count(*) FROM audit_checkpoints");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1) << "a second checkpoint of the same head is a no-op";

  auto checkpoint = LatestCheckpoint(db());
  ASSERT_OK(checkpoint);
  ASSERT_TRUE(checkpoint->has_value());
  const Checkpoint& signed_head = **checkpoint;
  auto head = CurrentHead(db());
  ASSERT_OK(head);
  EXPECT_EQ(signed_head.seq, 5);
  EXPECT_EQ(signed_head.hash, head->hash);
  EXPECT_EQ(signed_head.time_ms, ToUnixMillis(clock_.Now()));
  EXPECT_EQ(signed_head.key_id, key().public_key().KeyId());
  EXPECT_OK(key().public_key().Verify(
      "outpost/audit-checkpoint/v1",
      CheckpointMessage(signed_head.seq, signed_head.hash, signed_head.time_ms),
      signed_head.signature));

  AppendMany(1);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  checkpoint = LatestCheckpoint(db());
  ASSERT_OK(checkpoint);
  EXPECT_EQ((*checkpoint)->seq, 6);
  const VerifyReport report = VerifyLog();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints_checked, 2);
}

TEST_F(AppendTest, CheckpointOfAnEmptyLogIsANoOp) {
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  auto checkpoint = LatestCheckpoint(db());
  ASSERT_OK(checkpoint);
  EXPECT_FALSE(checkpoint->has_value());
}

TEST_F(AppendTest, EcdsaKeysSignCheckpointsToo) {
  auto ecdsa = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEcdsaP256);
  ASSERT_OK(ecdsa);
  AppendMany(3);
  ASSERT_OK(SignCheckpoint(db(), *ecdsa, clock_.Now()));
  const VerifyReport report = VerifyWith(ecdsa->public_key());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints_checked, 1);
}

}  // namespace
}  // namespace outpost::server::audit
