// Checkpoints listed with their signatures, and heads held by central compared with the chain.

#include "server/audit/evidence.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/crypto/encoding.h"
#include "server/audit/chain.h"
#include "server/audit/checkpoint.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using std::chrono::seconds;
using testing::AuditDbTest;

class EvidenceTest : public AuditDbTest {
 protected:
  // Appends `count` records and signs a checkpoint of the new head.
  void AppendAndCheckpoint(int count) {
    AppendMany(count);
    clock_.Advance(seconds(1));
    ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  }

  // Central's list, as `central audit-heads -o` exports it: one head per checkpoint.
  v1::CentralAuditHeadList HeadsFromCheckpoints() {
    v1::CentralAuditHeadList heads;
    heads.set_satellite_id("sat-1");
    auto list = ListCheckpoints(db(), key().public_key());
    EXPECT_OK(list);
    int64_t request = 0;
    for (const auto& c : list->checkpoints()) {
      v1::CentralAuditHead* h = heads.add_heads();
      h->set_request_sequence(++request);
      h->mutable_head()->set_seq(c.seq());
      h->mutable_head()->set_hash(c.hash());
      h->mutable_head()->set_time_ms(c.time_ms());
      h->mutable_head()->set_key_id(c.key_id());
      h->mutable_head()->set_signature(*crypto::HexDecode(c.signature()));
    }
    return heads;
  }
};

TEST_F(EvidenceTest, CheckpointsAreListedWithVerifiableSignatures) {
  AppendAndCheckpoint(3);
  AppendAndCheckpoint(2);
  auto list = ListCheckpoints(db(), key().public_key());
  ASSERT_OK(list);
  ASSERT_EQ(list->checkpoints_size(), 2);
  EXPECT_EQ(list->key_fingerprint(), key().public_key().Fingerprint());
  const auto& first = list->checkpoints(0);
  EXPECT_EQ(first.seq(), 3);
  EXPECT_TRUE(first.verified()) << first.problem();
  EXPECT_EQ(first.signature().size(), 128u);  // 64 bytes, hex
  // The listed fields are exactly what was signed.
  auto hash = crypto::HexDecode(first.hash());
  ASSERT_OK(hash);
  EXPECT_OK(key().public_key().Verify(kCheckpointDomain,
                                      CheckpointMessage(first.seq(), *hash, first.time_ms()),
                                      *crypto::HexDecode(first.signature())));
  EXPECT_EQ(list->checkpoints(1).seq(), 5);
}

TEST_F(EvidenceTest, CheckpointOfAChangedRecordOrAnotherKeyIsNotVerified) {
  AppendAndCheckpoint(3);
  Sql("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 3");
  auto list = ListCheckpoints(db(), key().public_key());
  ASSERT_OK(list);
  ASSERT_EQ(list->checkpoints_size(), 1);
  EXPECT_FALSE(list->checkpoints(0).verified());
  EXPECT_NE(list->checkpoints(0).problem().find("changed"), std::string::npos);

  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_OK(other);
  auto with_other = ListCheckpoints(db(), other->public_key());
  ASSERT_OK(with_other);
  EXPECT_FALSE(with_other->checkpoints(0).verified());
  EXPECT_NE(with_other->checkpoints(0).problem().find("not by the satellite key"),
            std::string::npos);
}

TEST_F(EvidenceTest, HeadsOfAnUnchangedChainAllMatch) {
  AppendAndCheckpoint(3);
  AppendAndCheckpoint(4);
  auto report = CompareHeads(db(), HeadsFromCheckpoints(), key().public_key());
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->heads_compared(), 2);
  EXPECT_EQ(report->heads_matched(), 2);
  EXPECT_EQ(report->heads(1).result(), "match");
  EXPECT_EQ(report->local_last_seq(), 7);
  EXPECT_EQ(report->satellite_id(), "sat-1");
}

TEST_F(EvidenceTest, TruncationAfterASyncIsMissingEvenWithoutLocalCheckpoints) {
  AppendAndCheckpoint(3);
  AppendAndCheckpoint(4);
  const v1::CentralAuditHeadList heads = HeadsFromCheckpoints();
  // Whoever truncates the log also removes the checkpoints that would betray it locally.
  Sql("DELETE FROM audit_log WHERE seq > 3");
  Sql("DELETE FROM audit_checkpoints WHERE seq > 3");
  auto report = CompareHeads(db(), heads, key().public_key());
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->heads(0).result(), "match");
  EXPECT_EQ(report->heads(1).result(), "missing");
  EXPECT_EQ(report->heads(1).local_hash(), "");
}

TEST_F(EvidenceTest, RewrittenRecordDiffersAndAForgedHeadHasABadSignature) {
  AppendAndCheckpoint(3);
  v1::CentralAuditHeadList heads = HeadsFromCheckpoints();
  Sql("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 3");
  auto report = CompareHeads(db(), heads, key().public_key());
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->heads(0).result(), "differs");

  Sql("UPDATE audit_log SET hash = (SELECT hash FROM audit_checkpoints WHERE seq = 3) "
      "WHERE seq = 3");
  heads.mutable_heads(0)->mutable_head()->set_time_ms(heads.heads(0).head().time_ms() + 1);
  report = CompareHeads(db(), heads, key().public_key());
  ASSERT_OK(report);
  EXPECT_EQ(report->heads(0).result(), "bad_signature");
  EXPECT_FALSE(report->ok());
}

TEST_F(EvidenceTest, AnotherSatellitesHeadsAreRefused) {
  AppendAndCheckpoint(2);
  const v1::CentralAuditHeadList heads = HeadsFromCheckpoints();  // of "sat-1"
  Sql("INSERT INTO satellite_meta(key, value) VALUES ('satellite_id', 'sat-9')");
  auto refused = CompareHeads(db(), heads, key().public_key());
  EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("satellite 'sat-1', but this is satellite sat-9"),
            std::string::npos)
      << refused.status().message();
  Sql("UPDATE satellite_meta SET value = 'sat-1' WHERE key = 'satellite_id'");
  EXPECT_OK(CompareHeads(db(), heads, key().public_key()));
}

TEST_F(EvidenceTest, MalformedOrNoHeadsAreRefusedOrReported) {
  AppendAndCheckpoint(2);
  v1::CentralAuditHeadList empty;
  empty.set_satellite_id("sat-1");
  auto refused = CompareHeads(db(), empty, key().public_key());
  EXPECT_EQ(refused.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("sync first"), std::string::npos);

  v1::CentralAuditHeadList bad = HeadsFromCheckpoints();
  bad.mutable_heads(0)->mutable_head()->set_hash("not hex");
  auto report = CompareHeads(db(), bad, key().public_key());
  ASSERT_OK(report);
  EXPECT_EQ(report->heads(0).result(), "malformed");
  EXPECT_FALSE(report->ok());
}

}  // namespace
}  // namespace outpost::server::audit
