#include "server/audit/archive.h"

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "common/crypto/encoding.h"
#include "common/time.h"
#include "server/audit/chain.h"
#include "server/audit/record_row.h"
#include "server/store/meta.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kSelectArchivedHead =
    "SELECT last_seq, hash, checkpoint_time_ms, key_id, signature, "
    "(SELECT min(first_seq) FROM audit_archived), (SELECT count(*) FROM audit_archived) "
    "FROM audit_archived ORDER BY last_seq DESC LIMIT 1";
constexpr std::string_view kSelectArchivedSegment =
    "SELECT hash FROM audit_archived WHERE last_seq = ?";
constexpr std::string_view kInsertArchived =
    "INSERT INTO audit_archived (last_seq, first_seq, hash, checkpoint_time_ms, key_id, "
    "signature, file_name, archived_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
constexpr std::string_view kSelectFirstAfter =
    "SELECT seq, time_ms FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1";
// '+' keeps the planner on the primary key: walking seq from the archived head touches only the
// records about to be archived, where the time index would visit every newer record.
constexpr std::string_view kSelectFirstAtOrAfterTime =
    "SELECT seq FROM audit_log WHERE seq > ? AND +time_ms >= ? ORDER BY seq LIMIT 1";
constexpr std::string_view kSelectRecordHash = "SELECT hash, time_ms FROM audit_log WHERE seq = ?";
constexpr std::string_view kSelectCheckpointAt =
    "SELECT seq, hash, time_ms, key_id, signature FROM audit_checkpoints WHERE seq = ?";
constexpr std::string_view kInsertCheckpoint =
    "INSERT INTO audit_checkpoints (seq, hash, time_ms, key_id, signature) VALUES (?, ?, ?, ?, ?)";
constexpr std::string_view kSelectRecords =
    "SELECT seq, time_ms, actor, action, object, details, prev_hash, hash FROM audit_log "
    "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?";
constexpr std::string_view kSelectCheckpointsIn =
    "SELECT seq, hash, time_ms, key_id, signature FROM audit_checkpoints "
    "WHERE seq > ? AND seq <= ? ORDER BY seq";
constexpr std::string_view kDeleteRecords =
    "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= ? ORDER BY seq "
    "LIMIT ?)";
constexpr std::string_view kDeleteCheckpoints = "DELETE FROM audit_checkpoints WHERE seq <= ?";

std::string Seq(int64_t seq) { return "seq " + std::to_string(seq); }

Result<bool> HasArchiveTable(sqlite::Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t n,
      db.QueryInt64("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                    std::string("audit_archived")));
  return n != 0;
}

v1::AuditArchiveSeal ToSeal(const Checkpoint& c) {
  v1::AuditArchiveSeal seal;
  seal.set_seq(c.seq);
  seal.set_hash(c.hash);
  seal.set_time_ms(c.time_ms);
  seal.set_key_id(c.key_id);
  seal.set_signature(c.signature);
  return seal;
}

Status CheckSeal(const crypto::PublicKey& key, const v1::AuditArchiveSeal& c) {
  if (c.key_id() != key.KeyId() ||
      !key.Verify(kCheckpointDomain, CheckpointMessage(c.seq(), c.hash(), c.time_ms()),
                  c.signature())
           .ok()) {
    return InvalidArgument("the checkpoint closing the segment (" + Seq(c.seq()) +
                           ") does not verify with the satellite key " + key.KeyId() +
                           ": seal the segment again with `outpost audit archive`");
  }
  return Status::Ok();
}

// The checkpoint of record `seq` (signing one now if there is none), so that a re-run seals the
// same segment with the same checkpoint.
Result<Checkpoint> CheckpointAt(sqlite::Connection& db, const crypto::PrivateKey& key, int64_t seq,
                                const std::string& hash, TimePoint now) {
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row, db.Query(kSelectCheckpointAt, seq));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (found) {
      Checkpoint existing = ReadCheckpoint(*row);
      if (existing.hash == hash && existing.key_id == key.public_key().KeyId()) return existing;
      return DataLoss("the signed checkpoint at " + Seq(seq) +
                      " does not match the record (or another key signed it): run `outpost "
                      "audit verify` before archiving");
    }
  }
  Checkpoint c;
  c.seq = seq;
  c.hash = hash;
  c.time_ms = ToUnixMillis(now);
  c.key_id = key.public_key().KeyId();
  OUTPOST_ASSIGN_OR_RETURN(c.signature,
                           key.Sign(kCheckpointDomain, CheckpointMessage(seq, hash, c.time_ms)));
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(kInsertCheckpoint, c.seq, sqlite::Blob{c.hash}, c.time_ms,
                                          c.key_id, sqlite::Blob{c.signature})
                              .status());
  return c;
}

}  // namespace

Result<ArchivedHead> ReadArchivedHead(sqlite::Connection& db) {
  ArchivedHead head;
  head.hash = GenesisHash();
  OUTPOST_ASSIGN_OR_RETURN(bool has_table, HasArchiveTable(db));
  if (!has_table) return head;
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row, db.Query(kSelectArchivedHead));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return head;
  head.last_seq = row->ColumnInt64(0);
  head.hash = row->ColumnBlob(1);
  head.checkpoint.seq = head.last_seq;
  head.checkpoint.hash = head.hash;
  head.checkpoint.time_ms = row->ColumnInt64(2);
  head.checkpoint.key_id = row->ColumnText(3);
  head.checkpoint.signature = row->ColumnBlob(4);
  head.first_seq = row->ColumnInt64(5);
  head.segments = row->ColumnInt64(6);
  return head;
}

Result<std::string> StoredSatelliteId(sqlite::Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t has_meta,
                           db.QueryInt64("SELECT count(*) FROM sqlite_master WHERE name = ?",
                                         store::kSatelliteMeta.table()));
  if (has_meta == 0) return std::string();
  OUTPOST_ASSIGN_OR_RETURN(auto id, store::kSatelliteMeta.Get(db, store::kMetaSatelliteId));
  return id.value_or("");
}

Result<v1::AuditArchiveSegment> SealSegment(sqlite::Connection& db, const crypto::PrivateKey& key,
                                            std::string_view satellite_id, TimePoint before,
                                            TimePoint now) {
  OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
  v1::AuditArchiveSegment segment;
  v1::AuditArchiveHeader& header = *segment.mutable_header();
  header.set_format(std::string(kArchiveFormat));
  header.set_satellite_id(std::string(satellite_id));
  header.set_created_at_ms(ToUnixMillis(now));
  const int64_t before_ms = ToUnixMillis(before);
  int64_t first = 0;
  int64_t first_time = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                             db.Query(kSelectFirstAfter, archived.last_seq));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (!found) return segment;  // nothing after the archived head
    first = row->ColumnInt64(0);
    first_time = row->ColumnInt64(1);
  }
  if (first != archived.last_seq + 1) {
    return DataLoss("the audit trail does not continue from " +
                    (archived.last_seq == 0 ? std::string("its start")
                                            : "the archived " + Seq(archived.last_seq)) +
                    ": the next record is " + Seq(first) +
                    "; nothing was archived (run `outpost audit verify`)");
  }
  if (first_time >= before_ms) return segment;
  int64_t last = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                             db.Query(kSelectFirstAtOrAfterTime, first, before_ms));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (found) {
      last = row->ColumnInt64(0) - 1;
    } else {
      OUTPOST_ASSIGN_OR_RETURN(Head head, CurrentHead(db));
      last = head.seq;
    }
  }
  std::string last_hash;
  int64_t last_time = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row, db.Query(kSelectRecordHash, last));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (!found) return DataLoss("audit record " + Seq(last) + " vanished while sealing");
    last_hash = row->ColumnBlob(0);
    last_time = row->ColumnInt64(1);
  }
  OUTPOST_ASSIGN_OR_RETURN(Checkpoint checkpoint, CheckpointAt(db, key, last, last_hash, now));
  header.set_first_seq(first);
  header.set_last_seq(last);
  header.set_prev_hash(archived.hash);
  header.set_first_time_ms(first_time);
  header.set_last_time_ms(last_time);
  *segment.mutable_checkpoint() = ToSeal(checkpoint);
  return segment;
}

Status ReadSegmentRecords(sqlite::Connection& db, const crypto::PublicKey& key, int64_t after_seq,
                          int64_t through_seq, int64_t limit,
                          const std::function<Status(const v1::AuditArchiveRecord&)>& visit) {
  const bool own = !db.InTransaction();
  if (own) OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto body = [&]() -> Status {
    std::string prev_hash = GenesisHash();
    if (after_seq > 0) {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row, db.Query(kSelectRecordHash, after_seq));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (found) {
        prev_hash = row->ColumnBlob(0);
      } else {
        OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
        if (archived.last_seq != after_seq) {
          return NotFound("audit record " + Seq(after_seq) +
                          " is no longer in the database; seal the segment again");
        }
        prev_hash = archived.hash;
      }
    }
    // Checkpoints inside the page, checked as the walk reaches them.
    std::vector<Checkpoint> checkpoints;
    {
      const int64_t page_end = std::min(through_seq, after_seq + limit);
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows,
                               db.Query(kSelectCheckpointsIn, after_seq, page_end));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
        if (!more) break;
        checkpoints.push_back(ReadCheckpoint(*rows));
      }
    }
    size_t next_checkpoint = 0;
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows,
                             db.Query(kSelectRecords, after_seq, through_seq, limit));
    int64_t expected = after_seq + 1;
    v1::AuditArchiveRecord out;
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
      if (!more) break;
      const Record record = ReadRecord(*rows);
      if (record.seq != expected) {
        return DataLoss("audit record " + Seq(expected) +
                        " is missing from the database; nothing was archived (run `outpost "
                        "audit verify`)");
      }
      if (record.prev_hash != prev_hash || ComputeRecordHash(record) != record.hash) {
        return DataLoss("audit record " + Seq(record.seq) +
                        " does not verify (changed or reordered); it is not sealed into an "
                        "archive: run `outpost audit verify`");
      }
      while (next_checkpoint < checkpoints.size() &&
             checkpoints[next_checkpoint].seq == record.seq) {
        const Checkpoint& c = checkpoints[next_checkpoint++];
        if (c.hash != record.hash || c.key_id != key.KeyId() ||
            !key.Verify(kCheckpointDomain, CheckpointMessage(c.seq, c.hash, c.time_ms), c.signature)
                 .ok()) {
          return DataLoss("the signed checkpoint at " + Seq(c.seq) +
                          " does not verify with the record; nothing was archived (run "
                          "`outpost audit verify`)");
        }
      }
      out.set_seq(record.seq);
      out.set_time_ms(record.time_ms);
      out.set_actor(record.actor);
      out.set_action(record.action);
      out.set_object(record.object);
      out.set_details(record.details);
      out.set_hash(record.hash);
      OUTPOST_RETURN_IF_ERROR(visit(out));
      prev_hash = record.hash;
      ++expected;
    }
    return Status::Ok();
  };
  Status s = body();
  if (own) {
    db.ResetActiveStatements();
    (void)db.Exec("ROLLBACK");  // read only
  }
  return s;
}

Result<uint64_t> WriteSegmentFile(sqlite::ReaderPool& readers, const crypto::PublicKey& key,
                                  const v1::AuditArchiveSegment& segment,
                                  const std::filesystem::path& path) {
  const v1::AuditArchiveHeader& header = segment.header();
  if (header.last_seq() < header.first_seq() || header.first_seq() < 1) {
    return InvalidArgument("there is no segment to write");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveWriter> writer,
                           ArchiveWriter::Create(path, header));
  int64_t after = header.first_seq() - 1;
  while (after < header.last_seq()) {
    int64_t read = 0;
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ReaderPool::Lease lease, readers.Acquire());
    OUTPOST_RETURN_IF_ERROR(ReadSegmentRecords(*lease, key, after, header.last_seq(),
                                               kArchiveBatchRecords,
                                               [&](const v1::AuditArchiveRecord& r) {
                                                 ++read;
                                                 after = r.seq();
                                                 return writer->Add(r);
                                               }));
    if (read == 0) {
      return DataLoss("audit records after " + Seq(after) + " vanished while archiving");
    }
  }
  OUTPOST_RETURN_IF_ERROR(writer->Finish(segment.checkpoint()));
  return writer->bytes();
}

Result<int64_t> RemoveArchivedRecords(sqlite::Writer& writer) {
  int64_t removed = 0;
  while (true) {
    int changed = 0;
    OUTPOST_RETURN_IF_ERROR(writer.Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
      if (archived.last_seq == 0) return Status::Ok();
      OUTPOST_ASSIGN_OR_RETURN(
          changed, db.ExecPrepared(kDeleteRecords, archived.last_seq, kArchiveBatchRecords));
      if (changed == 0) {
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(kDeleteCheckpoints, archived.last_seq).status());
      }
      return Status::Ok();
    }));
    removed += changed;
    if (changed == 0) return removed;
  }
}

Result<v1::AuditArchiveCommitResponse> CommitSegment(sqlite::Writer& writer,
                                                     const crypto::PublicKey& key,
                                                     const v1::AuditArchiveSegment& segment,
                                                     const Actor& actor, const Clock& clock) {
  const v1::AuditArchiveHeader& header = segment.header();
  const v1::AuditArchiveSeal& seal = segment.checkpoint();
  if (header.first_seq() < 1 || header.last_seq() < header.first_seq() ||
      seal.seq() != header.last_seq() || seal.hash().size() != kHashSize ||
      header.prev_hash().size() != kHashSize) {
    return InvalidArgument("the segment to commit is malformed (records " +
                           std::to_string(header.first_seq()) + " to " +
                           std::to_string(header.last_seq()) + ", checkpoint at " +
                           std::to_string(seal.seq()) + "); seal it with `outpost audit archive`");
  }
  OUTPOST_RETURN_IF_ERROR(CheckSeal(key, seal));
  if (segment.file_name().size() > 4096) {
    return InvalidArgument("the archive's file name is longer than 4096 bytes");
  }
  v1::AuditArchiveCommitResponse out;
  out.set_first_seq(header.first_seq());
  out.set_last_seq(header.last_seq());
  OUTPOST_RETURN_IF_ERROR(writer.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
    if (header.last_seq() <= archived.last_seq) {
      // Committed before (a re-run after a crash during the removal): only finish removing.
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                               db.Query(kSelectArchivedSegment, header.last_seq()));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (found && row->ColumnBlob(0) == seal.hash()) return Status::Ok();
      return FailedPrecondition("records up to " + Seq(archived.last_seq) +
                                " are already archived, and this segment (" +
                                Seq(header.first_seq()) + " to " + Seq(header.last_seq()) +
                                ") is not one of those archives; seal a new segment");
    }
    if (header.first_seq() != archived.last_seq + 1 || header.prev_hash() != archived.hash) {
      return FailedPrecondition("the segment starts at " + Seq(header.first_seq()) +
                                " but the chain continues after the archived " +
                                Seq(archived.last_seq) +
                                " (another archive was committed meanwhile); seal it again");
    }
    {
      OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row,
                               db.Query(kSelectRecordHash, header.last_seq()));
      OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
      if (!found || row->ColumnBlob(0) != seal.hash()) {
        return FailedPrecondition("audit record " + Seq(header.last_seq()) +
                                  (found ? " no longer has the hash the segment's checkpoint signs"
                                         : " is not in the database") +
                                  "; nothing was removed (run `outpost audit verify`)");
      }
    }
    const TimePoint now = clock.Now();
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(kInsertArchived, header.last_seq(), header.first_seq(),
                                            sqlite::Blob{seal.hash()}, seal.time_ms(),
                                            seal.key_id(), sqlite::Blob{seal.signature()},
                                            segment.file_name(), ToUnixMillis(now))
                                .status());
    boost::json::object details{
        {"first_seq", header.first_seq()},
        {"last_seq", header.last_seq()},
        {"records", header.last_seq() - header.first_seq() + 1},
        {"hash", crypto::HexEncode(seal.hash())},
        {"checkpoint_time", FormatRfc3339Millis(seal.time_ms())},
        {"file", segment.file_name()},
    };
    return Append(
        db,
        {actor, "audit.archived",
         "audit:" + std::to_string(header.first_seq()) + "-" + std::to_string(header.last_seq()),
         boost::json::serialize(details)},
        now);
  }));
  OUTPOST_ASSIGN_OR_RETURN(int64_t removed, RemoveArchivedRecords(writer));
  out.set_records_removed(removed);
  return out;
}

void CombineWithArchives(v1::AuditVerifyResponse& report, const ArchiveChainReport& archives) {
  report.set_archive_files_checked(archives.files);
  report.set_archive_records_checked(archives.records);
  auto fail = [&](VerifyProblem kind, int64_t seq, std::string problem, std::string file) {
    report.set_ok(false);
    report.set_problem_kind(std::string(ProblemName(kind)));
    report.set_first_bad_seq(seq);
    report.set_problem(std::move(problem));
    report.set_problem_file(std::move(file));
  };
  if (!archives.ok) {
    fail(archives.problem_kind, archives.first_bad_seq, archives.problem, archives.problem_file);
    return;
  }
  if (!report.ok()) return;  // the database's own problem
  const int64_t archived = report.archived_seq();
  if (archives.last_seq < archived) {
    fail(VerifyProblem::kMissing, archives.last_seq + 1,
         "records " + std::to_string(archives.last_seq + 1) + " to " + std::to_string(archived) +
             " were archived (the database continues after " + Seq(archived) +
             ") but are in none of the archives given: an archive is missing",
         "");
    return;
  }
  if (archived == 0) return;
  std::optional<std::string> hash = archives.probe_hash;
  if (auto end = archives.segment_ends.find(archived);
      !hash && end != archives.segment_ends.end()) {
    hash = end->second;
  }
  const std::string have = hash ? crypto::HexEncode(*hash) : "";
  if (have != report.archived_hash()) {
    fail(VerifyProblem::kArchive, archived,
         "the database continues after the archived " + Seq(archived) + " with hash " +
             report.archived_hash() + ", but the archives " +
             (have.empty() ? std::string("end no segment there") : "hold hash " + have + " there") +
             ": they are not this database's archives (or not all of them)",
         "");
  }
}

std::optional<SavedHead> ArchivesEnd(const ArchiveChainReport& archives) {
  if (!archives.ok || archives.last_seq == 0) return std::nullopt;
  return SavedHead{
      archives.last_seq, archives.last_hash,
      "the last archive (which ends at seq " + std::to_string(archives.last_seq) + ")"};
}

}  // namespace outpost::server::audit
