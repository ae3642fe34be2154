#pragma once

// Appending to the audit trail, and reading its head. The chain's encoding is in chain.h;
// signed checkpoints in checkpoint.h; verification in verify.h; export in export.h.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/status.h"

namespace outpost::server::audit {

// Who did something. Rendered as "<kind>:<id>" in the actor column, e.g. "user:alice",
// "device:<instance id>", "system"; an API key also names the user it belongs to:
// "apikey:3f9a0c1d2e4b (alice)" (user names never hold spaces or parentheses), so an auditor
// sees who acted without looking the key up (docs/security.md, "The audit trail").
struct Actor {
  Actor() = default;
  Actor(std::string kind, std::string id, std::string user = "")
      : kind(std::move(kind)), id(std::move(id)), user(std::move(user)) {}

  std::string kind;  // "user", "apikey", "device", "system"
  std::string id;    // empty for "system"
  std::string user;  // for "apikey": the key's owner; empty otherwise
  std::string ToString() const {
    std::string out = id.empty() ? kind : kind + ":" + id;
    if (!user.empty()) out += " (" + user + ")";
    return out;
  }
  static Actor System() { return {"system", ""}; }
};

// One state change to record. `details` is a JSON object (use common/proto_json or build it
// with boost::json); it must never contain a secret (token, password, API key secret).
struct AuditEvent {
  Actor actor;
  std::string action;  // dotted verb, e.g. "user.create", "apikey.revoke", "login.failure"
  std::string object;  // what it acted on, e.g. "user:bob", "apikey:3f9a0c1d2e4b"
  std::string details = "{}";
};

// Largest actor, action, object or details accepted by Append, in bytes.
inline constexpr size_t kMaxFieldBytes = 1 << 20;

// Appends `event` to the hash chain using `db`, which must be the writer's connection inside
// a unit of work (Writer::Submit/Run), so the record commits or rolls back together with the
// change it describes. Time comes from `now` (the injected clock), stored in milliseconds.
//
// The new record's seq and prev_hash come from the last row of audit_log as `db` sees it now,
// so a unit rolled back to its savepoint earlier in the same batch leaves no gap. Cost: one
// primary-key lookup, one SHA-256 and one insert, with statements cached on `db`; inside a
// transaction of a writer that has a HeadCache (head_cache.h), once per transaction.
// Outside a transaction the lookup and insert are separate; a concurrent writer then makes the
// insert fail with kAlreadyExists rather than fork the chain.
//
// Errors: kInvalidArgument if the actor kind or the action is empty, a field is not valid
// UTF-8 (exports are JSON) or longer than kMaxFieldBytes; kDataLoss if the last record's
// hash is malformed (run `outpost audit verify`); otherwise the SQLite error. On error nothing
// was written.
Status Append(sqlite::Connection& db, const AuditEvent& event, TimePoint now);

// The newest record of the chain. For an empty log: seq 0, 32 zero bytes, time_ms 0.
struct Head {
  int64_t seq = 0;
  std::string hash;     // raw 32 bytes
  int64_t time_ms = 0;  // the record's time, unix milliseconds
};

// The head as `db` sees it (a reader connection sees the last commit). When every record has
// been archived (archive.h), the archived head (time_ms: when its checkpoint was signed).
// Errors are SQLite's.
Result<Head> CurrentHead(sqlite::Connection& db);

}  // namespace outpost::server::audit
