#include "server/audit/verify.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/crypto/encoding.h"
#include "server/audit/chain.h"
#include "server/audit/checkpoint.h"
#include "server/audit/record_row.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using testing::AuditDbTest;

class VerifyTest : public AuditDbTest {
 protected:
  Record ReadStored(int64_t seq) {
    auto statement = db().Query(
        "SELECT seq, time_ms, actor, action, object, details, prev_hash, hash FROM audit_log "
        "WHERE seq = ?",
        seq);
    EXPECT_OK(statement);
    if (!statement.ok()) return {};
    auto row = (*statement)->Step();
    EXPECT_TRUE(row.ok() && *row) << "no record " << seq;
    return row.ok() && *row ? ReadRecord(**statement) : Record{};
  }

  void StoreHashes(const Record& record) {
    ASSERT_OK(db().ExecPrepared("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                                sqlite::Blob{record.prev_hash}, sqlite::Blob{record.hash},
                                record.seq));
  }

  // What an attacker with write access to the file and no key can do at best: change record
  // `from` and recompute the hashes of it and of every later record.
  void RewriteConsistentlyFrom(int64_t from) {
    Sql("UPDATE audit_log SET details = '{\"rewritten\":true}' WHERE seq = " +
        std::to_string(from));
    std::string prev = from == 1 ? GenesisHash() : ReadStored(from - 1).hash;
    auto last = db().QueryInt64("SELECT max(seq) FROM audit_log");
    ASSERT_OK(last);
    for (int64_t seq = from; seq <= *last; ++seq) {
      Record record = ReadStored(seq);
      record.prev_hash = prev;
      record.hash = ComputeRecordHash(record);
      StoreHashes(record);
      prev = record.hash;
    }
  }

  void FlipFirstByte(std::string_view table, std::string_view column, int64_t seq) {
    std::string bytes;
    {
      auto statement = db().Query(
          "SELECT " + std::string(column) + " FROM " + std::string(table) + " WHERE seq = ?", seq);
      ASSERT_OK(statement);
      auto row = (*statement)->Step();
      ASSERT_OK(row);
      ASSERT_TRUE(*row);
      bytes = (*statement)->ColumnBlob(0);
    }
    ASSERT_FALSE(bytes.empty());
    bytes[0] = static_cast<char>(bytes[0] ^ 0x01);
    ASSERT_OK(db().ExecPrepared(
        "UPDATE " + std::string(table) + " SET " + std::string(column) + " = ? WHERE seq = ?",
        sqlite::Blob{bytes}, seq));
  }

  void ExpectProblem(const VerifyReport& report, VerifyProblem kind, int64_t seq,
                     std::string_view mentioned) {
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.problem_kind, kind)
        << ProblemName(report.problem_kind) << ": " << report.problem;
    EXPECT_EQ(report.first_bad_seq, seq) << report.problem;
    EXPECT_NE(report.problem.find(mentioned), std::string::npos)
        << "'" << report.problem << "' should mention '" << mentioned << "'";
  }
};

TEST_F(VerifyTest, EmptyLogVerifies) {
  const VerifyReport report = VerifyLog();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 0);
  EXPECT_EQ(report.last_seq, 0);
  EXPECT_EQ(report.head_hash, std::string(64, '0'));
  EXPECT_TRUE(report.problem.empty());
}

struct FieldChange {
  const char* column;
  const char* new_value;  // SQL expression
};

class ModifiedFieldTest : public VerifyTest, public ::testing::WithParamInterface<FieldChange> {};

TEST_P(ModifiedFieldTest, ModifiedRecordIsDetectedAndNamedBySeq) {
  AppendMany(20);
  Sql(std::string("UPDATE audit_log SET ") + GetParam().column + " = " + GetParam().new_value +
      " WHERE seq = 7");
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kChanged, 7, "record seq 7 was changed");
  EXPECT_EQ(report.records_checked, 6);
  EXPECT_EQ(report.last_seq, 6);
}

INSTANTIATE_TEST_SUITE_P(EveryField, ModifiedFieldTest,
                         ::testing::Values(FieldChange{"actor", "'user:mallory'"},
                                           FieldChange{"action", "'token.revoke'"},
                                           FieldChange{"object", "'token:other'"},
                                           FieldChange{"details", "'{\"i\":99}'"},
                                           FieldChange{"time_ms", "time_ms + 1"}),
                         [](const auto& info) { return std::string(info.param.column); });

TEST_F(VerifyTest, ChangedStoredHashIsDetected) {
  AppendMany(10);
  FlipFirstByte("audit_log", "hash", 10);
  ExpectProblem(VerifyLog(), VerifyProblem::kChanged, 10, "seq 10");
}

TEST_F(VerifyTest, DeletedMiddleRecordIsDetected) {
  AppendMany(10);
  Sql("DELETE FROM audit_log WHERE seq = 5");
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kMissing, 5, "record seq 5 is missing");
  EXPECT_EQ(report.records_checked, 4);
}

TEST_F(VerifyTest, DeletedRangeAndDeletedFirstRecordsAreDetected) {
  AppendMany(10);
  Sql("DELETE FROM audit_log WHERE seq BETWEEN 4 AND 6");
  ExpectProblem(VerifyLog(), VerifyProblem::kMissing, 4, "records seq 4 to seq 6 are missing");
  Sql("DELETE FROM audit_log WHERE seq <= 2");
  ExpectProblem(VerifyLog(), VerifyProblem::kMissing, 1, "the log starts at seq 3");
}

TEST_F(VerifyTest, DeletedRecordWithLaterOnesRenumberedIsDetected) {
  AppendMany(10);
  Sql("DELETE FROM audit_log WHERE seq = 5");
  for (int seq = 6; seq <= 10; ++seq) {
    Sql("UPDATE audit_log SET seq = " + std::to_string(seq - 1) +
        " WHERE seq = " + std::to_string(seq));
  }
  ExpectProblem(VerifyLog(), VerifyProblem::kReordered, 5, "does not follow");
}

TEST_F(VerifyTest, SwappedRecordsAreDetected) {
  AppendMany(10);
  // Exchange the sequence numbers of two rows: their contents, hashes included, stay intact.
  Sql("UPDATE audit_log SET seq = -1 WHERE seq = 4");
  Sql("UPDATE audit_log SET seq = 4 WHERE seq = 5");
  Sql("UPDATE audit_log SET seq = 5 WHERE seq = -1");
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kReordered, 4, "record seq 4 does not follow");
  EXPECT_EQ(report.last_seq, 3);
}

TEST_F(VerifyTest, SwappedContentsAreDetected) {
  AppendMany(10);
  // Exchange everything but seq between rows 4 and 5.
  const Record four = ReadStored(4);
  const Record five = ReadStored(5);
  for (const auto& [seq, from] : {std::pair{int64_t{4}, five}, std::pair{int64_t{5}, four}}) {
    ASSERT_OK(db().ExecPrepared(
        "UPDATE audit_log SET time_ms = ?, actor = ?, action = ?, object = ?, details = ?, "
        "prev_hash = ?, hash = ? WHERE seq = ?",
        from.time_ms, from.actor, from.action, from.object, from.details,
        sqlite::Blob{from.prev_hash}, sqlite::Blob{from.hash}, seq));
  }
  ExpectProblem(VerifyLog(), VerifyProblem::kReordered, 4, "record seq 4 does not follow");
}

TEST_F(VerifyTest, ChangedAndRehashedRecordIsDetectedAtItsSuccessor) {
  AppendMany(10);
  Record record = ReadStored(7);
  record.details = R"({"i":"forged"})";
  record.hash = ComputeRecordHash(record);
  ASSERT_OK(db().ExecPrepared("UPDATE audit_log SET details = ?, hash = ? WHERE seq = ?",
                              record.details, sqlite::Blob{record.hash}, int64_t{7}));
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kReordered, 8, "record seq 8 does not follow");
  EXPECT_NE(report.problem.find("the hash of seq 7"), std::string::npos) << report.problem;
}

TEST_F(VerifyTest, AlteredSeqBelowOneIsDetected) {
  AppendMany(3);
  Sql("UPDATE audit_log SET seq = 0 WHERE seq = 1");
  ExpectProblem(VerifyLog(), VerifyProblem::kChanged, 0, "start at 1");
}

TEST_F(VerifyTest, ConsistentRewriteBeforeACheckpointIsDetected) {
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  AppendMany(5);
  RewriteConsistentlyFrom(4);
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kCheckpointMismatch, 10, "was rewritten");
  EXPECT_EQ(report.last_seq, 9);
}

TEST_F(VerifyTest, ConsistentRewriteAfterTheNewestCheckpointIsNotDetectableLocally) {
  // The documented limit of a local check: this is what the heads sent to central are for.
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  AppendMany(5);
  auto head_before = CurrentHead(db());
  ASSERT_OK(head_before);
  RewriteConsistentlyFrom(12);
  EXPECT_TRUE(VerifyLog().ok);
  auto head_after = CurrentHead(db());
  ASSERT_OK(head_after);
  EXPECT_NE(head_after->hash, head_before->hash) << "central's copy of the head tells";
}

TEST_F(VerifyTest, TruncationAfterACheckpointIsDetected) {
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  AppendMany(5);
  ASSERT_TRUE(VerifyLog().ok);
  Sql("DELETE FROM audit_log WHERE seq > 8");
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kTruncated, 9, "covers seq 10");
  EXPECT_EQ(report.records_checked, 8);
  EXPECT_EQ(report.last_seq, 8);
}

// An auditor's saved head is a witness outside the database (`audit verify
// --since-checkpoint`): it catches what the checkpoints in the same file cannot, a cut of the
// end together with the checkpoints that covered it.
class SavedHeadTest : public VerifyTest {
 protected:
  SavedHead Save() {
    auto head = CurrentHead(db());
    EXPECT_OK(head);
    return SavedHead{head->seq, head->hash, "the saved head in head.json"};
  }
  VerifyReport VerifySince(const SavedHead& saved) {
    auto report = Verify(db(), key().public_key(), &saved);
    EXPECT_OK(report);
    return report.ok() ? *report : VerifyReport{};
  }
};

TEST_F(SavedHeadTest, AChainThatGrewExtendsTheSavedHead) {
  AppendMany(10);
  const SavedHead saved = Save();
  AppendMany(5);
  const VerifyReport report = VerifySince(saved);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.saved_head_seq, 10);
  EXPECT_EQ(report.last_seq, 15);
  EXPECT_EQ(VerifyLog().saved_head_seq, 0) << "none given, none claimed";
}

TEST_F(SavedHeadTest, CuttingTheEndAndItsCheckpointsIsFoundWithTheSavedHeadOnly) {
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  AppendMany(5);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  const SavedHead saved = Save();
  Sql("DELETE FROM audit_log WHERE seq > 7; DELETE FROM audit_checkpoints WHERE seq > 7");
  EXPECT_TRUE(VerifyLog().ok) << "the limit of a local check: the file alone verifies";
  const VerifyReport report = VerifySince(saved);
  ExpectProblem(report, VerifyProblem::kTruncated, 8, "the saved head in head.json holds seq 15");
  EXPECT_EQ(report.saved_head_seq, 0);
}

TEST_F(SavedHeadTest, ARewriteAfterTheNewestCheckpointIsFoundWithTheSavedHead) {
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  AppendMany(5);
  const SavedHead saved = Save();
  RewriteConsistentlyFrom(12);
  EXPECT_TRUE(VerifyLog().ok);
  ExpectProblem(VerifySince(saved), VerifyProblem::kSavedHead, 15, "was rewritten after");
}

TEST_F(SavedHeadTest, AHeadFromAnotherChainDoesNotMatch) {
  AppendMany(5);
  SavedHead foreign = Save();
  foreign.hash = std::string(32, '\x5a');
  ExpectProblem(VerifySince(foreign), VerifyProblem::kSavedHead, 5, "another satellite");
}

TEST_F(VerifyTest, DeletingEveryRecordUnderACheckpointIsDetected) {
  AppendMany(3);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  Sql("DELETE FROM audit_log");
  ExpectProblem(VerifyLog(), VerifyProblem::kTruncated, 1, "the log ends at seq 0");
}

TEST_F(VerifyTest, TamperedCheckpointSignatureIsDetected) {
  AppendMany(5);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  FlipFirstByte("audit_checkpoints", "signature", 5);
  ExpectProblem(VerifyLog(), VerifyProblem::kCheckpointSignature, 5, "does not verify");
}

TEST_F(VerifyTest, TamperedCheckpointHashOrTimeIsDetected) {
  AppendMany(5);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  FlipFirstByte("audit_checkpoints", "hash", 5);
  ExpectProblem(VerifyLog(), VerifyProblem::kCheckpointSignature, 5, "checkpoint at seq 5");
  FlipFirstByte("audit_checkpoints", "hash", 5);  // restore
  ASSERT_TRUE(VerifyLog().ok);
  Sql("UPDATE audit_checkpoints SET time_ms = time_ms - 1000");
  ExpectProblem(VerifyLog(), VerifyProblem::kCheckpointSignature, 5, "checkpoint at seq 5");
}

TEST_F(VerifyTest, CheckpointFromAnotherKeyIsDetected) {
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_OK(other);
  AppendMany(5);
  ASSERT_OK(SignCheckpoint(db(), *other, clock_.Now()));
  const VerifyReport report = VerifyLog();
  ExpectProblem(report, VerifyProblem::kCheckpointKey, 5, other->public_key().KeyId());
  EXPECT_EQ(report.key_fingerprint, key().public_key().Fingerprint());

  // Relabelled with the satellite's key id, the foreign signature still fails.
  ASSERT_OK(
      db().ExecPrepared("UPDATE audit_checkpoints SET key_id = ?", key().public_key().KeyId()));
  ExpectProblem(VerifyLog(), VerifyProblem::kCheckpointSignature, 5, "does not verify");
}

TEST_F(VerifyTest, ProblemNamesAreStable) {
  EXPECT_EQ(ProblemName(VerifyProblem::kNone), "");
  EXPECT_EQ(ProblemName(VerifyProblem::kChanged), "changed");
  EXPECT_EQ(ProblemName(VerifyProblem::kMissing), "missing");
  EXPECT_EQ(ProblemName(VerifyProblem::kReordered), "reordered");
  EXPECT_EQ(ProblemName(VerifyProblem::kCheckpointKey), "checkpoint_key");
  EXPECT_EQ(ProblemName(VerifyProblem::kCheckpointSignature), "checkpoint_signature");
  EXPECT_EQ(ProblemName(VerifyProblem::kCheckpointMismatch), "checkpoint_mismatch");
  EXPECT_EQ(ProblemName(VerifyProblem::kTruncated), "truncated");
  EXPECT_EQ(ProblemName(VerifyProblem::kSavedHead), "saved_head_mismatch");
}

TEST_F(VerifyTest, VerifiesThroughAReadOnlyConnectionAndLeavesNoTransactionOpen) {
  AppendMany(10);
  ASSERT_OK(SignCheckpoint(db(), key(), clock_.Now()));
  sqlite::OpenOptions options;
  options.mode = sqlite::OpenMode::kReadOnly;
  auto reader = sqlite::Connection::Open(path(), options);
  ASSERT_OK(reader);
  auto report = Verify(*reader, key().public_key());
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, 10);
  EXPECT_EQ(report->checkpoints_checked, 1);
  EXPECT_FALSE(reader->InTransaction());
}

TEST_F(VerifyTest, VerifiesInsideTheCallersTransactionWithoutEndingIt) {
  AppendMany(3);
  Sql("BEGIN");
  ASSERT_OK(Append(db(), EventNumber(4), clock_.Now()));
  const VerifyReport report = VerifyLog();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 4) << "sees the uncommitted record of its own transaction";
  EXPECT_TRUE(db().InTransaction());
  Sql("ROLLBACK");
}

}  // namespace
}  // namespace outpost::server::audit
