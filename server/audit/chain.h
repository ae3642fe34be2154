#pragma once

// The audit trail's canonical encoding: how a record is hashed into the chain and how a
// checkpoint of the chain head is signed. Everything an independent auditor needs to recompute
// the chain from the database (tables audit_log and audit_checkpoints) is stated here.
//
// RECORD HASH
//   Each row of audit_log is one record: seq, time_ms, actor, action, object, details,
//   prev_hash, hash. Its hash is
//
//     hash = SHA-256( "outpost/audit/v1"      16 ASCII bytes, no terminator
//                     || 0x00                 1 byte
//                     || u64be(seq)           8 bytes
//                     || i64be(time_ms)       8 bytes, two's complement
//                     || lp(actor)
//                     || lp(action)
//                     || lp(object)
//                     || lp(details)
//                     || prev_hash )          32 bytes
//
//   where u64be/i64be are big-endian 64-bit integers, and lp(x) = u32be(len(x)) || x, with x
//   the field's UTF-8 bytes exactly as stored (no normalization, no trimming, no terminator)
//   and len(x) its length in bytes. seq starts at 1 and increases by exactly 1; time_ms is
//   milliseconds since the Unix epoch (UTC); prev_hash is the hash of record seq-1, and 32
//   zero bytes for seq 1. hash and prev_hash are stored as raw 32-byte BLOBs and shown as
//   lowercase hex in exports.
//
//   Example (Python 3, for one row r):
//     def lp(s): b = s.encode(); return len(b).to_bytes(4, "big") + b
//     msg = (b"outpost/audit/v1\x00" + r.seq.to_bytes(8, "big")
//            + r.time_ms.to_bytes(8, "big", signed=True) + lp(r.actor) + lp(r.action)
//            + lp(r.object) + lp(r.details) + r.prev_hash)
//     assert hashlib.sha256(msg).digest() == r.hash
//
// CHECKPOINT SIGNATURE
//   A row of audit_checkpoints (seq, hash, time_ms, key_id, signature) says: the satellite key
//   key_id saw the record seq with this hash at time_ms (unix milliseconds, when it signed).
//   signature is the satellite key's signature (common/crypto/keys.h: Ed25519, or ECDSA P-256
//   over SHA-256 with a DER signature) over the bytes
//
//     "outpost/audit-checkpoint/v1" || 0x00 || u64be(seq) || hash || i64be(time_ms)
//
//   (the domain is 27 ASCII bytes; hash is the 32 raw bytes). key_id is the lowercase hex of
//   the first 16 bytes of SHA-256 of the key's DER SubjectPublicKeyInfo.
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/audit_format.h"
#include "common/clock.h"

namespace outpost::server::audit {

inline constexpr std::string_view kRecordDomain = "outpost/audit/v1";
inline constexpr std::string_view kCheckpointDomain = kAuditCheckpointDomain;
inline constexpr size_t kHashSize = 32;

// One row of audit_log. hash and prev_hash are raw bytes.
struct Record {
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string actor;
  std::string action;
  std::string object;
  std::string details;
  std::string prev_hash;
  std::string hash;
};

// The prev_hash of record 1: 32 zero bytes.
std::string GenesisHash();

// Appends the bytes hashed for `record` (everything above except `record.hash`) to `out`.
void AppendRecordEncoding(const Record& record, std::string& out);

// SHA-256 of the record encoding: the value `record.hash` must have.
std::string ComputeRecordHash(const Record& record);

// The message signed for a checkpoint (without the domain, which Sign/Verify add).
std::string CheckpointMessage(int64_t seq, std::string_view hash, int64_t time_ms);

// Milliseconds since the Unix epoch, rounded down (also for times before 1970).
int64_t ToUnixMillis(TimePoint t);

}  // namespace outpost::server::audit
