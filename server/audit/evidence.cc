#include "server/audit/evidence.h"

#include <optional>
#include <string>

#include "common/crypto/encoding.h"
#include "common/text.h"
#include "common/time.h"
#include "server/audit/archive.h"
#include "server/audit/audit_log.h"
#include "server/audit/audit_proto.h"
#include "server/audit/chain.h"
#include "server/audit/record_row.h"
#include "server/store/meta.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kSelectCheckpoints =
    "SELECT seq, hash, time_ms, key_id, signature FROM audit_checkpoints ORDER BY seq";
constexpr std::string_view kSelectHash = "SELECT hash FROM audit_log WHERE seq = ?";

// The stored hash of record `seq`, or nullopt when there is no such record.
Result<std::optional<std::string>> RecordHash(sqlite::Connection& db, int64_t seq) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement row, db.Query(kSelectHash, seq));
  OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(row->ColumnBlob(0));
}

// The satellite id the database records ("" if none: a bare audit database).
Result<std::string> SatelliteId(sqlite::Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t has_meta,
                           db.QueryInt64("SELECT count(*) FROM sqlite_master WHERE name = ?",
                                         store::kSatelliteMeta.table()));
  if (has_meta == 0) return std::string();
  OUTPOST_ASSIGN_OR_RETURN(auto id, store::kSatelliteMeta.Get(db, store::kMetaSatelliteId));
  return id.value_or("");
}

// Why a signature by `key_id` over (seq, hash, time_ms) does not verify with `key`; "" if it does.
std::string SignatureProblem(const crypto::PublicKey& key, const std::string& key_id, int64_t seq,
                             const std::string& hash, int64_t time_ms,
                             const std::string& signature) {
  if (key_id != key.KeyId()) {
    return "signed by key " + key_id + ", not by the satellite key " + key.KeyId();
  }
  if (!key.Verify(kCheckpointDomain, CheckpointMessage(seq, hash, time_ms), signature).ok()) {
    return "the signature does not verify with the satellite key " + key.KeyId();
  }
  return "";
}

// Runs `body` inside a read transaction unless `db` is in one already, so every read comes from
// one snapshot.
template <typename Body>
auto InOneSnapshot(sqlite::Connection& db, Body&& body) -> decltype(body()) {
  const bool own = !db.InTransaction();
  if (own) OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto result = body();
  if (own) {
    db.ResetActiveStatements();
    (void)db.Exec("ROLLBACK");  // nothing was written; a failure here only ends the read
  }
  return result;
}

}  // namespace

Result<v1::AuditCheckpointList> ListCheckpoints(sqlite::Connection& db,
                                                const crypto::PublicKey& key) {
  return InOneSnapshot(db, [&]() -> Result<v1::AuditCheckpointList> {
    v1::AuditCheckpointList out;
    out.set_key_id(key.KeyId());
    out.set_key_fingerprint(key.Fingerprint());
    OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement rows, db.Query(kSelectCheckpoints));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool more, rows->Step());
      if (!more) break;
      const Checkpoint c = ReadCheckpoint(*rows);
      v1::AuditCheckpointInfo* info = out.add_checkpoints();
      info->set_seq(c.seq);
      info->set_hash(crypto::HexEncode(c.hash));
      info->set_time(FormatRfc3339Millis(c.time_ms));
      info->set_time_ms(c.time_ms);
      info->set_key_id(c.key_id);
      info->set_signature(crypto::HexEncode(c.signature));
      std::string problem = SignatureProblem(key, c.key_id, c.seq, c.hash, c.time_ms, c.signature);
      if (problem.empty()) {
        OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> hash, RecordHash(db, c.seq));
        if (!hash) {
          problem = "record " + std::to_string(c.seq) + " no longer exists (truncated)";
        } else if (*hash != c.hash) {
          problem = "record " + std::to_string(c.seq) + " now has another hash (changed)";
        }
      }
      info->set_verified(problem.empty());
      info->set_problem(problem);
    }
    return out;
  });
}

Result<v1::AuditCompareHeadsResponse> CompareHeads(sqlite::Connection& db,
                                                   const v1::CentralAuditHeadList& heads,
                                                   const crypto::PublicKey& key) {
  if (heads.heads_size() == 0) {
    return InvalidArgument(
        "central holds no audit heads for satellite " + heads.satellite_id() +
        ": nothing to compare (heads arrive with sync requests; sync first, then export them "
        "again with `outpost central audit-heads SATELLITE -o FILE`)");
  }
  return InOneSnapshot(db, [&]() -> Result<v1::AuditCompareHeadsResponse> {
    // Another satellite's heads would all "differ": say what is wrong instead.
    OUTPOST_ASSIGN_OR_RETURN(std::string local_id, SatelliteId(db));
    if (!local_id.empty() && local_id != heads.satellite_id()) {
      return InvalidArgument("these are the audit heads of satellite '" +
                             std::string(Utf8Prefix(heads.satellite_id(), 64)) +
                             "', but this is satellite " + local_id +
                             "; ask central for this satellite's heads");
    }
    v1::AuditCompareHeadsResponse out;
    out.set_satellite_id(heads.satellite_id());
    out.set_key_fingerprint(key.Fingerprint());
    OUTPOST_ASSIGN_OR_RETURN(Head local_head, CurrentHead(db));
    out.set_local_last_seq(local_head.seq);
    OUTPOST_ASSIGN_OR_RETURN(ArchivedHead archived, ReadArchivedHead(db));
    int64_t archived_heads = 0;
    for (const v1::CentralAuditHead& held : heads.heads()) {
      const v1::AuditCheckpoint& h = held.head();
      v1::AuditHeadComparison* c = out.add_heads();
      c->set_request_sequence(held.request_sequence());
      c->set_seq(h.seq());
      c->set_central_hash(h.hash());
      auto hash = crypto::HexDecode(h.hash());
      if (h.seq() < 1 || !hash.ok() || hash->size() != kHashSize) {
        c->set_result("malformed");
        c->set_problem("central's head has seq " + std::to_string(h.seq()) + " and hash '" +
                       std::string(Utf8Prefix(h.hash(), 80)) + "', not a record's seq and hash");
        continue;
      }
      OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> local, RecordHash(db, h.seq()));
      if (local) c->set_local_hash(crypto::HexEncode(*local));
      const std::string signature_problem =
          SignatureProblem(key, h.key_id(), h.seq(), *hash, h.time_ms(), h.signature());
      if (!local && h.seq() <= archived.last_seq &&
          (h.seq() != archived.last_seq || archived.hash == *hash)) {
        // Moved to a sealed segment (archive.h): `audit verify --archive` compares it there.
        c->set_result("archived");
        c->set_problem("record " + std::to_string(h.seq()) + " is archived (records 1 to " +
                       std::to_string(archived.last_seq) +
                       " are in sealed segments); `outpost audit verify --archive` checks them");
        ++archived_heads;
      } else if (!local) {
        c->set_result("missing");
        c->set_problem("central received record " + std::to_string(h.seq()) +
                       " as a head, but the local log ends at " + std::to_string(local_head.seq) +
                       ": records were removed");
      } else if (*local != *hash) {
        c->set_result("differs");
        c->set_problem("local record " + std::to_string(h.seq()) +
                       " has another hash than the one central received: it was rewritten");
      } else if (!signature_problem.empty()) {
        c->set_result("bad_signature");
        c->set_problem(signature_problem);
      } else {
        c->set_result("match");
        out.set_heads_matched(out.heads_matched() + 1);
      }
    }
    out.set_heads_compared(out.heads_size());
    // Archived heads are not evidence against the chain; at least one head must match unless
    // every one is archived.
    out.set_ok(out.heads_matched() + archived_heads == out.heads_compared());
    return out;
  });
}

}  // namespace outpost::server::audit
