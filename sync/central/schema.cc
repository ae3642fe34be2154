#include "sync/central/schema.h"

namespace outpost::central {
namespace {

// Times are unix seconds. Entitlement `end_at` 0 means perpetual. Secrets are never stored:
// satellites keep the enrollment verifier (trust.h), license keys their SHA-256.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE central_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE virtual_accounts (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
) STRICT;

-- `origin` says where a row came from: "order", "move:<satellite>/<move id>", "pak:<pak id>".
CREATE TABLE entitlements (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  va TEXT NOT NULL,
  tag TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity >= 0),
  start INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  enforcement INTEGER NOT NULL,
  floating INTEGER NOT NULL,
  export_controlled INTEGER NOT NULL,
  origin TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  FOREIGN KEY (account_id, va) REFERENCES virtual_accounts(account_id, name)
) STRICT;
CREATE INDEX entitlements_by_pool ON entitlements(account_id, va, tag);

CREATE TABLE satellites (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  enrollment_verifier BLOB,          -- NULL once the key is bound: the secret is one-time
  public_key_pem TEXT,               -- NULL until the first request binds it
  key_id TEXT,
  bound_at INTEGER,
  last_sequence INTEGER NOT NULL DEFAULT 0,
  last_request_sha256 BLOB,
  last_response BLOB,                -- the serialized SignedBundle answering last_sequence
  last_response_number INTEGER NOT NULL DEFAULT 0,
  last_sync_at INTEGER,
  software_version TEXT,
  inventory BLOB                     -- serialized InventorySummary of the last request
) STRICT;
CREATE INDEX satellites_by_account ON satellites(account_id);

CREATE TABLE usage_reports (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  report_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  va TEXT NOT NULL,
  tag TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  peak_in_use INTEGER NOT NULL,
  report BLOB NOT NULL,
  request_sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (satellite_id, report_id)
) STRICT;
CREATE INDEX usage_by_account ON usage_reports(account_id, period_start);

CREATE TABLE moves (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  move_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  message TEXT NOT NULL,
  request_sequence INTEGER NOT NULL,
  processed_at INTEGER NOT NULL,
  PRIMARY KEY (satellite_id, move_id)
) STRICT;

CREATE TABLE paks (
  id TEXT PRIMARY KEY,
  key_sha256 BLOB NOT NULL UNIQUE,
  key_prefix TEXT NOT NULL,
  account_id TEXT NOT NULL,
  va TEXT NOT NULL,
  tag TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  start INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  enforcement INTEGER NOT NULL,
  floating INTEGER NOT NULL,
  export_controlled INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  converted_at INTEGER NOT NULL DEFAULT 0,
  converted_by_satellite TEXT NOT NULL DEFAULT '',
  entitlement_id TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (account_id, va) REFERENCES virtual_accounts(account_id, name)
) STRICT;

CREATE TABLE conversions (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  conversion_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  message TEXT NOT NULL,
  entitlement_id TEXT NOT NULL,
  request_sequence INTEGER NOT NULL,
  processed_at INTEGER NOT NULL,
  PRIMARY KEY (satellite_id, conversion_id)
) STRICT;

CREATE TABLE audit_heads (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  request_sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (satellite_id, request_sequence)
) STRICT;
)sql";

// Revocation of satellites, the key lookup that lets central verify a request before it reads
// anything else of it, and the per-satellite quota windows (issue 17).
constexpr std::string_view kRevocationAndQuotas = R"sql(
ALTER TABLE satellites ADD COLUMN revoked_at INTEGER;
ALTER TABLE satellites ADD COLUMN revoked_reason TEXT;
CREATE INDEX satellites_by_key_id ON satellites(key_id);
CREATE INDEX usage_reports_by_satellite_time ON usage_reports(satellite_id, received_at);
CREATE INDEX audit_heads_by_satellite_time ON audit_heads(satellite_id, received_at);
)sql";

// Every applied sync request, for the requests-per-day quota: counting audit heads missed the
// requests that carry none. Rows older than two days are deleted as new ones arrive.
constexpr std::string_view kRequestLog = R"sql(
CREATE TABLE sync_requests (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (satellite_id, sequence)
) STRICT;
CREATE INDEX sync_requests_by_satellite_time ON sync_requests(satellite_id, received_at);
)sql";

// Moves and conversions per request, for their daily quota: each is stored even when rejected.
constexpr std::string_view kRequestItems = R"sql(
ALTER TABLE sync_requests ADD COLUMN items INTEGER NOT NULL DEFAULT 0;
)sql";

// A satellite restored from a backup (docs/operations.md, "What a restore means for sync"): its
// requests carry a RestoreNotice, and central accepts the restore once, restarting the
// satellite's sequence from the backup; requests of any other line of the satellite's history
// are refused from then on. Audit heads belong to the restore they were sent in. At most
// kMaxRestoresPerDay restores are accepted per satellite in 24 hours.
constexpr std::string_view kRestores = R"sql(
ALTER TABLE satellites ADD COLUMN restore_id TEXT NOT NULL DEFAULT '';
CREATE TABLE satellite_restores (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  restore_id TEXT NOT NULL,
  backup_id TEXT NOT NULL,
  backup_created_at INTEGER NOT NULL,
  restored_at INTEGER NOT NULL,
  backup_last_request_sequence INTEGER NOT NULL,
  backup_audit_head_seq INTEGER NOT NULL,
  previous_last_sequence INTEGER NOT NULL,  -- central's last processed sequence before it
  accepted_at INTEGER NOT NULL,
  accepted_request_sequence INTEGER NOT NULL,
  PRIMARY KEY (satellite_id, restore_id)
) STRICT;
CREATE TABLE audit_heads_by_restore (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  restore_id TEXT NOT NULL DEFAULT '',  -- the restore the request named ('' before any)
  request_sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (satellite_id, restore_id, request_sequence)
) STRICT;
INSERT INTO audit_heads_by_restore(satellite_id, request_sequence, received_at, seq, hash, time_ms,
                                   key_id, signature)
  SELECT satellite_id, request_sequence, received_at, seq, hash, time_ms, key_id, signature
  FROM audit_heads;
DROP TABLE audit_heads;
ALTER TABLE audit_heads_by_restore RENAME TO audit_heads;
-- A restored satellite sends sequence numbers again: the request log (the daily request quota)
-- keeps every request, so it is no longer keyed by sequence.
CREATE TABLE sync_requests_log (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  items INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO sync_requests_log(satellite_id, sequence, received_at, bytes, items)
  SELECT satellite_id, sequence, received_at, bytes, items FROM sync_requests;
DROP TABLE sync_requests;
ALTER TABLE sync_requests_log RENAME TO sync_requests;
CREATE INDEX sync_requests_by_satellite_time ON sync_requests(satellite_id, received_at);
)sql";

// Re-enrollment of a revoked satellite (issue 16): the satellites row holds the current state
// only (a re-enrollment clears the revocation and unbinds the key), so every revocation and
// re-enrollment is kept here, oldest first, as central's record of what happened.
constexpr std::string_view kSatelliteEvents = R"sql(
ALTER TABLE satellites ADD COLUMN reenrolled_at INTEGER;
CREATE TABLE satellite_events (
  satellite_id TEXT NOT NULL REFERENCES satellites(id),
  at INTEGER NOT NULL,
  event TEXT NOT NULL CHECK (event IN ('revoked', 'reenrolled')),
  detail TEXT NOT NULL,               -- a revocation's reason; what a re-enrollment replaced
  key_id TEXT NOT NULL DEFAULT ''     -- the satellite key bound at the time ('' if none)
) STRICT;
CREATE INDEX satellite_events_by_satellite ON satellite_events(satellite_id, at);
INSERT INTO satellite_events(satellite_id, at, event, detail, key_id)
  SELECT id, revoked_at, 'revoked', coalesce(revoked_reason, ''), coalesce(key_id, '')
  FROM satellites WHERE revoked_at IS NOT NULL;
)sql";

constexpr sqlite::Migration kMigrations[] = {
    {1, "central initial schema", kInitialSchema},
    {2, "satellite revocation, key lookup, quota windows", kRevocationAndQuotas},
    {3, "sync request log for the daily request quota", kRequestLog},
    {4, "moves and conversions per sync request, for their daily quota", kRequestItems},
    {5, "satellites restored from a backup", kRestores},
    {6, "satellite revocation and re-enrollment history", kSatelliteEvents},
};

}  // namespace

std::span<const sqlite::Migration> CentralMigrations() { return kMigrations; }

}  // namespace outpost::central
