#pragma once

#include <map>

// Internal to sync/central: the state behind Central and the row helpers its files share.

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite/connection.h"
#include "common/sqlite/meta_table.h"
#include "sync/bundle/codec.h"
#include "sync/central/admission.h"
#include "sync/central/admission_pool.h"
#include "sync/central/central.h"

namespace outpost::central {

class Central::Impl {
 public:
  const Clock* clock = nullptr;
  Options options;
  CentralDataDir dir{""};
  std::optional<crypto::PrivateKey> signing_key;
  // After `central key rotate`: the new key and its announcement (signed by the new key).
  std::optional<crypto::PrivateKey> next_signing_key;
  std::optional<v1::KeyRotation> rotation;
  // Keys retired by `central key retire` (key id -> unix seconds), to name them in refusals.
  std::map<std::string, int64_t> retired_keys;
  std::string ca_fingerprint;
  std::string ca_pem;
  std::string central_id;
  std::string listen;
  std::string url;
  int64_t response_validity_s = 0;
  v1::Policy policy;
  std::unique_ptr<sqlite::Writer> writer;
  std::unique_ptr<sqlite::ReaderPool> readers;
  // Checks sync requests before the writer (admission.h); destroyed before the readers.
  std::unique_ptr<AdmissionPool> admission;
  // Satellites with a verified request waiting for or inside the writer: one at a time each,
  // so one satellite cannot fill the writer's queue (guarded by busy_mu).
  std::mutex busy_mu;
  std::set<std::string> busy_satellites;
};

// central_meta, central's settings, and their keys.
inline constexpr sqlite::MetaTable kCentralMeta("central_meta");
inline constexpr char kMetaCentralId[] = "central_id";
inline constexpr char kMetaSigningKeyId[] = "signing_key_id";
inline constexpr char kMetaListen[] = "listen";
inline constexpr char kMetaUrl[] = "url";
inline constexpr char kMetaResponseValidity[] = "response_validity_s";
inline constexpr char kMetaPolicy[] = "policy";             // serialized v1::Policy, hex
inline constexpr char kMetaKeyRotation[] = "key_rotation";  // serialized v1::KeyRotation, hex
inline constexpr char kMetaRetiredKeys[] = "retired_signing_keys";  // "KEY_ID@TIME,..."

// The retired keys as central_meta keeps them, and back (kDataLoss when unreadable).
std::string FormatRetiredKeys(const std::map<std::string, int64_t>& retired);
Result<std::map<std::string, int64_t>> ParseRetiredKeys(std::string_view text);
// Finishes `central key retire` on disk (central_keys.cc): when keys/signing.next.key is the
// recorded signing key `recorded_key_id`, it replaces signing.key (whose file is kept aside as
// signing.retired.key), and the retired key's file is overwritten and removed. Idempotent; Open
// calls it, so a retirement a crash interrupted is finished.
Status FinishKeyRetirement(const CentralDataDir& dir, std::string_view recorded_key_id);

// The columns EntitlementFromRow reads, in order.
inline constexpr char kEntitlementColumns[] =
    "id, va, tag, quantity, start, end_at, enforcement, floating, export_controlled";
v1::Entitlement EntitlementFromRow(const sqlite::Statement& row);

// kNotFound saying how to create what is missing.
Status RequireAccount(sqlite::Connection& db, std::string_view account_id);
Status RequireVa(sqlite::Connection& db, std::string_view account_id, std::string_view va);
Result<bool> VaExists(sqlite::Connection& db, std::string_view account_id, std::string_view va);

// Every entitlement of the account (sorted by VA, tag, id) and every VA (sorted).
Result<std::vector<v1::Entitlement>> LoadEntitlements(sqlite::Connection& db,
                                                      std::string_view account_id);
Result<std::vector<std::string>> LoadVas(sqlite::Connection& db, std::string_view account_id);
Result<std::string> AccountName(sqlite::Connection& db, std::string_view account_id);
// One satellite's row (without the quota figures); kNotFound saying how to list them.
Result<v1::CentralSatellite> ReadSatellite(sqlite::Connection& db, std::string_view satellite_id);

Status InsertEntitlement(sqlite::Connection& db, std::string_view account_id,
                         const v1::Entitlement& e, std::string_view origin, int64_t now);

// "ENFORCED"/"REPORTED" and the reverse mapping of the stored integer.
v1::Enforcement EnforcementFrom(bool enforced);

// A license key as typed: surrounding whitespace removed, upper case.
std::string NormalizePakKey(std::string_view key);

// What processing a request needs besides the database.
struct SyncContext {
  const crypto::PrivateKey* signing_key = nullptr;
  // Set after a rotation: a request naming the new key is answered with it; one naming the
  // old key is answered with the old key and carries the announcement.
  const crypto::PrivateKey* next_signing_key = nullptr;
  const v1::KeyRotation* rotation = nullptr;
  int64_t now = 0;
  int64_t response_validity_s = 0;
  v1::Policy policy;
};

// The transaction body of ProcessSyncRequest (central.h) for a request AdmitSyncRequest
// (admission.h) verified: runs inside the writer's transaction; an error means the caller rolls
// everything back.
Result<SyncOutcome> ApplySyncRequest(sqlite::Connection& db, const VerifiedRequest& verified,
                                     const SyncContext& context);

}  // namespace outpost::central
