#pragma once

// Verification of the audit trail: recomputes the hash chain (chain.h) and checks the signed
// checkpoints, as `outpost audit verify` does on a running satellite or on a database file.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::server::audit {

// What is wrong, by kind. ProblemName() gives the stable machine-readable name.
enum class VerifyProblem {
  kNone,
  kChanged,              // a record's stored hash does not match its contents ("changed")
  kMissing,              // a gap in seq: records were deleted ("missing")
  kReordered,            // a record does not follow its predecessor ("reordered")
  kCheckpointKey,        // a checkpoint was signed by another key ("checkpoint_key")
  kCheckpointSignature,  // a checkpoint's signature does not verify ("checkpoint_signature")
  kCheckpointMismatch,   // a signed checkpoint disagrees with the record ("checkpoint_mismatch")
  kTruncated,            // records after a signed checkpoint or a saved head are gone ("truncated")
  kSavedHead,  // the record at a saved head's seq has another hash ("saved_head_mismatch")
  kArchive,    // an archive file is unreadable, foreign or overlapping, or the database's archived
               // head is not where the archives end ("archive")
};

std::string_view ProblemName(VerifyProblem problem);

// The outcome of Verify. When ok is false the log has been altered (or damaged), and
// first_bad_seq / problem name the first problem in seq order; a caller such as the CLI must
// treat that as a failure (exit status 1).
struct VerifyReport {
  bool ok = false;
  int64_t records_checked = 0;      // records whose hash and link verified
  int64_t checkpoints_checked = 0;  // checkpoints whose signature and hash verified
  int64_t last_seq = 0;             // highest seq that verified (0: none)
  std::string head_hash;            // lowercase hex hash of last_seq (genesis hash if none)
  int64_t first_bad_seq = 0;        // 0 when ok
  VerifyProblem problem_kind = VerifyProblem::kNone;
  std::string problem;          // for a human: what is wrong at first_bad_seq; empty when ok
  std::string key_fingerprint;  // of the key checkpoints were verified with
  int64_t saved_head_seq = 0;   // the saved head the chain was found to extend; 0: none checked
  // Records 1..archived_seq were archived (archive.h); the walk began after them, from
  // archived_hash (lowercase hex), whose sealing checkpoint verified. 0: nothing archived.
  int64_t archived_seq = 0;
  std::string archived_hash;
  int64_t archive_files_checked = 0;  // with archive files (CombineWithArchives)
  int64_t archive_records_checked = 0;
  std::string problem_file;  // the archive file the problem is in; "" for the database
};

// A head saved outside the satellite, e.g. an auditor's copy of `outpost audit head --json`:
// the chain must still hold record `seq` with this hash. Checked by Verify when given.
struct SavedHead {
  int64_t seq = 0;     // at least 1
  std::string hash;    // raw 32 bytes
  std::string source;  // for messages: "the saved head in FILE"
};

// Walks audit_log and audit_checkpoints in seq order, in constant memory, on `db` (a reader
// connection, a read-only connection to a stopped satellite's file, or the writer's inside a
// unit of work). Outside a transaction it opens a read transaction so both tables come from
// one snapshot. Checks, per record: seq is the previous seq + 1 (else kMissing, or kChanged for
// a seq below 1); prev_hash equals the previous record's hash (else kReordered); the stored
// hash equals the recomputed one (else kChanged). Per checkpoint, when the walk reaches its
// seq: signed by `key` (else kCheckpointKey), signature valid (else kCheckpointSignature), hash
// equal to the record's (else kCheckpointMismatch). A checkpoint beyond the last record is
// kTruncated. Stops at the first problem.
//
// With `saved`, also: record saved->seq exists (else kTruncated) and has saved->hash (else
// kSavedHead); report.saved_head_seq then says the chain extends it.
//
// Limits: removing records after the newest checkpoint (and after `saved`), or replacing the
// whole log by an empty one with no checkpoints, cannot be detected locally; compare the head
// with the heads central received (sync requests carry them). All checkpoints must be signed by
// `key`.
//
// Archived records (archive.h): when the database has an archived head at seq N, the walk
// checks the signed checkpoint that sealed it, then starts at N + 1 from its hash; records and
// checkpoints at or below N still present (an interrupted removal) are skipped.
//
// Errors (a Status, not a report) only when the database cannot be read.
Result<VerifyReport> Verify(sqlite::Connection& db, const crypto::PublicKey& key,
                            const SavedHead* saved = nullptr);

}  // namespace outpost::server::audit
