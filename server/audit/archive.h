#pragma once

// Sealed segments: moving the oldest audit records out of the database into archive files
// (archive_file.h) without breaking the chain. docs/operations.md, "Audit archives and retention".
//
// Archiving a segment is three steps, each safe to repeat:
//   1. SealSegment (a writer unit): choose the records before a time, after the last archived
//      one, and sign a checkpoint of the segment's last record (the checkpoint that closes it).
//   2. Write the file (ArchiveWriter), with records read on a reader connection
//      (ReadSegmentRecords, which re-checks every hash and checkpoint as it goes, so a segment
//      altered in the database is refused rather than sealed into an archive).
//   3. Once the file is durable, CommitSegment records the segment as archived (table
//      audit_archived: the "archived head", from which the chain continues), appends an
//      audit.archived record to the live chain, and then removes the records in bounded batches.
// A crash before 3 leaves every record in the database (and the sealing checkpoint, which a
// re-run reuses, so it seals the same segment again); a crash during 3 leaves records the
// archived head already covers, which Verify skips and the next commit or RemoveArchivedRecords
// removes.
//
// Thread-safety: functions taking a Connection use it from the calling thread only; those taking
// a Writer may be called from any thread except the writer's.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "outpost/v1/audit.pb.h"
#include "server/audit/archive_file.h"
#include "server/audit/audit_log.h"
#include "server/audit/checkpoint.h"
#include "server/audit/verify.h"

namespace outpost::server::audit {

// What the database keeps of the segments archived so far.
struct ArchivedHead {
  int64_t first_seq = 0;  // first record of the oldest segment archived
  int64_t last_seq = 0;   // 0: nothing archived; the chain continues at last_seq + 1
  std::string hash;       // raw hash of record last_seq (genesis when nothing is archived)
  int64_t segments = 0;
  Checkpoint checkpoint;  // the signed checkpoint that closed the newest segment
};

// From table audit_archived; nothing archived also for a database older than that table.
Result<ArchivedHead> ReadArchivedHead(sqlite::Connection& db);

// Step 1, inside a writer unit: the records with time before `before` that follow the archived
// head, up to (not including) the first record at or after `before`, and the signed checkpoint of
// the last of them (signed now with `key` unless one exists at that seq). A header with
// last_seq 0 means there is nothing to archive. Errors: kDataLoss when the chain does not
// continue from the archived head (run `outpost audit verify`); signing or SQLite errors.
Result<v1::AuditArchiveSegment> SealSegment(sqlite::Connection& db, const crypto::PrivateKey& key,
                                            std::string_view satellite_id, TimePoint before,
                                            TimePoint now);

// Step 2: the records with after_seq < seq <= through_seq, at most `limit` of them, in seq
// order, each checked against its predecessor (the record after_seq, or the archived head) and
// every checkpoint among them checked with `key`. Errors: kDataLoss naming the first record that
// does not verify; kNotFound if record after_seq is gone.
Status ReadSegmentRecords(sqlite::Connection& db, const crypto::PublicKey& key, int64_t after_seq,
                          int64_t through_seq, int64_t limit,
                          const std::function<Status(const v1::AuditArchiveRecord&)>& visit);

// Step 2 for a server-side caller: writes the whole segment to `path` (ArchiveWriter), a page
// at a time from `readers`. Returns the file's size in bytes.
Result<uint64_t> WriteSegmentFile(sqlite::ReaderPool& readers, const crypto::PublicKey& key,
                                  const v1::AuditArchiveSegment& segment,
                                  const std::filesystem::path& path);

// Records read per page when writing a segment, and removed per writer unit when committing it
// (each a short transaction, so renewals keep committing in between).
inline constexpr int64_t kArchiveBatchRecords = 5000;

// Step 3: `segment` (as SealSegment returned it) is in a durable file named `file_name`. Records
// it as archived and appends audit.archived by `actor`, in one transaction, then removes the
// segment's records and checkpoints in batches of kArchiveBatchRecords. Committing a segment
// already committed only finishes removing its records. Errors (nothing recorded):
// kFailedPrecondition when the segment does not follow the archived head or its last record
// no longer has the sealed hash; kInvalidArgument when its checkpoint does not verify with `key`.
Result<v1::AuditArchiveCommitResponse> CommitSegment(sqlite::Writer& writer,
                                                     const crypto::PublicKey& key,
                                                     const v1::AuditArchiveSegment& segment,
                                                     const Actor& actor, const Clock& clock);

// Removes records (and checkpoints) the archived head already covers, in batches; the number
// removed. Used by CommitSegment and after an interrupted commit.
Result<int64_t> RemoveArchivedRecords(sqlite::Writer& writer);

// The satellite id satellite_meta records ("" for a bare audit database).
Result<std::string> StoredSatelliteId(sqlite::Connection& db);

// Folds the verification of archive files into the database's report (ToProto of Verify's, or
// the satellite's answer): the archives must reach the database's archived head with the same
// hash there (else "archive", or "missing" when records the database says are archived are in
// none of the files). A problem of the archives comes first, then the database's own.
void CombineWithArchives(v1::AuditVerifyResponse& report, const ArchiveChainReport& archives);

// What the database's verification must also check when the archives reach beyond its archived
// head (archived but not yet removed): that the database still holds their last record, with
// the same hash. Null when there is nothing to check.
std::optional<SavedHead> ArchivesEnd(const ArchiveChainReport& archives);

}  // namespace outpost::server::audit
