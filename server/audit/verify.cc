#include "server/audit/verify.h"

#include <utility>

#include "common/crypto/encoding.h"
#include "common/time.h"
#include "server/audit/archive.h"
#include "server/audit/audit_proto.h"
#include "server/audit/chain.h"
#include "server/audit/checkpoint.h"
#include "server/audit/record_row.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kSelectRecords =
    "SELECT seq, time_ms, actor, action, object, details, prev_hash, hash FROM audit_log "
    "ORDER BY seq";
constexpr std::string_view kSelectCheckpoints =
    "SELECT seq, hash, time_ms, key_id, signature FROM audit_checkpoints ORDER BY seq";

std::string Hex(std::string_view bytes) { return crypto::HexEncode(bytes); }
std::string Seq(int64_t seq) { return "seq " + std::to_string(seq); }

// The walk's state: everything up to last_seq has verified.
class Walk {
 public:
  Walk(const crypto::PublicKey& key, const SavedHead* saved)
      : key_(key), key_id_(key.KeyId()), saved_(saved) {
    report_.key_fingerprint = key.Fingerprint();
    report_.head_hash = Hex(prev_hash_);
  }

  // Checks `record` (already checked) against the saved head, if it is the saved head's seq.
  bool CheckSaved(const Record& record) {
    if (saved_ == nullptr || record.seq != saved_->seq) return true;
    if (record.hash != saved_->hash) {
      return Fail(record.seq, VerifyProblem::kSavedHead,
                  "record " + Seq(record.seq) + " has hash " + Hex(record.hash) + ", but " +
                      saved_->source + " says " + Hex(saved_->hash) + ": the log up to " +
                      Seq(record.seq) +
                      " was rewritten after that head was saved (or the file is from another "
                      "satellite)");
    }
    report_.saved_head_seq = record.seq;
    return true;
  }

  // The walk ended at last_seq_ before the saved head's seq.
  void CheckSavedReached() {
    if (saved_ == nullptr || report_.problem_kind != VerifyProblem::kNone) return;
    if (saved_->seq <= last_seq_) return;
    Fail(last_seq_ + 1, VerifyProblem::kTruncated,
         "the log ends at " + Seq(last_seq_) + " but " + saved_->source + " holds " +
             Seq(saved_->seq) + ": records " + Seq(last_seq_ + 1) + " to " + Seq(saved_->seq) +
             " (at least) were removed after that head was saved");
  }

  // False (and the report names the problem) if `record` is bad.
  bool CheckRecord(const Record& record) {
    const int64_t expected = last_seq_ + 1;
    if (record.seq < 1) {
      return Fail(record.seq, VerifyProblem::kChanged,
                  "a record has " + Seq(record.seq) +
                      "; sequence numbers start at 1, so its seq was altered");
    }
    if (record.seq != expected) {
      const std::string gap = record.seq == expected + 1 ? "record " + Seq(expected) + " is missing"
                                                         : "records " + Seq(expected) + " to " +
                                                               Seq(record.seq - 1) + " are missing";
      const std::string where = last_seq_ == 0
                                    ? "the log starts at " + Seq(record.seq)
                                    : Seq(last_seq_) + " is followed by " + Seq(record.seq);
      return Fail(expected, VerifyProblem::kMissing,
                  gap + " (" + where + "): records were deleted");
    }
    const std::string computed = ComputeRecordHash(record);
    if (record.prev_hash != prev_hash_) {
      const std::string predecessor =
          last_seq_ == 0 ? "the genesis value (32 zero bytes)" : "the hash of " + Seq(last_seq_);
      return Fail(record.seq, VerifyProblem::kReordered,
                  "record " + Seq(record.seq) + " does not follow its predecessor: its prev_hash " +
                      Hex(record.prev_hash) + " is not " + predecessor + " " + Hex(prev_hash_) +
                      (computed == record.hash ? " (the record itself is intact)"
                                               : " and its own hash does not match its contents") +
                      ": records were reordered, or removed and renumbered, or " +
                      (last_seq_ == 0 ? std::string("its prev_hash was altered")
                                      : Seq(last_seq_) + " was altered and its hash recomputed"));
    }
    if (computed != record.hash) {
      return Fail(record.seq, VerifyProblem::kChanged,
                  "record " + Seq(record.seq) + " was changed: its stored hash is " +
                      Hex(record.hash) + " but its contents hash to " + Hex(computed));
    }
    return true;
  }

  // Checks a checkpoint whose seq the walk reached with `record` (already checked).
  bool CheckCheckpoint(const Checkpoint& checkpoint, const Record& record) {
    const std::string what = "the checkpoint at " + Seq(checkpoint.seq) + " (signed " +
                             FormatRfc3339Millis(checkpoint.time_ms) + ")";
    if (checkpoint.seq != record.seq) {
      return Fail(checkpoint.seq, VerifyProblem::kCheckpointMismatch,
                  what + " refers to no record; sequence numbers start at 1");
    }
    if (checkpoint.key_id != key_id_) {
      return Fail(checkpoint.seq, VerifyProblem::kCheckpointKey,
                  what + " names key " + checkpoint.key_id + ", not the verifying key " + key_id_ +
                      " (" + report_.key_fingerprint +
                      "); verify with the satellite key that signed it");
    }
    if (!key_.Verify(kCheckpointDomain,
                     CheckpointMessage(checkpoint.seq, checkpoint.hash, checkpoint.time_ms),
                     checkpoint.signature)
             .ok()) {
      return Fail(checkpoint.seq, VerifyProblem::kCheckpointSignature,
                  what + " has a signature that does not verify with key " + key_id_ +
                      ": the checkpoint was forged or altered");
    }
    if (checkpoint.hash != record.hash) {
      return Fail(checkpoint.seq, VerifyProblem::kCheckpointMismatch,
                  "record " + Seq(record.seq) + " does not match " + what + ": the checkpoint " +
                      "holds hash " + Hex(checkpoint.hash) + ", the record has " +
                      Hex(record.hash) + "; the log up to " + Seq(record.seq) +
                      " was rewritten after it was signed");
    }
    ++report_.checkpoints_checked;
    return true;
  }

  // Starts the walk after the archived records 1..head.seq, once their sealing checkpoint
  // verified (else the report names it).
  bool StartAfterArchived(const ArchivedHead& head) {
    Record sealed;
    sealed.seq = head.last_seq;
    sealed.hash = head.hash;
    if (!CheckCheckpoint(head.checkpoint, sealed)) return false;
    last_seq_ = head.last_seq;
    prev_hash_ = head.hash;
    report_.archived_seq = head.last_seq;
    report_.archived_hash = Hex(head.hash);
    return true;
  }

  void Accept(Record& record) {
    ++report_.records_checked;
    last_seq_ = record.seq;
    prev_hash_ = std::move(record.hash);
  }

  // The walk ended at last_seq_ with `checkpoint` still unchecked: it lies beyond the end.
  void FailTruncated(const Checkpoint& checkpoint) {
    Fail(last_seq_ + 1, VerifyProblem::kTruncated,
         "the log ends at " + Seq(last_seq_) + " but a checkpoint signed " +
             FormatRfc3339Millis(checkpoint.time_ms) + " covers " + Seq(checkpoint.seq) +
             ": records " + Seq(last_seq_ + 1) + " to " + Seq(checkpoint.seq) +
             " (at least) were removed");
  }

  VerifyReport Finish() && {
    report_.last_seq = last_seq_;
    report_.head_hash = Hex(prev_hash_);
    if (report_.problem_kind == VerifyProblem::kNone) report_.ok = true;
    return std::move(report_);
  }

 private:
  bool Fail(int64_t seq, VerifyProblem kind, std::string problem) {
    report_.first_bad_seq = seq;
    report_.problem_kind = kind;
    report_.problem = std::move(problem);
    return false;
  }

  const crypto::PublicKey& key_;
  const std::string key_id_;
  const SavedHead* saved_;  // may be null
  VerifyReport report_;
  int64_t last_seq_ = 0;
  std::string prev_hash_ = GenesisHash();
};

// Both tables are read with one statement each, stepped side by side (a merge on seq), so
// memory does not grow with the log.
Result<VerifyReport> VerifySnapshot(sqlite::Connection& db, const crypto::PublicKey& key,
                                    const SavedHead* saved) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement records, db.Query(kSelectRecords));
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement checkpoints, db.Query(kSelectCheckpoints));
  Walk walk(key, saved);
  OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
  if (archived.last_seq > 0 && !walk.StartAfterArchived(archived)) return std::move(walk).Finish();
  OUTPOST_ASSIGN_OR_RETURN(bool have_checkpoint, checkpoints->Step());
  Checkpoint checkpoint;
  if (have_checkpoint) checkpoint = ReadCheckpoint(*checkpoints);
  // Checkpoints of archived records are the archive's business.
  while (have_checkpoint && checkpoint.seq <= archived.last_seq) {
    OUTPOST_ASSIGN_OR_RETURN(have_checkpoint, checkpoints->Step());
    if (have_checkpoint) checkpoint = ReadCheckpoint(*checkpoints);
  }
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool have_record, records->Step());
    if (!have_record) break;
    Record record = ReadRecord(*records);
    if (record.seq <= archived.last_seq && record.seq >= 1) continue;  // removal interrupted
    if (!walk.CheckRecord(record) || !walk.CheckSaved(record)) return std::move(walk).Finish();
    while (have_checkpoint && checkpoint.seq <= record.seq) {
      if (!walk.CheckCheckpoint(checkpoint, record)) return std::move(walk).Finish();
      OUTPOST_ASSIGN_OR_RETURN(have_checkpoint, checkpoints->Step());
      if (have_checkpoint) checkpoint = ReadCheckpoint(*checkpoints);
    }
    walk.Accept(record);
  }
  if (have_checkpoint) walk.FailTruncated(checkpoint);
  walk.CheckSavedReached();
  return std::move(walk).Finish();
}

}  // namespace

std::string_view ProblemName(VerifyProblem problem) {
  switch (problem) {
    case VerifyProblem::kNone:
      return "";
    case VerifyProblem::kChanged:
      return "changed";
    case VerifyProblem::kMissing:
      return "missing";
    case VerifyProblem::kReordered:
      return "reordered";
    case VerifyProblem::kCheckpointKey:
      return "checkpoint_key";
    case VerifyProblem::kCheckpointSignature:
      return "checkpoint_signature";
    case VerifyProblem::kCheckpointMismatch:
      return "checkpoint_mismatch";
    case VerifyProblem::kTruncated:
      return "truncated";
    case VerifyProblem::kSavedHead:
      return "saved_head_mismatch";
    case VerifyProblem::kArchive:
      return "archive";
  }
  return "unknown";
}

Result<VerifyReport> Verify(sqlite::Connection& db, const crypto::PublicKey& key,
                            const SavedHead* saved) {
  // A read transaction of our own pins one snapshot for both tables; inside the caller's
  // transaction the snapshot is already pinned.
  const bool own_transaction = !db.InTransaction();
  if (own_transaction) {
    OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN").WithContext("verifying the audit log"));
  }
  Result<VerifyReport> report = VerifySnapshot(db, key, saved);
  if (own_transaction) {
    db.ResetActiveStatements();
    (void)db.Exec("ROLLBACK");  // nothing was written; a failure here only ends the read
  }
  return report;
}

}  // namespace outpost::server::audit
