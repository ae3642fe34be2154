#pragma once

// Reading audit_log and audit_checkpoints rows. Internal to server/audit.

#include "common/sqlite/statement.h"
#include "server/audit/chain.h"
#include "server/audit/checkpoint.h"

namespace outpost::server::audit {

// The current row of a statement that selects, in this order,
//   seq, time_ms, actor, action, object, details, prev_hash, hash
// from audit_log.
Record ReadRecord(const sqlite::Statement& row);

// The current row of a statement that selects, in this order,
//   seq, hash, time_ms, key_id, signature
// from audit_checkpoints.
Checkpoint ReadCheckpoint(const sqlite::Statement& row);

}  // namespace outpost::server::audit
