#pragma once

// Evidence about the audit chain kept apart from the chain itself: the signed checkpoints
// (listed with their signatures, so an auditor can check them with OpenSSL alone) and the heads
// central received in sync requests (compared with the local chain). See docs/security.md,
// "Independent verification".

#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/sync.pb.h"

namespace outpost::server::audit {

// Every row of audit_checkpoints, oldest first, each checked: its signature verifies with `key`
// (and names it) and record `seq` still has the signed hash. A failed check is reported in the
// entry (verified = false, problem), not as an error. Errors: the database's.
Result<v1::AuditCheckpointList> ListCheckpoints(sqlite::Connection& db,
                                                const crypto::PublicKey& key);

// Compares every head central holds (`heads`, as `outpost central audit-heads -o` exports them)
// with the local chain on `db`: record `seq` must exist with exactly the head's hash, and the
// head's signature (a checkpoint signature) must verify with `key`, the satellite's signing key.
// ok is true only when there is at least one head and every head matches, or names a record
// archived in a sealed segment (result "archived", archive.h). Runs in one read
// snapshot when `db` is outside a transaction. Errors: kInvalidArgument for an empty list or for
// the heads of another satellite than the one satellite_meta names; otherwise the database's.
Result<v1::AuditCompareHeadsResponse> CompareHeads(sqlite::Connection& db,
                                                   const v1::CentralAuditHeadList& heads,
                                                   const crypto::PublicKey& key);

}  // namespace outpost::server::audit
