#pragma once

// Signed checkpoints of the audit chain's head. A checkpoint lets `Verify` detect a rewrite or a
// truncation of everything up to the checkpointed record, as long as the satellite key stays
// secret; the head also travels to central in every sync request (independent evidence).
// The signed bytes are defined in chain.h.

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::server::audit {

// One row of audit_checkpoints.
struct Checkpoint {
  int64_t seq = 0;
  std::string hash;     // raw 32 bytes: the hash of record `seq`
  int64_t time_ms = 0;  // when it was signed, unix milliseconds
  std::string key_id;   // PublicKey::KeyId() of the signing key
  std::string signature;
};

// Signs the current head of the chain with `key` (the satellite key) and stores the
// checkpoint, with time `now`. A no-op when the log is empty or the head is already
// checkpointed, so a timer may call it as often as it likes. `db` must be the writer's
// connection inside a unit of work. Errors: kInternal if signing fails; otherwise SQLite's.
Status SignCheckpoint(sqlite::Connection& db, const crypto::PrivateKey& key, TimePoint now);

// The checkpoint with the highest seq, or nullopt if there is none. Errors are SQLite's.
Result<std::optional<Checkpoint>> LatestCheckpoint(sqlite::Connection& db);

}  // namespace outpost::server::audit
