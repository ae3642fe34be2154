#include "server/sync/satellite_sync.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/crypto/secure_file.h"
#include "common/ids.h"
#include "common/net/https_client.h"
#include "common/thread_boundary.h"
#include "common/time.h"
#include "server/audit/audit_log.h"
#include "server/audit/checkpoint.h"
#include "server/audit/evidence.h"
#include "server/licensing/store.h"
#include "server/store/meta.h"
#include "spdlog/spdlog.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/freshness.h"
#include "sync/bundle/trust.h"

namespace outpost::server::sync {
namespace {

namespace json = boost::json;
using store::kSatelliteMeta;

constexpr size_t kMaxConversionKeyBytes = 128;
// What one request carries at most (central refuses more: sync/central/request_checks.h); the
// oldest go first, the rest with the next request.
constexpr int64_t kMaxUsageReportsPerRequest = 10'000;
constexpr int64_t kMaxItemsPerRequest = 1'000;  // moves, and conversions

Result<int64_t> MetaInt(const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  return licensing::ParseStoredInt(key, it == meta.end() ? "" : it->second);
}

// Central's list of the account's VAs as stored: one name per line.
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Text(int64_t seconds) { return seconds == 0 ? "" : FormatRfc3339Seconds(seconds); }

// Set while this thread runs an online exchange (SyncNow), so that its export, import or refusal
// records say "via": "online" and the sync history (sync_history.cc) tells them from files. Read
// on the calling thread (the units run on the writer's).
thread_local bool online_exchange = false;

json::object Via(json::object details, bool online) {
  if (online) details["via"] = "online";
  return details;
}

Status Audit(sqlite::Connection& db, const audit::Actor& actor, std::string action,
             std::string object, const json::object& details, TimePoint now) {
  return audit::Append(db, {actor, std::move(action), std::move(object), json::serialize(details)},
                       now);
}

licensing::Entitlement FromProto(const v1::Entitlement& e) {
  licensing::Entitlement out;
  out.id = e.id();
  out.va = e.va();
  out.tag = e.tag();
  out.quantity = e.quantity();
  out.start = FromUnixSeconds(e.start());
  if (e.end() != 0) out.end = FromUnixSeconds(e.end());
  out.enforcement = e.enforcement() == v1::ENFORCEMENT_ENFORCED ? licensing::Enforcement::kEnforced
                                                                : licensing::Enforcement::kReported;
  out.floating = e.floating();
  out.export_controlled = e.export_controlled();
  return out;
}

// Central's policy overrides the configured one where it says something (0 = keep).
licensing::AuthorizationPolicy WithCentralPolicy(licensing::AuthorizationPolicy policy,
                                                 const v1::Policy& p) {
  if (p.authorization_validity_s() > 0) {
    policy.validity = std::chrono::seconds(p.authorization_validity_s());
  }
  if (p.authorization_renewal_s() > 0) {
    policy.renewal = std::chrono::seconds(p.authorization_renewal_s());
  }
  if (p.floating_lease_s() > 0) policy.floating_lease = std::chrono::seconds(p.floating_lease_s());
  return policy;
}

}  // namespace

struct SatelliteSync::State {
  bool enrolled = false;
  std::string account_id;
  std::string account_name;
  std::string central_key_pem;
  std::string central_url;
  int64_t last_request_sequence = 0;
  int64_t last_response_number = 0;
  std::string last_response_sha256;
  int64_t valid_until = 0;
  bool key_bound = false;
  int64_t last_export_at = 0;
  int64_t last_import_at = 0;
  int64_t usage_reported_until = 0;
  int64_t last_failed_import_at = 0;
  std::string last_failed_import_error;
  std::string audit_alarm;
  std::string audit_alarm_head;          // "seq:central hash" of the head that raised it
  std::string audit_alarm_acknowledged;  // the same, once an admin acknowledged it
  std::string restore_id;                // set by `outpost restore` (server/backup/backup.h)
  std::string restore_notice_hex;        // its RestoreNotice, sent with every request
};

Result<std::unique_ptr<SatelliteSync>> SatelliteSync::Create(
    DataDir dir, sqlite::Writer& writer, sqlite::ReaderPool& readers,
    licensing::OperatorService& licensing, const crypto::PrivateKey& signing_key,
    std::string satellite_id, config::SyncConfig config, std::string version) {
  std::unique_ptr<SatelliteSync> sync(new SatelliteSync(std::move(dir), writer, readers, licensing,
                                                        signing_key, std::move(satellite_id),
                                                        std::move(config), std::move(version)));
  OUTPOST_RETURN_IF_ERROR(sync->ApplyStoredPolicy());
  return sync;
}

SatelliteSync::SatelliteSync(DataDir dir, sqlite::Writer& writer, sqlite::ReaderPool& readers,
                             licensing::OperatorService& licensing,
                             const crypto::PrivateKey& signing_key, std::string satellite_id,
                             config::SyncConfig config, std::string version)
    : dir_(std::move(dir)),
      writer_(writer),
      readers_(readers),
      licensing_(licensing),
      signing_key_(signing_key),
      satellite_id_(std::move(satellite_id)),
      config_(std::move(config)),
      version_(std::move(version)) {}

SatelliteSync::~SatelliteSync() { Stop(); }

Status SatelliteSync::ApplyStoredPolicy() {
  // Not while an import lays a new central policy over the configured one.
  std::lock_guard exchange(exchange_mu_);
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto vas, kSatelliteMeta.Get(*lease, "virtual_accounts"));
  if (vas) licensing_.SetCentralVirtualAccounts(SplitLines(*vas));
  OUTPOST_ASSIGN_OR_RETURN(auto alarm, kSatelliteMeta.Get(*lease, "audit_alarm"));
  audit_alarm_ = alarm && !alarm->empty();
  OUTPOST_ASSIGN_OR_RETURN(auto policy_hex, kSatelliteMeta.Get(*lease, "central_policy"));
  if (!policy_hex || policy_hex->empty()) {
    licensing_.SetPolicy(licensing_.configured_policy());
    return Status::Ok();
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes, crypto::HexDecode(*policy_hex));
  v1::Policy stored;
  if (!stored.ParseFromString(bytes)) {
    return DataLoss("the stored central policy cannot be parsed; import a new sync response");
  }
  licensing::AuthorizationPolicy policy = WithCentralPolicy(licensing_.configured_policy(), stored);
  OUTPOST_RETURN_IF_ERROR(policy.Validate());
  licensing_.SetPolicy(policy);
  return Status::Ok();
}

Result<SatelliteSync::State> SatelliteSync::LoadState() const {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto meta, kSatelliteMeta.GetAll(*lease));
  State s;
  s.account_id = meta["account_id"];
  s.account_name = meta["account_name"];
  s.central_key_pem = meta["central_public_key"];
  s.central_url = meta["central_url"];
  s.enrolled = !s.account_id.empty() && !s.central_key_pem.empty();
  OUTPOST_ASSIGN_OR_RETURN(s.last_request_sequence, MetaInt(meta, "sync_last_request_sequence"));
  OUTPOST_ASSIGN_OR_RETURN(s.last_response_number, MetaInt(meta, "sync_last_response_number"));
  s.last_response_sha256 = meta["sync_last_response_sha256"];
  OUTPOST_ASSIGN_OR_RETURN(s.valid_until, MetaInt(meta, "sync_valid_until"));
  s.key_bound = meta["sync_key_bound"] == "1";
  OUTPOST_ASSIGN_OR_RETURN(s.last_failed_import_at, MetaInt(meta, "sync_last_failed_import_at"));
  s.last_failed_import_error = meta["sync_last_failed_import_error"];
  s.audit_alarm = meta["audit_alarm"];
  s.audit_alarm_head = meta["audit_alarm_head"];
  s.audit_alarm_acknowledged = meta["audit_alarm_acknowledged"];
  OUTPOST_ASSIGN_OR_RETURN(s.last_export_at, MetaInt(meta, "sync_last_export_at"));
  OUTPOST_ASSIGN_OR_RETURN(s.last_import_at, MetaInt(meta, "sync_last_import_at"));
  OUTPOST_ASSIGN_OR_RETURN(s.usage_reported_until, MetaInt(meta, "usage_reported_until"));
  s.restore_id = meta[std::string(store::kMetaRestoreId)];
  s.restore_notice_hex = meta[std::string(store::kMetaRestoreNotice)];
  return s;
}

// --- Export -----------------------------------------------------------------------------------

Result<ExportedRequest> SatelliteSync::Export(const audit::Actor& actor) {
  const bool online = online_exchange;
  std::lock_guard exchange(exchange_mu_);
  OUTPOST_ASSIGN_OR_RETURN(State st, LoadState());
  if (!st.enrolled) {
    return FailedPrecondition(
        "this satellite is not enrolled with central; initialise it with `outpost init "
        "--enroll FILE` using the enrollment bundle central wrote");
  }
  std::string secret;
  if (!st.key_bound) {
    OUTPOST_ASSIGN_OR_RETURN(secret, crypto::ReadSecretFile(dir_.enrollment_secret(), 1024));
  }
  OUTPOST_ASSIGN_OR_RETURN(auto central_key, crypto::PublicKey::FromPem(st.central_key_pem));
  const v1::InventorySummary inventory = licensing_.Inventory();
  ExportedRequest out;
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    const TimePoint now = licensing_.Now();
    const int64_t now_s = ToUnixSeconds(now);
    v1::SyncRequest request;
    request.set_satellite_id(satellite_id_);
    request.set_account_id(st.account_id);
    request.set_sequence(st.last_request_sequence + 1);
    request.set_satellite_public_key_pem(signing_key_.public_key().ToPem());
    if (!st.key_bound) {
      request.set_enrollment_proof(
          outpost::sync::EnrollmentProof(secret, signing_key_.public_key()));
    }
    request.set_central_key_id(central_key.KeyId());
    request.set_created_at(now_s);
    request.set_software_version(version_);
    *request.mutable_inventory() = inventory;
    if (!st.restore_notice_hex.empty()) {
      // A restored satellite tells central it went back in time (docs/operations.md).
      OUTPOST_ASSIGN_OR_RETURN(std::string notice, crypto::HexDecode(st.restore_notice_hex));
      if (!request.mutable_restore()->ParseFromString(notice) ||
          request.restore().restore_id() != st.restore_id) {
        return DataLoss("the stored restore notice cannot be parsed; the database is damaged");
      }
    }

    // Close usage reports: one per (VA, tag) for the whole hours sampled since the last export.
    const int64_t hour_start = now_s - now_s % 3600;
    int64_t from = st.usage_reported_until;
    {
      std::map<std::pair<std::string, std::string>, v1::UsageReport> reports;
      {
        OUTPOST_ASSIGN_OR_RETURN(
            auto stmt, db.Query("SELECT va, tag, hour, max_in_use FROM usage_samples WHERE hour >= "
                                "? AND hour < ? ORDER BY va, tag, hour",
                                from, hour_start));
        while (true) {
          OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          v1::UsageReport& r = reports[{stmt->ColumnText(0), stmt->ColumnText(1)}];
          if (r.report_id().empty()) {
            r.set_report_id(NewUuid());
            r.set_va(stmt->ColumnText(0));
            r.set_tag(stmt->ColumnText(1));
          }
          v1::UsageReport::Sample* sample = r.add_samples();
          sample->set_hour_start(stmt->ColumnInt64(2));
          sample->set_peak_in_use(stmt->ColumnInt64(3));
          r.set_peak_in_use(std::max(r.peak_in_use(), sample->peak_in_use()));
        }
      }
      for (auto& [key, r] : reports) {
        r.set_period_start(from != 0 ? from : r.samples(0).hour_start());
        r.set_period_end(hour_start);
        OUTPOST_RETURN_IF_ERROR(
            db.ExecPrepared("INSERT INTO usage_reports(report_id, period_start, period_end, "
                            "report, created_at) VALUES (?, ?, ?, ?, ?)",
                            r.report_id(), r.period_start(), r.period_end(),
                            sqlite::Blob{r.SerializeAsString()}, now_s)
                .status());
      }
      OUTPOST_RETURN_IF_ERROR(
          kSatelliteMeta.Set(db, "usage_reported_until", std::to_string(hour_start)));
    }
    {
      OUTPOST_ASSIGN_OR_RETURN(
          auto stmt, db.Query("SELECT report FROM usage_reports WHERE acknowledged_at IS NULL "
                              "ORDER BY period_start, report_id LIMIT ?",
                              kMaxUsageReportsPerRequest));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        if (!request.add_usage_reports()->ParseFromString(stmt->ColumnBlob(0))) {
          return DataLoss("a stored usage report cannot be parsed; the database is damaged");
        }
      }
    }
    {
      OUTPOST_ASSIGN_OR_RETURN(
          auto stmt, db.Query("SELECT id, from_va, to_va, tag, count, created_at, created_by "
                              "FROM license_moves WHERE reported_at IS NULL ORDER BY created_at "
                              "LIMIT ?",
                              kMaxItemsPerRequest));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        v1::LicenseMove* m = request.add_moves();
        m->set_move_id(stmt->ColumnText(0));
        m->set_from_va(stmt->ColumnText(1));
        m->set_to_va(stmt->ColumnText(2));
        m->set_tag(stmt->ColumnText(3));
        m->set_count(stmt->ColumnInt64(4));
        m->set_requested_at(stmt->ColumnInt64(5));
        m->set_requested_by(stmt->ColumnText(6));
      }
    }
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                               db.Query("SELECT id, license_key, va, requested_at FROM conversions "
                                        "WHERE status = 'PENDING' ORDER BY requested_at LIMIT ?",
                                        kMaxItemsPerRequest));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        v1::ConversionRequest* c = request.add_conversions();
        c->set_conversion_id(stmt->ColumnText(0));
        c->set_key(stmt->ColumnText(1));
        c->set_va(stmt->ColumnText(2));
        c->set_requested_at(stmt->ColumnInt64(3));
      }
    }
    // Sign the audit head now, so the request carries the log as it is at export.
    OUTPOST_RETURN_IF_ERROR(audit::SignCheckpoint(db, signing_key_, now));
    OUTPOST_ASSIGN_OR_RETURN(auto checkpoint, audit::LatestCheckpoint(db));
    if (checkpoint) {
      v1::AuditCheckpoint* head = request.mutable_audit_head();
      head->set_seq(checkpoint->seq);
      head->set_hash(crypto::HexEncode(checkpoint->hash));
      head->set_time_ms(checkpoint->time_ms);
      head->set_key_id(checkpoint->key_id);
      head->set_signature(checkpoint->signature);
    }

    v1::BundlePayload payload;
    payload.set_format_version(outpost::sync::kBundleFormatVersion);
    payload.set_kind(v1::BUNDLE_KIND_SYNC_REQUEST);
    *payload.mutable_sync_request() = request;
    OUTPOST_ASSIGN_OR_RETURN(out.bundle, outpost::sync::SignBundle(payload, signing_key_));
    out.sequence = request.sequence();
    out.usage_reports = request.usage_reports_size();
    out.moves = request.moves_size();
    out.conversions = request.conversions_size();
    OUTPOST_RETURN_IF_ERROR(
        kSatelliteMeta.Set(db, "sync_last_request_sequence", std::to_string(request.sequence())));
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "sync_last_export_at", std::to_string(now_s)));
    const std::string sha = crypto::Sha256Hex(outpost::sync::SerializeBundle(out.bundle));
    return Audit(db, actor, "sync.export", "sync-request:" + std::to_string(request.sequence()),
                 Via({{"sequence", request.sequence()},
                      {"usage_reports", out.usage_reports},
                      {"moves", out.moves},
                      {"conversions", out.conversions},
                      {"audit_head_seq", request.audit_head().seq()},
                      {"bundle_sha256", sha}},
                     online),
                 licensing_.AuditTime());
  }));
  return out;
}

// --- Import -----------------------------------------------------------------------------------

Status SatelliteSync::RecordRefusal(const audit::Actor& actor, const Status& why,
                                    std::string_view sha256) {
  const bool online = online_exchange;
  Status s = writer_.Run([&](sqlite::Connection& db) -> Status {
    // Shown by `sync status` until an import succeeds, offline as online.
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "sync_last_failed_import_at",
                                               std::to_string(ToUnixSeconds(licensing_.Now()))));
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "sync_last_failed_import_error", why.message()));
    return Audit(
        db, actor, "sync.import.refused", "sync-response",
        Via({{"reason", why.reason()}, {"message", why.message()}, {"bundle_sha256", sha256}},
            online),
        licensing_.AuditTime());
  });
  if (!s.ok()) spdlog::warn("recording a refused import failed: {}", s.ToString());
  return why;
}

Result<v1::SyncImportResult> SatelliteSync::Import(std::string_view bundle_bytes,
                                                   const audit::Actor& actor) {
  const bool online = online_exchange;
  std::lock_guard exchange(exchange_mu_);
  const std::string sha = crypto::Sha256Hex(bundle_bytes);
  auto refuse = [&](Status why) -> Status { return RecordRefusal(actor, why, sha); };
  OUTPOST_ASSIGN_OR_RETURN(State st, LoadState());
  if (!st.enrolled) {
    return refuse(FailedPrecondition(
        "this satellite is not enrolled with central, so it has no key to check a response "
        "with; initialise it with `outpost init --enroll FILE`"));
  }
  auto bundle = outpost::sync::DecodeBundle(bundle_bytes, "the response");
  if (!bundle.ok()) return refuse(bundle.status());
  OUTPOST_ASSIGN_OR_RETURN(auto central_key, crypto::PublicKey::FromPem(st.central_key_pem));
  auto payload = outpost::sync::OpenBundle(*bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, central_key);
  if (!payload.ok()) return refuse(payload.status());
  const v1::SyncResponse& response = payload->sync_response();

  v1::SyncImportResult result;
  result.set_response_number(response.response_number());
  result.set_answers_request_sequence(response.answers_request_sequence());
  outpost::sync::SatelliteSyncState state;
  state.satellite_id = satellite_id_;
  state.account_id = st.account_id;
  state.last_response_number = st.last_response_number;
  state.last_request_sequence = st.last_request_sequence;
  state.central_key = central_key;
  state.restore_id = st.restore_id;
  const TimePoint now = licensing_.Now();
  Status fresh = outpost::sync::CheckResponse(response, state, now);
  if (fresh.code() == Errc::kAlreadyExists) {
    if (sha != st.last_response_sha256) {
      return refuse(FailedPrecondition(
          "response " + std::to_string(response.response_number()) +
          " was already imported from a different file; this one is not the response central "
          "sent before, so it is refused"));
    }
    result.set_already_imported(true);
    result.set_entitlements(response.entitlements_size());
    result.set_valid_until(response.valid_until());
    result.set_valid_until_text(Text(response.valid_until()));
    result.set_message("response " + std::to_string(response.response_number()) +
                       " was already imported; nothing changed");
    return result;
  }
  if (!fresh.ok()) return refuse(fresh);

  std::vector<licensing::Entitlement> entitlements;
  // Times the clock's representation can hold (year 1970 to 9999): converting one beyond
  // about 292 years from 1970 would overflow (found by fuzzing).
  constexpr int64_t kLastSecond = 253'402'300'799;  // 9999-12-31T23:59:59Z
  for (const v1::Entitlement& e : response.entitlements()) {
    if (e.start() < 0 || e.start() > kLastSecond || e.end() < 0 || e.end() > kLastSecond) {
      return refuse(InvalidArgument("entitlement " + licensing::Quote(e.id()) +
                                    " of the response has a start or end outside the years "
                                    "1970 to 9999; central must be fixed"));
    }
    entitlements.push_back(FromProto(e));
    if (Status s = licensing::ValidateEntitlement(entitlements.back()); !s.ok()) {
      return refuse(s.WithContext("entitlement " + licensing::Quote(e.id()) + " of the response"));
    }
  }
  std::vector<std::string> vas;
  for (const std::string& va : response.virtual_accounts()) {
    if (Status s = licensing::ValidateVaName(va); !s.ok()) {
      return refuse(s.WithContext("the response's list of virtual accounts"));
    }
    vas.push_back(va);
  }
  std::string vas_text;
  for (const std::string& va : vas) vas_text += va + "\n";
  std::optional<crypto::PublicKey> rotated;
  if (response.has_key_rotation()) {
    auto key = outpost::sync::CheckKeyRotation(response.key_rotation(), central_key);
    if (!key.ok()) return refuse(key.status());
    if (key->KeyId() != central_key.KeyId()) rotated = std::move(*key);
  }
  licensing::AuthorizationPolicy policy =
      WithCentralPolicy(licensing_.configured_policy(), response.policy());
  if (Status s = policy.Validate(); !s.ok()) return refuse(s.WithContext("the response's policy"));

  bool replaced = false;
  Status applied = writer_.Run([&](sqlite::Connection& db) -> Status {
    // Moves made here that central has not answered yet stay applied on top of its set.
    std::set<std::string> answered;
    for (const auto& m : response.move_results()) answered.insert(m.move_id());
    std::vector<licensing::MoveRecord> pending;
    {
      OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                               db.Query("SELECT id, from_va, to_va, tag, count FROM license_moves "
                                        "WHERE reported_at IS NULL ORDER BY created_at"));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        if (answered.contains(stmt->ColumnText(0))) continue;
        licensing::MoveRecord m;
        m.id = stmt->ColumnText(0);
        m.from_va = stmt->ColumnText(1);
        m.to_va = stmt->ColumnText(2);
        m.tag = stmt->ColumnText(3);
        m.count = stmt->ColumnInt64(4);
        pending.push_back(std::move(m));
      }
    }
    replaced = true;
    OUTPOST_RETURN_IF_ERROR(licensing_.ReplaceEntitlementsOn(db, entitlements, pending));
    const int64_t now_s = ToUnixSeconds(now);
    int64_t acknowledged = 0;
    for (const std::string& id : response.acknowledged_report_ids()) {
      OUTPOST_ASSIGN_OR_RETURN(int n, db.ExecPrepared("UPDATE usage_reports SET acknowledged_at = "
                                                      "? WHERE report_id = ? AND "
                                                      "acknowledged_at IS NULL",
                                                      now_s, id));
      acknowledged += n;
    }
    result.set_acknowledged_usage_reports(acknowledged);
    for (const auto& m : response.move_results()) {
      *result.add_move_results() = m;
      const bool ok = m.status() == v1::MoveResult::STATUS_APPLIED;
      if (ok) {
        result.set_moves_applied(result.moves_applied() + 1);
      } else {
        result.set_moves_rejected(result.moves_rejected() + 1);
      }
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("UPDATE license_moves SET reported_at = ?, result = ?, "
                          "result_message = ? WHERE id = ?",
                          now_s, ok ? "APPLIED" : "REJECTED", m.message(), m.move_id())
              .status());
    }
    for (const auto& c : response.conversion_results()) {
      *result.add_conversion_results() = c;
      const bool ok = c.status() == v1::ConversionResult::STATUS_CONVERTED;
      if (ok) {
        result.set_conversions_converted(result.conversions_converted() + 1);
      } else {
        result.set_conversions_rejected(result.conversions_rejected() + 1);
      }
      std::string ids;
      for (const auto& id : c.entitlement_ids()) ids += (ids.empty() ? "" : ",") + id;
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("UPDATE conversions SET status = ?, message = ?, entitlement_ids = ?, "
                          "resolved_at = ? WHERE id = ? AND status = 'PENDING'",
                          ok ? "CONVERTED" : "REJECTED", c.message(), ids, now_s, c.conversion_id())
              .status());
    }
    if (rotated) {
      OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "central_public_key", rotated->ToPem()));
    }
    // Central is a witness of the audit chain: the highest head it ever received must still be
    // in the local chain. Deleting the end of the log and its checkpoints passes a local
    // `audit verify`, but not this.
    if (response.has_highest_audit_head()) {
      v1::CentralAuditHeadList heads;
      heads.set_satellite_id(satellite_id_);
      *heads.add_heads() = response.highest_audit_head();
      heads.mutable_heads(0)->set_satellite_id(satellite_id_);
      OUTPOST_ASSIGN_OR_RETURN(v1::AuditCompareHeadsResponse compared,
                               audit::CompareHeads(db, heads, signing_key_.public_key()));
      std::string alarm;
      const std::string witnessed =
          compared.heads_size() == 0
              ? ""
              : std::to_string(compared.heads(0).seq()) + ":" + compared.heads(0).central_hash();
      if (!compared.ok() && witnessed != st.audit_alarm_acknowledged) {
        const v1::AuditHeadComparison& c = compared.heads(0);
        alarm = "central holds audit head seq " + std::to_string(c.seq()) + " (sent with request " +
                std::to_string(c.request_sequence()) + "), which this chain " +
                (c.result() == "missing" ? "no longer contains (it ends at seq " +
                                               std::to_string(compared.local_last_seq()) + ")"
                                         : "does not match (" + c.result() + ")") +
                ": the end of the audit trail was cut off or rewritten; see docs/security.md";
        OUTPOST_RETURN_IF_ERROR(Audit(db, actor, "audit.witness.mismatch", "audit",
                                      {{"seq", c.seq()},
                                       {"central_hash", c.central_hash()},
                                       {"local_hash", c.local_hash()},
                                       {"result", c.result()},
                                       {"local_last_seq", compared.local_last_seq()}},
                                      licensing_.AuditTime()));
      }
      // Sticky: a chain grown again past the cut would match later heads, so a mismatch once
      // seen stays raised (the evidence is in the audit record above).
      if (!alarm.empty()) {
        OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "audit_alarm", alarm));
        OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "audit_alarm_head", witnessed));
      }
      result.set_audit_alarm(alarm.empty() ? st.audit_alarm : alarm);
    }
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"sync_last_response_number", std::to_string(response.response_number())},
             {"sync_last_response_sha256", sha},
             {"sync_valid_until", std::to_string(response.valid_until())},
             {"sync_last_import_at", std::to_string(now_s)},
             {"sync_key_bound", "1"},
             {"sync_last_failed_import_at", ""},
             {"sync_last_failed_import_error", ""},
             {"virtual_accounts", vas_text},
             {"central_policy", response.policy().SerializeAsString().empty()
                                    ? ""
                                    : crypto::HexEncode(response.policy().SerializeAsString())}}) {
      OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, key, value));
    }
    if (!response.account_name().empty()) {
      OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "account_name", response.account_name()));
    }
    return Audit(db, actor, "sync.import",
                 "sync-response:" + std::to_string(response.response_number()),
                 Via({{"response_number", response.response_number()},
                      {"answers_request_sequence", response.answers_request_sequence()},
                      {"entitlements", response.entitlements_size()},
                      {"acknowledged_usage_reports", acknowledged},
                      {"moves_applied", result.moves_applied()},
                      {"moves_rejected", result.moves_rejected()},
                      {"conversions_converted", result.conversions_converted()},
                      {"conversions_rejected", result.conversions_rejected()},
                      {"central_key_rotated", rotated.has_value()},
                      {"valid_until", Text(response.valid_until())},
                      {"bundle_sha256", sha}},
                     online),
                 licensing_.AuditTime());
  });
  if (!applied.ok()) {
    if (replaced) licensing_.MarkStale();  // the book changed with a transaction that did not
    return refuse(applied);
  }
  licensing_.SetPolicy(policy);
  licensing_.SetCentralVirtualAccounts(std::move(vas));
  if (!result.audit_alarm().empty()) audit_alarm_ = true;
  if (!st.key_bound) {
    // Central has bound this satellite's key: the one-time secret has done its job and is no
    // longer kept on disk.
    std::error_code ec;
    std::filesystem::remove(dir_.enrollment_secret(), ec);
    if (ec) {
      spdlog::warn("could not remove the used enrollment secret {}: {}",
                   dir_.enrollment_secret().string(), ec.message());
    }
  }
  overdue_ = false;
  result.set_entitlements(response.entitlements_size());
  result.set_valid_until(response.valid_until());
  result.set_valid_until_text(Text(response.valid_until()));
  result.set_central_key_rotated(rotated.has_value());
  result.set_message("imported response " + std::to_string(response.response_number()) + " (" +
                     std::to_string(response.entitlements_size()) + " entitlements)");
  return result;
}

// --- Online -----------------------------------------------------------------------------------

Result<v1::SyncImportResult> SatelliteSync::SyncNow(const audit::Actor& actor) {
  auto record = [this](const Status& s) {
    std::lock_guard lock(online_mu_);
    last_attempt_at_ = licensing_.Now();
    last_attempt_ok_ = s.ok();
    last_error_ = s.ok() ? "" : s.ToString();
    consecutive_failures_ = s.ok() ? 0 : consecutive_failures_ + 1;
  };
  auto fail = [&](Status s) -> Status {
    record(s);
    online_failures_total_++;
    Status audited = writer_.Run([&](sqlite::Connection& db) {
      return Audit(db, actor, "sync.online.failure", "central",
                   {{"reason", s.reason()}, {"message", s.message()}}, licensing_.AuditTime());
    });
    if (!audited.ok()) spdlog::warn("recording a sync failure failed: {}", audited.ToString());
    spdlog::warn("online sync failed: {}", s.ToString());
    return s;
  };
  online_exchange = true;
  struct EndOnline {
    ~EndOnline() { online_exchange = false; }
  } end_online;
  OUTPOST_ASSIGN_OR_RETURN(State st, LoadState());
  const config::SyncConfig cfg = config();
  const std::string url = cfg.central_url.empty() ? st.central_url : cfg.central_url;
  if (url.empty()) {
    return FailedPrecondition(
        "no central URL: set [sync] central_url in outpost.toml, or sync offline with `outpost "
        "sync export` and `outpost sync import`");
  }
  auto ca = crypto::ReadSmallFile(dir_.central_ca(), 1 << 20);
  if (!ca.ok()) {
    return fail(FailedPrecondition("central's CA certificate " + dir_.central_ca().string() +
                                   " is missing; enrol with `outpost init --enroll FILE`"));
  }
  auto exported = Export(actor);
  if (!exported.ok()) return fail(exported.status());
  net::ClientOptions options;
  options.base_url = url;
  options.ca_pem = *ca;
  options.proxy_url = cfg.proxy;
  auto client = net::HttpsClient::Create(options);
  if (!client.ok()) return fail(client.status());
  auto answer =
      (*client)->Send("POST", "/v1/sync", outpost::sync::SerializeBundle(exported->bundle),
                      "application/x-protobuf", {{"accept", "application/x-protobuf"}});
  if (!answer.ok()) return fail(answer.status().WithContext("central at " + url));
  if (answer->status / 100 != 2) {
    return fail(net::StatusFromResponse(*answer).WithContext("central at " + url));
  }
  auto imported = Import(answer->body, actor);
  if (!imported.ok()) return fail(imported.status());
  record(Status::Ok());
  return imported;
}

Result<v1::SyncStatus> SatelliteSync::AcknowledgeAuditAlarm(std::string_view reason,
                                                            const audit::Actor& actor) {
  constexpr size_t kMaxReasonBytes = 1000;
  if (reason.empty() || reason.size() > kMaxReasonBytes) {
    return InvalidArgument("say why the audit alarm is acknowledged (--reason TEXT, 1 to " +
                           std::to_string(kMaxReasonBytes) +
                           " bytes): what was found and done; it is kept in the audit trail");
  }
  std::lock_guard exchange(exchange_mu_);
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto meta, kSatelliteMeta.GetAll(db));
    if (meta["audit_alarm"].empty()) {
      return FailedPrecondition("there is no audit alarm to acknowledge (outpost sync status)");
    }
    OUTPOST_RETURN_IF_ERROR(Audit(db, actor, "audit.witness.acknowledge", "audit",
                                  {{"alarm", meta["audit_alarm"]},
                                   {"central_head", meta["audit_alarm_head"]},
                                   {"reason", std::string(reason)}},
                                  licensing_.AuditTime()));
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, "audit_alarm", ""));
    return kSatelliteMeta.Set(db, "audit_alarm_acknowledged", meta["audit_alarm_head"]);
  }));
  audit_alarm_ = false;
  return GetStatus();
}

void SatelliteSync::CheckOverdue() {
  auto st = LoadState();
  if (!st.ok() || st->valid_until == 0) return;
  const bool now_overdue = ToUnixSeconds(licensing_.Now()) >= st->valid_until;
  if (now_overdue && !overdue_.exchange(true)) {
    spdlog::error("SYNC_OVERDUE: the last sync response expired at {}; sync with central",
                  Text(st->valid_until));
    Status s = writer_.Run([&](sqlite::Connection& db) {
      return Audit(db, audit::Actor::System(), "alarm.sync_overdue", "satellite:" + satellite_id_,
                   {{"alarm", "SYNC_OVERDUE"}, {"valid_until", Text(st->valid_until)}},
                   licensing_.AuditTime());
    });
    if (!s.ok()) spdlog::warn("recording SYNC_OVERDUE failed: {}", s.ToString());
  } else if (!now_overdue) {
    overdue_ = false;
  }
}

v1::SyncStatus SatelliteSync::GetStatus() const {
  v1::SyncStatus out;
  out.set_satellite_id(satellite_id_);
  const config::SyncConfig cfg = config();
  out.set_mode(cfg.mode == config::SyncMode::kOnline ? "online" : "offline");
  auto st = LoadState();
  if (st.ok()) {
    out.set_enrolled(st->enrolled);
    out.set_account_id(st->account_id);
    out.set_account_name(st->account_name);
    out.set_central_url(cfg.central_url.empty() ? st->central_url : cfg.central_url);
    if (auto key = crypto::PublicKey::FromPem(st->central_key_pem); key.ok()) {
      out.set_central_key_id(key->KeyId());
    }
    out.set_last_request_sequence(st->last_request_sequence);
    out.set_last_export_at(st->last_export_at);
    out.set_last_export_at_text(Text(st->last_export_at));
    out.set_last_response_number(st->last_response_number);
    out.set_last_import_at(st->last_import_at);
    out.set_last_import_at_text(Text(st->last_import_at));
    out.set_valid_until(st->valid_until);
    out.set_valid_until_text(Text(st->valid_until));
    out.set_sync_overdue(st->valid_until != 0 &&
                         ToUnixSeconds(licensing_.Now()) >= st->valid_until);
    out.set_last_failed_import_at(st->last_failed_import_at);
    out.set_last_failed_import_at_text(Text(st->last_failed_import_at));
    out.set_last_failed_import_error(st->last_failed_import_error);
    out.set_audit_alarm(st->audit_alarm);
  } else {
    out.set_last_error(st.status().ToString());
  }
  if (auto lease = readers_.Acquire(); lease.ok()) {
    auto count = [&](const char* sql) -> int64_t {
      auto n = (*lease)->QueryInt64(sql);
      return n.ok() ? *n : 0;
    };
    out.set_pending_usage_reports(
        count("SELECT count(*) FROM usage_reports WHERE acknowledged_at IS NULL"));
    out.set_pending_moves(count("SELECT count(*) FROM license_moves WHERE reported_at IS NULL"));
    out.set_pending_conversions(count("SELECT count(*) FROM conversions WHERE status = 'PENDING'"));
    out.set_entitlements(count("SELECT count(*) FROM entitlements"));
  }
  std::lock_guard lock(online_mu_);
  if (last_attempt_at_ != TimePoint()) {
    out.set_last_attempt_at(ToUnixSeconds(last_attempt_at_));
    out.set_last_attempt_at_text(FormatRfc3339(last_attempt_at_));
  }
  out.set_last_attempt_ok(last_attempt_ok_);
  out.set_last_error(last_error_);
  out.set_consecutive_failures(consecutive_failures_);
  if (config_.mode == config::SyncMode::kOnline && next_attempt_at_ != TimePoint()) {
    out.set_next_attempt_at(ToUnixSeconds(next_attempt_at_));
    out.set_next_attempt_at_text(FormatRfc3339(next_attempt_at_));
  }
  return out;
}

Result<v1::Conversion> SatelliteSync::QueueConversion(std::string_view key, std::string_view va,
                                                      const auth::Principal& by) {
  OUTPOST_RETURN_IF_ERROR(licensing_.CheckVirtualAccount(va));
  if (key.empty() || key.size() > kMaxConversionKeyBytes) {
    return InvalidArgument("the license key must be 1 to 128 characters, as central printed it");
  }
  for (unsigned char c : key) {
    if (c <= 0x20 || c >= 0x7f) {
      return InvalidArgument("the license key " + licensing::Quote(key) +
                             " contains a space or a character that is not printable ASCII");
    }
  }
  v1::Conversion out;
  out.set_id(NewUuid());
  out.set_key_prefix(std::string(key.substr(0, std::min<size_t>(key.size(), 12))));
  out.set_va(std::string(va));
  out.set_requested_by(by.actor().ToString());
  out.set_status("PENDING");
  OUTPOST_RETURN_IF_ERROR(writer_.Run([&](sqlite::Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t queued,
        db.QueryInt64("SELECT count(*) FROM conversions WHERE license_key = ? AND status != "
                      "'REJECTED'",
                      key));
    if (queued > 0) {
      return AlreadyExists(
          "this license key is already queued or converted; see `outpost "
          "conversions`");
    }
    const TimePoint now = licensing_.Now();
    out.set_requested_at(ToUnixSeconds(now));
    out.set_requested_at_text(FormatRfc3339(now));
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("INSERT INTO conversions(id, license_key, va, requested_at, requested_by) "
                        "VALUES (?, ?, ?, ?, ?)",
                        out.id(), key, va, out.requested_at(), out.requested_by())
            .status());
    return Audit(db, by.actor(), "conversion.queue", "conversion:" + out.id(),
                 {{"va", out.va()}, {"key_prefix", out.key_prefix()}}, licensing_.AuditTime());
  }));
  return out;
}

Result<v1::ListConversionsResponse> SatelliteSync::Conversions() const {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      lease->Query("SELECT id, license_key, va, requested_at, requested_by, status, message, "
                   "entitlement_ids FROM conversions ORDER BY requested_at DESC"));
  v1::ListConversionsResponse out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::Conversion* c = out.add_conversions();
    c->set_id(stmt->ColumnText(0));
    const std::string key = stmt->ColumnText(1);
    c->set_key_prefix(key.substr(0, std::min<size_t>(key.size(), 12)));
    c->set_va(stmt->ColumnText(2));
    c->set_requested_at(stmt->ColumnInt64(3));
    c->set_requested_at_text(Text(stmt->ColumnInt64(3)));
    c->set_requested_by(stmt->ColumnText(4));
    c->set_status(stmt->ColumnText(5));
    c->set_message(stmt->ColumnText(6));
    std::string ids = stmt->ColumnText(7);
    size_t start = 0;
    while (!ids.empty() && start <= ids.size()) {
      size_t comma = ids.find(',', start);
      if (comma == std::string::npos) comma = ids.size();
      c->add_entitlement_ids(ids.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace outpost::server::sync
