#include "server/audit/checkpoint.h"

#include <string_view>

#include "server/audit/audit_log.h"
#include "server/audit/chain.h"
#include "server/audit/record_row.h"

namespace outpost::server::audit {
namespace {

constexpr std::string_view kCheckpointExists =
    "SELECT count(*) FROM audit_checkpoints WHERE seq = ?";
constexpr std::string_view kInsertCheckpoint =
    "INSERT INTO audit_checkpoints (seq, hash, time_ms, key_id, signature) VALUES (?, ?, ?, ?, ?)";
constexpr std::string_view kSelectLatest =
    "SELECT seq, hash, time_ms, key_id, signature FROM audit_checkpoints "
    "ORDER BY seq DESC LIMIT 1";

}  // namespace

Status SignCheckpoint(sqlite::Connection& db, const crypto::PrivateKey& key, TimePoint now) {
  OUTPOST_ASSIGN_OR_RETURN(Head head, CurrentHead(db));
  if (head.seq == 0) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(int64_t existing, db.QueryInt64(kCheckpointExists, head.seq));
  if (existing != 0) return Status::Ok();
  const int64_t time_ms = ToUnixMillis(now);
  auto signature = key.Sign(kCheckpointDomain, CheckpointMessage(head.seq, head.hash, time_ms));
  if (!signature.ok()) {
    return signature.status().WithContext("signing the audit checkpoint at seq " +
                                          std::to_string(head.seq));
  }
  return db
      .ExecPrepared(kInsertCheckpoint, head.seq, sqlite::Blob{head.hash}, time_ms,
                    key.public_key().KeyId(), sqlite::Blob{*signature})
      .status();
}

Result<std::optional<Checkpoint>> LatestCheckpoint(sqlite::Connection& db) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::ScopedStatement statement, db.Query(kSelectLatest));
  OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
  if (!row) return std::optional<Checkpoint>();
  return std::optional<Checkpoint>(ReadCheckpoint(*statement));
}

}  // namespace outpost::server::audit
