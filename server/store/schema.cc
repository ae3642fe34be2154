#include "server/store/schema.h"

#include <array>

namespace outpost::server::store {
namespace {

constexpr std::array<sqlite::Migration, 12> kMigrations = {{
    {1, "satellite identity",
     R"sql(
CREATE TABLE satellite_meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;
)sql"},
    {2, "users, API keys, console sessions",
     R"sql(
CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
  password_hash TEXT,                          -- PHC-style scrypt string; NULL: no console login
  created_at    INTEGER NOT NULL,              -- unix seconds
  created_by    TEXT NOT NULL,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until  INTEGER NOT NULL DEFAULT 0,    -- unix seconds; login refused before it
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY NOT NULL,      -- public part, shown in listings
  user_id      INTEGER NOT NULL REFERENCES users(id),
  secret_hash  BLOB NOT NULL CHECK (length(secret_hash) = 32),  -- SHA-256 of the secret part
  description  TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL,                  -- audit actor, e.g. "user:alice" or "system"
  last_used_at INTEGER,                        -- unix seconds, updated at most once a minute
  revoked_at   INTEGER,
  revoked_by   TEXT
) STRICT;
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE sessions (
  id_hash      BLOB PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),  -- SHA-256 of the cookie
  user_id      INTEGER NOT NULL REFERENCES users(id),
  csrf_token   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,               -- updated at most once a minute (idle timeout)
  expires_at   INTEGER NOT NULL,               -- absolute timeout, fixed at login
  remote_address TEXT NOT NULL DEFAULT ''      -- where the login came from
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
)sql"},
    {3, "audit trail",
     R"sql(
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,               -- 1, 2, 3, ... without gaps
  time_ms   INTEGER NOT NULL,                  -- unix milliseconds
  actor     TEXT NOT NULL,                     -- "user:alice", "apikey:<id>", "device:<id>", "system"
  action    TEXT NOT NULL,                     -- e.g. "token.create"
  object    TEXT NOT NULL,
  details   TEXT NOT NULL,                     -- JSON object
  prev_hash BLOB NOT NULL,                     -- hash of seq-1 (32 zero bytes for seq 1)
  hash      BLOB NOT NULL                      -- see server/audit/chain.h for the encoding
) STRICT;
CREATE INDEX audit_log_time ON audit_log(time_ms);

CREATE TABLE audit_checkpoints (
  seq       INTEGER PRIMARY KEY,               -- audit_log.seq of the signed head
  hash      BLOB NOT NULL,
  time_ms   INTEGER NOT NULL,
  key_id    TEXT NOT NULL,
  signature BLOB NOT NULL
) STRICT;
)sql"},
    {4, "registration tokens",
     R"sql(
CREATE TABLE tokens (
  id                TEXT PRIMARY KEY NOT NULL,   -- public part: the token is "opt_<id>_<secret>"
  va                TEXT NOT NULL,               -- virtual account devices register into
  description       TEXT NOT NULL DEFAULT '',
  secret_hash       BLOB NOT NULL CHECK (length(secret_hash) = 32),  -- SHA-256 of the secret
  prefix            TEXT NOT NULL,               -- "opt_<id>", shown in listings
  created_at        INTEGER NOT NULL,            -- unix seconds
  created_by        TEXT NOT NULL,               -- audit actor
  expires_at        INTEGER NOT NULL,            -- unix seconds; refused from then on
  max_uses          INTEGER CHECK (max_uses IS NULL OR max_uses >= 1),  -- NULL: unlimited
  uses              INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
  export_controlled INTEGER NOT NULL DEFAULT 0 CHECK (export_controlled IN (0, 1)),
  revoked_at        INTEGER,
  revoked_by        TEXT
) STRICT;
CREATE INDEX tokens_va ON tokens(va);
)sql"},
    {5, "licensing: devices, consumption, entitlements, reservations, usage, moves",
     R"sql(
-- Registered product instances. A UDI is unique in a VA; a serial belongs to one product there.
CREATE TABLE devices (
  instance_id    TEXT PRIMARY KEY NOT NULL,
  va             TEXT NOT NULL,
  pid            TEXT NOT NULL,
  serial         TEXT NOT NULL,
  hostname       TEXT NOT NULL DEFAULT '',
  token_id       TEXT NOT NULL,                -- the registration token it used
  export_allowed INTEGER NOT NULL CHECK (export_allowed IN (0, 1)),
  cert_serial    TEXT NOT NULL,                -- its ID certificate; '' after a rehost
  cert_not_after INTEGER NOT NULL,             -- unix seconds
  registered_at  INTEGER NOT NULL,
  last_seen_at   INTEGER,                      -- last authorization
  UNIQUE (va, pid, serial)
) STRICT;
CREATE INDEX devices_va_serial ON devices(va, serial);

-- What each device holds: the rows of the in-memory pool book (server/licensing/core/pools.h).
CREATE TABLE consumption (
  instance_id TEXT NOT NULL REFERENCES devices(instance_id),
  tag         TEXT NOT NULL,
  count       INTEGER NOT NULL CHECK (count > 0),
  valid_until INTEGER NOT NULL,                -- unix seconds
  PRIMARY KEY (instance_id, tag)
) STRICT, WITHOUT ROWID;

-- The account's entitlements as central last sent them, with local moves applied.
CREATE TABLE entitlements (
  id                TEXT PRIMARY KEY NOT NULL,
  va                TEXT NOT NULL,
  tag               TEXT NOT NULL,
  quantity          INTEGER NOT NULL CHECK (quantity >= 0),
  start_at          INTEGER NOT NULL,          -- unix seconds
  end_at            INTEGER,                   -- NULL: perpetual
  enforced          INTEGER NOT NULL CHECK (enforced IN (0, 1)),
  floating          INTEGER NOT NULL CHECK (floating IN (0, 1)),
  export_controlled INTEGER NOT NULL CHECK (export_controlled IN (0, 1))
) STRICT;

CREATE TABLE reservations (
  va     TEXT NOT NULL,
  tag    TEXT NOT NULL,
  pid    TEXT NOT NULL,
  serial TEXT NOT NULL,
  count  INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (va, tag, pid, serial)
) STRICT;

-- Hourly high-water marks per (VA, tag); the source of usage reports.
CREATE TABLE usage_samples (
  va         TEXT NOT NULL,
  tag        TEXT NOT NULL,
  hour       INTEGER NOT NULL,                 -- unix seconds of the hour's start
  max_in_use INTEGER NOT NULL,
  PRIMARY KEY (va, tag, hour)
) STRICT;

-- License moves between VAs made here, reported to central with the next sync.
CREATE TABLE license_moves (
  id          TEXT PRIMARY KEY NOT NULL,
  from_va     TEXT NOT NULL,
  to_va       TEXT NOT NULL,
  tag         TEXT NOT NULL,
  count       INTEGER NOT NULL CHECK (count > 0),
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL,
  reported_at INTEGER                          -- NULL until a sync response acknowledged it
) STRICT;
)sql"},
    {6, "sync: usage reports, conversions, move results",
     R"sql(
-- Usage reports closed from usage_samples, resent with every sync request until central
-- acknowledges them; `report` is the serialized outpost.v1.UsageReport.
CREATE TABLE usage_reports (
  report_id       TEXT PRIMARY KEY NOT NULL,
  period_start    INTEGER NOT NULL,
  period_end      INTEGER NOT NULL,
  report          BLOB NOT NULL,
  created_at      INTEGER NOT NULL,
  acknowledged_at INTEGER                      -- NULL until a sync response acknowledged it
) STRICT;

-- Traditional-license conversions queued by `outpost convert`, sent with the next sync.
CREATE TABLE conversions (
  id              TEXT PRIMARY KEY NOT NULL,
  license_key     TEXT NOT NULL,               -- the PAK; a license key, not a credential
  va              TEXT NOT NULL,
  requested_at    INTEGER NOT NULL,
  requested_by    TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'PENDING',  -- PENDING, CONVERTED, REJECTED
  message         TEXT NOT NULL DEFAULT '',
  entitlement_ids TEXT NOT NULL DEFAULT '',    -- comma-separated, once converted
  resolved_at     INTEGER
) STRICT;

ALTER TABLE license_moves ADD COLUMN result TEXT NOT NULL DEFAULT '';  -- APPLIED / REJECTED
ALTER TABLE license_moves ADD COLUMN result_message TEXT NOT NULL DEFAULT '';
)sql"},
    {7, "API key expiry",
     R"sql(
-- Additive: keys of older databases get NULL, which means they never expire.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;  -- unix seconds; refused from then on
)sql"},
    {8, "licensing state file token",
     R"sql(
-- The token of the state file saved at the last clean stop (server/licensing/state_file.h): at
-- most one row, present only while the devices and consumption tables hold exactly what that
-- file holds. Any change to them deletes it, whoever makes it, so the next start reads the
-- tables instead of the file. Older databases have no row: they are read from the tables.
CREATE TABLE licensing_state (token TEXT NOT NULL) STRICT;
CREATE TRIGGER devices_insert_voids_state AFTER INSERT ON devices
  BEGIN DELETE FROM licensing_state; END;
CREATE TRIGGER devices_delete_voids_state AFTER DELETE ON devices
  BEGIN DELETE FROM licensing_state; END;
-- Hostname, token and times are not in the file (last_seen_at changes once a minute).
CREATE TRIGGER devices_update_voids_state
  AFTER UPDATE OF instance_id, va, pid, serial, export_allowed, cert_serial, cert_not_after
  ON devices BEGIN DELETE FROM licensing_state; END;
CREATE TRIGGER consumption_insert_voids_state AFTER INSERT ON consumption
  BEGIN DELETE FROM licensing_state; END;
CREATE TRIGGER consumption_delete_voids_state AFTER DELETE ON consumption
  BEGIN DELETE FROM licensing_state; END;
CREATE TRIGGER consumption_update_voids_state AFTER UPDATE ON consumption
  BEGIN DELETE FROM licensing_state; END;
)sql"},
    {9, "console: device search, certificate details, tag events, sync history",
     R"sql(
-- Device search (GET /v1/admin/devices ?q=, ?udi=, ?hostname=, ?tag=): sorted by the lower-cased
-- (ASCII) UDI or hostname, then the instance id, so a prefix is a range and a page a short walk.
CREATE INDEX devices_udi_search ON devices(lower(pid || ':' || serial), instance_id);
CREATE INDEX devices_hostname_search ON devices(lower(hostname), instance_id);
CREATE INDEX consumption_tag ON consumption(tag, instance_id);

-- The ID certificate's start and SHA-256 (of its DER), written at registration; NULL for devices
-- registered before this version.
ALTER TABLE devices ADD COLUMN cert_not_before INTEGER;
ALTER TABLE devices ADD COLUMN cert_sha256 TEXT;

-- A device's audit records newest first (object "device:<instance id>").
CREATE INDEX audit_log_object ON audit_log(object);
-- The sync exchanges (GET /v1/admin/sync/history).
CREATE INDEX audit_log_sync ON audit_log(seq) WHERE substr(action, 1, 5) = 'sync.';

-- Which audit records are about a (VA, tag) pool: reservations, moves, releases, rehosts and
-- sweeps (a device's renewals are its own events, not the pool's). Filled by the trigger below
-- from the records' details; rows are never removed (a seq whose record is gone is skipped).
CREATE TABLE audit_tag_events (
  tag TEXT NOT NULL,
  va  TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (tag, va, seq)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER audit_log_tag_events AFTER INSERT ON audit_log
  WHEN NEW.action IN ('license.reserve', 'license.unreserve', 'license.move', 'license.sweep',
                      'device.release', 'device.rehost') AND json_valid(NEW.details)
BEGIN
  INSERT OR IGNORE INTO audit_tag_events(tag, va, seq)
    SELECT json_extract(NEW.details, '$.tag'), v.value, NEW.seq
    FROM json_each(json_array(json_extract(NEW.details, '$.va'),
                              json_extract(NEW.details, '$.from_va'),
                              json_extract(NEW.details, '$.to_va'))) AS v
    WHERE json_type(NEW.details, '$.tag') = 'text' AND v.type = 'text';
  INSERT OR IGNORE INTO audit_tag_events(tag, va, seq)
    SELECT json_extract(t.value, '$.tag'), json_extract(NEW.details, '$.va'), NEW.seq
    FROM json_each(NEW.details, '$.expired') AS t
    WHERE NEW.action = 'license.sweep' AND json_type(NEW.details, '$.va') = 'text'
      AND json_type(t.value, '$.tag') = 'text';
  INSERT OR IGNORE INTO audit_tag_events(tag, va, seq)
    SELECT json_extract(t.value, '$.tag'), json_extract(NEW.details, '$.va'), NEW.seq
    FROM json_each(NEW.details, '$.released') AS t
    WHERE NEW.action = 'device.release' AND json_type(NEW.details, '$.va') = 'text'
      AND json_type(t.value, '$.tag') = 'text';
  INSERT OR IGNORE INTO audit_tag_events(tag, va, seq)
    SELECT json_extract(t.value, '$.tag'), json_extract(NEW.details, '$.va'), NEW.seq
    FROM json_each(NEW.details, '$.moved') AS t
    WHERE NEW.action = 'device.rehost' AND json_type(NEW.details, '$.va') = 'text'
      AND json_type(t.value, '$.tag') = 'text';
END;
-- The records written before this version, the same way.
WITH r AS (
  SELECT seq, action, CASE WHEN json_valid(details) THEN details ELSE '{}' END AS d
  FROM audit_log
  WHERE action IN ('license.reserve', 'license.unreserve', 'license.move', 'license.sweep',
                   'device.release', 'device.rehost'))
INSERT OR IGNORE INTO audit_tag_events(tag, va, seq)
  SELECT json_extract(r.d, '$.tag'), v.value, r.seq
  FROM r, json_each(json_array(json_extract(r.d, '$.va'), json_extract(r.d, '$.from_va'),
                               json_extract(r.d, '$.to_va'))) AS v
  WHERE json_type(r.d, '$.tag') = 'text' AND v.type = 'text'
  UNION ALL
  SELECT json_extract(t.value, '$.tag'), json_extract(r.d, '$.va'), r.seq
  FROM r, json_each(r.d, CASE r.action WHEN 'license.sweep' THEN '$.expired'
                                       WHEN 'device.release' THEN '$.released'
                                       WHEN 'device.rehost' THEN '$.moved'
                                       ELSE '$.none' END) AS t
  WHERE json_type(r.d, '$.va') = 'text' AND json_type(t.value, '$.tag') = 'text';
)sql"},
    {10, "audit archives: the archived head",
     R"sql(
-- One row per sealed segment of the audit chain moved out to an archive file
-- (server/audit/archive.h). The row with the highest last_seq is the archived head: records up
-- to it are in archives, and the chain continues at last_seq + 1 from its hash. The checkpoint
-- that closed the segment is kept with it, so `audit verify` can check the head on the database
-- alone.
CREATE TABLE audit_archived (
  last_seq           INTEGER PRIMARY KEY,        -- the segment's last record
  first_seq          INTEGER NOT NULL,
  hash               BLOB NOT NULL CHECK (length(hash) = 32),  -- hash of record last_seq
  checkpoint_time_ms INTEGER NOT NULL,           -- the closing checkpoint (signed over last_seq,
  key_id             TEXT NOT NULL,              --   hash and checkpoint_time_ms)
  signature          BLOB NOT NULL,
  file_name          TEXT NOT NULL,              -- the archive file, as the archiver named it
  archived_at_ms     INTEGER NOT NULL
) STRICT;
)sql"},
    {11, "audit: a device's compact renewals found by device",
     R"sql(
-- A compact renewal (action device.renew) names its device only as the actor and has no object,
-- to stay small. A device's audit records (export --device, the console's device events) are
-- those about it (object "device:<id>") and those it made about nothing else (no object, actor
-- "device:<id>"): one index on that, in place of the index on the object alone, so that the
-- device filter stays one walk in seq order and a compact record adds its actor to the index
-- instead of an empty key.
DROP INDEX audit_log_object;
CREATE INDEX audit_log_device ON audit_log(CASE WHEN object = '' THEN actor ELSE object END);
)sql"},
    {12, "licensing state file: what changed since it was saved",
     R"sql(
-- The state file (server/licensing/state_file.h) no longer goes void at the first change: the
-- instances whose device or consumption rows changed since it was saved are listed here, and a
-- start reads the file and then only their rows, also after a crash. The row of licensing_state
-- names the file (its token) and binds it to this database (the SHA-256 of its header, which
-- holds the SHA-256 of every section). Without a row nothing is recorded, and a start reads the
-- tables. Older rows name files of the first format: dropped, the next save writes anew.
DROP TRIGGER devices_insert_voids_state;
DROP TRIGGER devices_delete_voids_state;
DROP TRIGGER devices_update_voids_state;
DROP TRIGGER consumption_insert_voids_state;
DROP TRIGGER consumption_delete_voids_state;
DROP TRIGGER consumption_update_voids_state;
DROP TABLE licensing_state;
CREATE TABLE licensing_state (
  token  TEXT NOT NULL,
  digest TEXT NOT NULL                          -- lowercase hex SHA-256 of the file's header
) STRICT;
CREATE TABLE licensing_changed (instance_id TEXT PRIMARY KEY NOT NULL) STRICT, WITHOUT ROWID;
-- Not INSERT OR IGNORE: the conflict clause of the statement that fires a trigger overrides the
-- trigger's own (an upsert of consumption would fail on an instance already listed).
CREATE TRIGGER devices_insert_noted AFTER INSERT ON devices
  WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT NEW.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = NEW.instance_id);
  END;
CREATE TRIGGER devices_delete_noted AFTER DELETE ON devices
  WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT OLD.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = OLD.instance_id);
  END;
-- Hostname, token and times are not in the file (last_seen_at changes once a minute).
CREATE TRIGGER devices_update_noted
  AFTER UPDATE OF instance_id, va, pid, serial, export_allowed, cert_serial, cert_not_after
  ON devices WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT OLD.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = OLD.instance_id);
    INSERT INTO licensing_changed SELECT NEW.instance_id
      WHERE NEW.instance_id IS NOT OLD.instance_id
        AND NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = NEW.instance_id);
  END;
CREATE TRIGGER consumption_insert_noted AFTER INSERT ON consumption
  WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT NEW.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = NEW.instance_id);
  END;
CREATE TRIGGER consumption_delete_noted AFTER DELETE ON consumption
  WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT OLD.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = OLD.instance_id);
  END;
CREATE TRIGGER consumption_update_noted AFTER UPDATE ON consumption
  WHEN EXISTS (SELECT 1 FROM licensing_state)
  BEGIN
    INSERT INTO licensing_changed SELECT OLD.instance_id
      WHERE NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = OLD.instance_id);
    INSERT INTO licensing_changed SELECT NEW.instance_id
      WHERE NEW.instance_id IS NOT OLD.instance_id
        AND NOT EXISTS (SELECT 1 FROM licensing_changed WHERE instance_id = NEW.instance_id);
  END;
)sql"},
}};

}  // namespace

std::span<const sqlite::Migration> SatelliteMigrations() { return kMigrations; }

}  // namespace outpost::server::store
