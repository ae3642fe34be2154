#include "server/audit/audit_log.h"

#include <limits>
#include <string_view>

#include "server/audit/archive.h"
#include "server/audit/chain.h"
#include "server/audit/head_cache.h"
#include "server/audit/utf8.h"

namespace outpost::server::audit {
namespace {

// seq is the INTEGER PRIMARY KEY (the rowid), so this is one B-tree descent, not a scan.
constexpr std::string_view kSelectHead =
    "SELECT seq, hash, time_ms FROM audit_log ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kInsertRecord =
    "INSERT INTO audit_log (seq, time_ms, actor, action, object, details, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

Status CheckField(std::string_view name, std::string_view value) {
  if (value.size() > kMaxFieldBytes) {
    return InvalidArgument("audit " + std::string(name) + " is " + std::to_string(value.size()) +
                           " bytes; at most " + std::to_string(kMaxFieldBytes) +
                           " are allowed (record less detail)");
  }
  if (!IsValidUtf8(value)) {
    return InvalidArgument("audit " + std::string(name) +
                           " is not valid UTF-8; audit records must be text (escape or "
                           "hex-encode binary values before recording them)");
  }
  return Status::Ok();
}

// Fills record.seq and record.prev_hash from the head as `db` sees it.
Status HeadForAppend(sqlite::Connection& db, Record& record) {
  OUTPOST_ASSIGN_OR_RETURN(Head head, CurrentHead(db));
  if (head.hash.size() != kHashSize) {
    // Chaining onto a malformed hash would bury the damage under a record that verifies.
    return DataLoss("the last audit record (seq " + std::to_string(head.seq) + ") in " +
                    db.path().string() + " has a " + std::to_string(head.hash.size()) +
                    "-byte hash instead of " + std::to_string(kHashSize) +
                    "; the audit log is damaged: run `outpost audit verify`");
  }
  if (head.seq == std::numeric_limits<int64_t>::max()) {
    return DataLoss("the last audit record in " + db.path().string() +
                    " has the largest possible seq; the audit log is damaged: run `outpost "
                    "audit verify`");
  }
  record.seq = head.seq + 1;
  record.prev_hash = std::move(head.hash);
  return Status::Ok();
}

}  // namespace

Status Append(sqlite::Connection& db, const AuditEvent& event, TimePoint now) {
  if (event.actor.kind.empty()) return InvalidArgument("audit event has no actor kind");
  if (event.action.empty()) return InvalidArgument("audit event has no action");
  Record record;
  record.time_ms = ToUnixMillis(now);
  record.actor = event.actor.ToString();
  record.action = event.action;
  record.object = event.object;
  record.details = event.details;
  OUTPOST_RETURN_IF_ERROR(CheckField("actor", record.actor));
  OUTPOST_RETURN_IF_ERROR(CheckField("action", record.action));
  OUTPOST_RETURN_IF_ERROR(CheckField("object", record.object));
  OUTPOST_RETURN_IF_ERROR(CheckField("details", record.details));

  HeadCache* cache = HeadCache::For(db);
  int64_t cached_seq = 0;
  if (cache != nullptr && cache->Get(cached_seq, record.prev_hash) &&
      cached_seq < std::numeric_limits<int64_t>::max()) {
    record.seq = cached_seq + 1;
  } else {
    OUTPOST_RETURN_IF_ERROR(HeadForAppend(db, record));
  }
  record.hash = ComputeRecordHash(record);
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(kInsertRecord, record.seq, record.time_ms, record.actor,
                                          record.action, record.object, record.details,
                                          sqlite::Blob{record.prev_hash}, sqlite::Blob{record.hash})
                              .status());
  if (cache != nullptr) cache->Advance(record.seq, record.hash);
  return Status::Ok();
}

Result<Head> CurrentHead(sqlite::Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement statement, db.Query(kSelectHead));
  OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
  Head head;
  if (!row) {
    // Every record archived (archive.h): the chain continues from the archived head.
    OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
    head.seq = archived.last_seq;
    head.hash = std::move(archived.hash);
    head.time_ms = archived.checkpoint.time_ms;
    return head;
  }
  head.seq = statement->ColumnInt64(0);
  head.hash = statement->ColumnBlob(1);
  head.time_ms = statement->ColumnInt64(2);
  return head;
}

}  // namespace outpost::server::audit
