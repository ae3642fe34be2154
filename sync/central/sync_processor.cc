// The transaction body of a sync request (central.h, "SYNC REQUESTS"). Everything that can
// refuse the request is checked before the first write; from the first write on, an error
// makes the writer roll the whole request back.

#include <set>
#include <utility>

#include "common/crypto/hash.h"
#include "common/ids.h"
#include "common/time.h"
#include "sync/bundle/display.h"
#include "sync/bundle/freshness.h"
#include "sync/bundle/trust.h"
#include "sync/central/admission.h"
#include "sync/central/central_internal.h"
#include "sync/central/request_checks.h"

namespace outpost::central {
namespace {

using sync::Printable;

struct SatelliteRow {
  std::string account_id;
  std::string verifier;  // empty once bound
  std::string public_key_pem;
  int64_t last_sequence = 0;
  std::string last_request_sha256;
  std::string last_response;
  int64_t last_response_number = 0;
  int64_t revoked_at = 0;
  std::string revoked_reason;
  std::string restore_id;  // the restore central accepted last, or ""
};

Result<SatelliteRow> LoadSatellite(sqlite::Connection& db, std::string_view satellite_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      db.Query("SELECT account_id, enrollment_verifier, public_key_pem, last_sequence, "
               "last_request_sha256, last_response, last_response_number, coalesce(revoked_at, 0), "
               "coalesce(revoked_reason, ''), restore_id FROM satellites WHERE id = ?",
               satellite_id));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) {
    return NotFound("satellite " + Printable(satellite_id) +
                    " is not enrolled at this central; enrol it with `outpost central satellite "
                    "enroll` and install the new enrollment bundle on the satellite");
  }
  SatelliteRow s;
  s.account_id = stmt->ColumnText(0);
  s.verifier = stmt->ColumnBlob(1);
  s.public_key_pem = stmt->ColumnText(2);
  s.last_sequence = stmt->ColumnInt64(3);
  s.last_request_sha256 = stmt->ColumnBlob(4);
  s.last_response = stmt->ColumnBlob(5);
  s.last_response_number = stmt->ColumnInt64(6);
  s.revoked_at = stmt->ColumnInt64(7);
  s.revoked_reason = stmt->ColumnText(8);
  s.restore_id = stmt->ColumnText(9);
  return s;
}

// A satellite's quotas over the last 24 hours (issue 17, finding 2): requests processed, usage
// reports received and the bytes they take. What a well-behaved satellite sends stays far below.
Status CheckQuotas(sqlite::Connection& db, const std::string& satellite_id,
                   const v1::SyncRequest& request, int64_t now) {
  const int64_t since = now - 24 * 3600;
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t requests,
      db.QueryInt64("SELECT count(*) FROM sync_requests WHERE satellite_id = ? AND "
                    "received_at > ?",
                    satellite_id, since));
  if (requests >= kMaxRequestsPerDay) {
    return ResourceExhausted("satellite " + satellite_id + " sent " + std::to_string(requests) +
                             " sync requests in the last 24 hours; the quota is " +
                             std::to_string(kMaxRequestsPerDay) +
                             ". Sync less often (sync.interval), or ask the vendor");
  }
  const int64_t items = request.moves_size() + request.conversions_size();
  if (items > 0) {
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t recent_items,
        db.QueryInt64("SELECT total(items) FROM sync_requests WHERE satellite_id = ? AND "
                      "received_at > ?",
                      satellite_id, since));
    if (recent_items + items > kMaxItemsPerDay) {
      return ResourceExhausted(
          "satellite " + satellite_id + " sent " + std::to_string(recent_items) +
          " license moves and conversions in the last 24 hours, and this request brings " +
          std::to_string(items) + " more; the quota is " + std::to_string(kMaxItemsPerDay) +
          " a day. They stay on the satellite and go with a later request");
    }
  }
  if (request.usage_reports_size() == 0) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT count(*), total(length(report)) FROM "
                                               "usage_reports WHERE satellite_id = ? AND "
                                               "received_at > ?",
                                               satellite_id, since));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  const int64_t reports = row ? stmt->ColumnInt64(0) : 0;
  const int64_t bytes = row ? stmt->ColumnInt64(1) : 0;
  int64_t new_bytes = 0;
  for (const auto& r : request.usage_reports()) new_bytes += static_cast<int64_t>(r.ByteSizeLong());
  if (reports + request.usage_reports_size() > kMaxUsageReportsPerDay ||
      bytes + new_bytes > kMaxUsageBytesPerDay) {
    return ResourceExhausted(
        "satellite " + satellite_id + " sent " + std::to_string(reports) + " usage reports (" +
        std::to_string(bytes >> 10) + " KiB) in the last 24 hours, and this request brings " +
        std::to_string(request.usage_reports_size()) + " more; the quota is " +
        std::to_string(kMaxUsageReportsPerDay) + " reports and " +
        std::to_string(kMaxUsageBytesPerDay >> 20) +
        " MiB a day. The reports stay on the satellite and go with a later request");
  }
  return Status::Ok();
}

// The id a moved piece gets in `to_va`: "<original id>@<to_va>", or the original itself when
// units move back to the VA they were granted in. The same convention as the satellite's
// PoolBook::ApplyMove, so both sides name the pieces alike.
Result<std::string> MovedPieceId(sqlite::Connection& db, const std::string& id,
                                 const std::string& to_va) {
  const std::string base = id.substr(0, id.find('@'));
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT va FROM entitlements WHERE id = ?", base));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (row && stmt->ColumnText(0) == to_va) return base;
  return base + "@" + to_va;
}

Result<v1::MoveResult> ApplyMove(sqlite::Connection& db, const std::string& account_id,
                                 const v1::LicenseMove& move, const std::string& origin,
                                 int64_t now) {
  v1::MoveResult result;
  result.set_move_id(move.move_id());
  const auto reject = [&](std::string message) {
    result.set_status(v1::MoveResult::STATUS_REJECTED);
    result.set_message(std::move(message));
    return result;
  };
  for (const std::string* va : {&move.from_va(), &move.to_va()}) {
    if (!ValidateVaName(*va).ok()) return reject("invalid virtual account name");
    OUTPOST_ASSIGN_OR_RETURN(bool exists, VaExists(db, account_id, *va));
    if (!exists) return reject("account has no virtual account '" + Printable(*va) + "'");
  }
  if (move.from_va() == move.to_va())
    return reject("source and target virtual account are the same");
  if (!ValidateTag(move.tag()).ok()) return reject("invalid license tag");
  if (move.count() < 1 || move.count() > kMaxQuantity) {
    return reject("count " + std::to_string(move.count()) + " is not between 1 and " +
                  std::to_string(kMaxQuantity));
  }
  // Units valid now, the soonest-ending first (perpetual last) so the longest terms stay.
  struct Piece {
    v1::Entitlement e;
  };
  std::vector<Piece> pieces;
  int64_t available = 0;
  {
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt,
        db.Query(std::string("SELECT ") + kEntitlementColumns +
                     " FROM entitlements WHERE account_id = ? AND va = ? AND tag = ? AND "
                     "quantity > 0 AND start <= ? AND (end_at = 0 OR end_at > ?) "
                     "ORDER BY end_at = 0, end_at, id",
                 account_id, move.from_va(), move.tag(), now, now));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      pieces.push_back({EntitlementFromRow(*stmt)});
      available += pieces.back().e.quantity();
    }
  }
  if (available < move.count()) {
    return reject("only " + std::to_string(available) + " of " + Printable(move.tag()) +
                  " are valid in virtual account '" + Printable(move.from_va()) + "'; " +
                  std::to_string(move.count()) + " requested");
  }
  int64_t remaining = move.count();
  for (const Piece& piece : pieces) {
    if (remaining == 0) break;
    const int64_t take = std::min(remaining, piece.e.quantity());
    remaining -= take;
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "UPDATE entitlements SET quantity = quantity - ? WHERE id = ?", take, piece.e.id()));
    OUTPOST_ASSIGN_OR_RETURN(std::string target, MovedPieceId(db, piece.e.id(), move.to_va()));
    OUTPOST_ASSIGN_OR_RETURN(int changed,
                             db.ExecPrepared("UPDATE entitlements SET quantity = quantity + ? "
                                             "WHERE id = ? AND account_id = ? AND va = ?",
                                             take, target, account_id, move.to_va()));
    if (changed == 0) {
      v1::Entitlement moved = piece.e;
      moved.set_id(target);
      moved.set_va(move.to_va());
      moved.set_quantity(take);
      OUTPOST_RETURN_IF_ERROR(InsertEntitlement(db, account_id, moved, origin, now));
    }
  }
  result.set_status(v1::MoveResult::STATUS_APPLIED);
  result.set_message("moved " + std::to_string(move.count()) + " of " + Printable(move.tag()) +
                     " from '" + Printable(move.from_va()) + "' to '" + Printable(move.to_va()) +
                     "'");
  return result;
}

Result<v1::ConversionResult> ApplyConversion(sqlite::Connection& db, const std::string& account_id,
                                             const std::string& satellite_id,
                                             const v1::ConversionRequest& conversion, int64_t now) {
  v1::ConversionResult result;
  result.set_conversion_id(conversion.conversion_id());
  const auto reject = [&](std::string message) {
    result.set_status(v1::ConversionResult::STATUS_REJECTED);
    result.set_message(std::move(message));
    return result;
  };
  const std::string key = NormalizePakKey(conversion.key());
  std::string pak_id, pak_account, pak_va, prefix, converted_by;
  int64_t converted_at = 0;
  v1::Entitlement e;
  {
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt,
        db.Query("SELECT id, account_id, va, tag, quantity, start, end_at, enforcement, "
                 "floating, export_controlled, converted_at, converted_by_satellite, key_prefix "
                 "FROM paks WHERE key_sha256 = ?",
                 sqlite::Blob{crypto::Sha256(key)}));
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return reject("unknown license key; check it was typed correctly");
    pak_id = stmt->ColumnText(0);
    pak_account = stmt->ColumnText(1);
    pak_va = stmt->ColumnText(2);
    e.set_tag(stmt->ColumnText(3));
    e.set_quantity(stmt->ColumnInt64(4));
    e.set_start(stmt->ColumnInt64(5));
    e.set_end(stmt->ColumnInt64(6));
    e.set_enforcement(static_cast<v1::Enforcement>(stmt->ColumnInt64(7)));
    e.set_floating(stmt->ColumnInt64(8) != 0);
    e.set_export_controlled(stmt->ColumnInt64(9) != 0);
    converted_at = stmt->ColumnInt64(10);
    converted_by = stmt->ColumnText(11);
    prefix = stmt->ColumnText(12);
  }
  // Another account's key is, to this account, a key that does not exist.
  if (pak_account != account_id) return reject("unknown license key; check it was typed correctly");
  if (converted_at != 0) {
    return reject("license key " + prefix + "... was already converted at " +
                  FormatRfc3339Seconds(converted_at) + " (by satellite " + converted_by +
                  "); a license key converts once");
  }
  const std::string va = conversion.va().empty() ? pak_va : conversion.va();
  if (!ValidateVaName(va).ok()) return reject("invalid virtual account name");
  OUTPOST_ASSIGN_OR_RETURN(bool va_exists, VaExists(db, account_id, va));
  if (!va_exists) return reject("account has no virtual account '" + Printable(va) + "'");
  e.set_id(NewUuid());
  e.set_va(va);
  OUTPOST_RETURN_IF_ERROR(InsertEntitlement(db, account_id, e, "pak:" + pak_id, now));
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
      "UPDATE paks SET converted_at = ?, converted_by_satellite = ?, entitlement_id = ? "
      "WHERE id = ?",
      now, satellite_id, e.id(), pak_id));
  result.set_status(v1::ConversionResult::STATUS_CONVERTED);
  result.set_message("converted license key " + prefix + "... into " +
                     std::to_string(e.quantity()) + " of " + Printable(e.tag()) + " in '" +
                     Printable(va) + "'");
  result.add_entitlement_ids(e.id());
  return result;
}

// The result recorded for a move or conversion id this satellite sent before, if any.
Result<bool> StoredMoveResult(sqlite::Connection& db, const std::string& satellite_id,
                              const std::string& move_id, v1::MoveResult* result) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT status, message FROM moves WHERE satellite_id = ? AND "
                                    "move_id = ?",
                                    satellite_id, move_id));
  OUTPOST_ASSIGN_OR_RETURN(bool seen, stmt->Step());
  if (seen) {
    result->set_move_id(move_id);
    result->set_status(static_cast<v1::MoveResult::Status>(stmt->ColumnInt64(0)));
    result->set_message(stmt->ColumnText(1));
  }
  return seen;
}

Result<bool> StoredConversionResult(sqlite::Connection& db, const std::string& satellite_id,
                                    const std::string& conversion_id,
                                    v1::ConversionResult* result) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT status, message, entitlement_id FROM conversions WHERE "
                                    "satellite_id = ? AND conversion_id = ?",
                                    satellite_id, conversion_id));
  OUTPOST_ASSIGN_OR_RETURN(bool seen, stmt->Step());
  if (seen) {
    result->set_conversion_id(conversion_id);
    result->set_status(static_cast<v1::ConversionResult::Status>(stmt->ColumnInt64(0)));
    result->set_message(stmt->ColumnText(1));
    if (!stmt->ColumnText(2).empty()) result->add_entitlement_ids(stmt->ColumnText(2));
  }
  return seen;
}

// Which sequence a request must follow, given the restores of its satellite
// (docs/operations.md, "What a restore means for sync"). A request that names the restore
// central accepted last (or none, for a satellite never restored) follows the satellite's last
// processed sequence. A request naming a restore central has not seen announces it: the restored
// satellite exported up to the backup's last request, so its sequence restarts there, once. Any
// other request belongs to a line of history a restore replaced and is refused.
struct RestoreCheck {
  int64_t last_sequence = 0;
  bool is_new = false;
};

// A restore starts a satellite's sequence again; more than this in a day is not an operator
// recovering from a failure, and would let a satellite reuse sequence numbers at will.
constexpr int64_t kMaxRestoresPerDay = 10;

Result<RestoreCheck> CheckRestore(sqlite::Connection& db, const std::string& satellite_id,
                                  const SatelliteRow& satellite, const v1::SyncRequest& request,
                                  int64_t now) {
  const std::string& id = request.restore().restore_id();
  if (id == satellite.restore_id) return RestoreCheck{satellite.last_sequence, false};
  const std::string what =
      "sync request " + std::to_string(request.sequence()) + " of satellite " + satellite_id;
  if (id.empty()) {
    return FailedPrecondition(
        what + " comes from before the satellite was restored from a backup (restore " +
        satellite.restore_id +
        "): it was exported by a copy that was not restored, or it is an old file; only the "
        "restored satellite may sync now, so export a new request there (docs/operations.md)");
  }
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t known, db.QueryInt64("SELECT count(*) FROM satellite_restores WHERE satellite_id = ? "
                                   "AND restore_id = ?",
                                   satellite_id, id));
  if (known != 0) {
    return FailedPrecondition(
        what + " comes from restore " + Printable(id) + ", which a later restore (" +
        (satellite.restore_id.empty() ? std::string("-") : satellite.restore_id) +
        ") replaced; only the satellite restored last may sync, so export a new request there "
        "(docs/operations.md)");
  }
  const int64_t from = request.restore().backup_last_request_sequence();
  if (from < 0 || request.sequence() <= from) {
    return InvalidArgument(what + " announces restore " + Printable(id) +
                           " of a backup that had exported up to request " + std::to_string(from) +
                           ", but the request is not newer than that");
  }
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t recent,
      db.QueryInt64("SELECT count(*) FROM satellite_restores WHERE satellite_id = ? AND "
                    "accepted_at > ?",
                    satellite_id, now - 24 * 3600));
  if (recent >= kMaxRestoresPerDay) {
    return ResourceExhausted(what + " announces restore " + Printable(id) + ", but " +
                             std::to_string(recent) +
                             " restores of this satellite were accepted in the last 24 hours; "
                             "the quota is " +
                             std::to_string(kMaxRestoresPerDay) + ". Ask the vendor");
  }
  return RestoreCheck{from, true};
}

// `report` without the hours another report of the same satellite, VA and tag already holds.
Result<v1::UsageReport> WithoutReportedHours(sqlite::Connection& db,
                                             const std::string& satellite_id,
                                             const std::string& account_id,
                                             const v1::UsageReport& report) {
  std::set<int64_t> reported;
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      db.Query("SELECT report FROM usage_reports WHERE account_id = ? AND period_start < ? AND "
               "period_end > ? AND satellite_id = ? AND va = ? AND tag = ? AND report_id != ?",
               account_id, report.period_end(), report.period_start(), satellite_id, report.va(),
               report.tag(), report.report_id()));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::UsageReport stored;
    if (!stored.ParseFromString(stmt->ColumnBlob(0))) continue;
    for (const auto& sample : stored.samples()) reported.insert(sample.hour_start());
  }
  if (reported.empty()) return report;
  v1::UsageReport trimmed = report;
  trimmed.clear_samples();
  trimmed.set_peak_in_use(0);
  for (const auto& sample : report.samples()) {
    if (reported.contains(sample.hour_start())) continue;
    *trimmed.add_samples() = sample;
    trimmed.set_peak_in_use(std::max(trimmed.peak_in_use(), sample.peak_in_use()));
  }
  return trimmed;
}

}  // namespace

Result<SyncOutcome> ApplySyncRequest(sqlite::Connection& db, const VerifiedRequest& verified,
                                     const SyncContext& context) {
  // 1. The satellite as it is now: AdmitSyncRequest checked the request against it outside this
  //    transaction, so it must still be bound to the key the request verified with (or, on first
  //    contact, still unbound), and not revoked meanwhile.
  const std::string& satellite_id = verified.satellite_id;
  const std::string_view request_sha256 = verified.request_sha256;
  const v1::SyncRequest& request = verified.payload.sync_request();
  OUTPOST_ASSIGN_OR_RETURN(SatelliteRow satellite, LoadSatellite(db, satellite_id));
  if (satellite.revoked_at != 0) {
    return RevokedSatellite(satellite_id, satellite.revoked_at, satellite.revoked_reason);
  }
  const bool first_contact = verified.first_contact;
  if (first_contact ? !satellite.public_key_pem.empty()
                    : satellite.public_key_pem != verified.key_pem) {
    return FailedPrecondition("the key of satellite " + satellite_id +
                              " changed while this request was being checked; send it again");
  }
  OUTPOST_ASSIGN_OR_RETURN(crypto::PublicKey satellite_key,
                           crypto::PublicKey::FromPem(verified.key_pem));
  // AdmitSyncRequest refused any other central key; answer with the one the request names.
  const bool names_next_key =
      context.next_signing_key != nullptr &&
      request.central_key_id() == context.next_signing_key->public_key().KeyId();
  const crypto::PrivateKey& answer_key =
      names_next_key ? *context.next_signing_key : *context.signing_key;

  // 3. Freshness. An exact repeat of the last request gets the stored answer (its response
  //    was probably lost on the way back); anything else not newer is a replay.
  SyncOutcome outcome;
  v1::CentralSyncOutcome& summary = outcome.summary;
  summary.set_satellite_id(satellite_id);
  summary.set_account_id(satellite.account_id);
  summary.set_request_sequence(request.sequence());
  OUTPOST_ASSIGN_OR_RETURN(RestoreCheck restore,
                           CheckRestore(db, satellite_id, satellite, request, context.now));
  if (Status fresh = sync::CheckRequest(request, restore.last_sequence); !fresh.ok()) {
    if (fresh.code() != Errc::kAlreadyExists) return fresh;
    if (satellite.last_request_sha256 != request_sha256 || satellite.last_response.empty()) {
      return FailedPrecondition("sync request " + std::to_string(request.sequence()) +
                                " of satellite " + satellite_id +
                                " was already processed with different content (replay "
                                "refused); export a new request on the satellite");
    }
    outcome.response_bytes = satellite.last_response;
    summary.set_resent(true);
    sync::SignedBundle stored;
    if (stored.ParseFromString(satellite.last_response)) {
      sync::BundlePayload p;
      if (p.ParseFromString(stored.payload())) *summary.mutable_response() = p.sync_response();
    }
    return outcome;
  }
  OUTPOST_RETURN_IF_ERROR(CheckQuotas(db, satellite_id, request, context.now));

  // 4. Apply. From here every error rolls the whole request back.
  const int64_t now = context.now;
  OUTPOST_RETURN_IF_ERROR(
      db.ExecPrepared("DELETE FROM sync_requests WHERE satellite_id = ? AND received_at < ?",
                      satellite_id, now - 2 * 24 * 3600));
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
      "INSERT INTO sync_requests(satellite_id, sequence, received_at, bytes, items) "
      "VALUES (?, ?, ?, ?, ?)",
      satellite_id, request.sequence(), now, static_cast<int64_t>(request.ByteSizeLong()),
      static_cast<int64_t>(request.moves_size() + request.conversions_size())));
  v1::SyncResponse& response = *summary.mutable_response();
  if (first_contact) {
    OUTPOST_RETURN_IF_ERROR(
        db.ExecPrepared("UPDATE satellites SET public_key_pem = ?, key_id = ?, bound_at = ?, "
                        "enrollment_verifier = NULL WHERE id = ?",
                        satellite_key.ToPem(), satellite_key.KeyId(), now, satellite_id));
    summary.set_key_bound(true);
  }
  const std::string& restore_id = request.restore().restore_id();
  if (restore.is_new) {
    const v1::RestoreNotice& n = request.restore();
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO satellite_restores(satellite_id, restore_id, backup_id, backup_created_at, "
        "restored_at, backup_last_request_sequence, backup_audit_head_seq, "
        "previous_last_sequence, accepted_at, accepted_request_sequence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        satellite_id, restore_id, n.backup_id(), n.backup_created_at(), n.restored_at(),
        n.backup_last_request_sequence(), n.backup_audit_head_seq(), satellite.last_sequence, now,
        request.sequence()));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("UPDATE satellites SET restore_id = ? WHERE id = ?",
                                            restore_id, satellite_id));
    summary.set_restore_accepted(restore_id);
  }
  std::set<std::string> acknowledged;
  for (const v1::UsageReport& original : request.usage_reports()) {
    // A restored satellite closes again the hours its backup had not reported yet; the copy
    // that ran on after the backup may have reported them already. Those hours count once.
    OUTPOST_ASSIGN_OR_RETURN(
        v1::UsageReport r,
        restore_id.empty()
            ? Result<v1::UsageReport>(original)
            : WithoutReportedHours(db, satellite_id, satellite.account_id, original));
    OUTPOST_ASSIGN_OR_RETURN(
        int inserted,
        db.ExecPrepared("INSERT INTO usage_reports(satellite_id, report_id, account_id, va, tag, "
                        "period_start, period_end, peak_in_use, report, request_sequence, "
                        "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT(satellite_id, report_id) DO NOTHING",
                        satellite_id, r.report_id(), satellite.account_id, r.va(), r.tag(),
                        r.period_start(), r.period_end(), r.peak_in_use(),
                        sqlite::Blob{r.SerializeAsString()}, request.sequence(), now));
    summary.set_new_usage_reports(summary.new_usage_reports() + inserted);
    if (acknowledged.insert(r.report_id()).second) {
      response.add_acknowledged_report_ids(r.report_id());
    }
  }
  const std::string move_origin_prefix = "move:" + satellite_id + "/";
  for (const v1::LicenseMove& move : request.moves()) {
    v1::MoveResult* result = response.add_move_results();
    OUTPOST_ASSIGN_OR_RETURN(bool seen, StoredMoveResult(db, satellite_id, move.move_id(), result));
    if (seen) continue;  // resent until a response is imported: the first answer stands
    OUTPOST_ASSIGN_OR_RETURN(*result, ApplyMove(db, satellite.account_id, move,
                                                move_origin_prefix + move.move_id(), now));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO moves(satellite_id, move_id, status, message, request_sequence, "
        "processed_at) VALUES (?, ?, ?, ?, ?, ?)",
        satellite_id, move.move_id(), static_cast<int64_t>(result->status()), result->message(),
        request.sequence(), now));
  }
  for (const v1::ConversionRequest& conversion : request.conversions()) {
    v1::ConversionResult* result = response.add_conversion_results();
    OUTPOST_ASSIGN_OR_RETURN(
        bool seen, StoredConversionResult(db, satellite_id, conversion.conversion_id(), result));
    if (seen) continue;
    OUTPOST_ASSIGN_OR_RETURN(
        *result, ApplyConversion(db, satellite.account_id, satellite_id, conversion, now));
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO conversions(satellite_id, conversion_id, status, message, entitlement_id, "
        "request_sequence, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        satellite_id, conversion.conversion_id(), static_cast<int64_t>(result->status()),
        result->message(), result->entitlement_ids_size() > 0 ? result->entitlement_ids(0) : "",
        request.sequence(), now));
  }
  // The highest head this satellite sent with an earlier request: its chain must still contain
  // it. (Not this request's own head, which the satellite just signed from whatever chain it has
  // now: a chain cut off and grown again past the old head would match itself.)
  {
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt, db.Query("SELECT request_sequence, received_at, seq, hash, time_ms, key_id, "
                            "signature FROM audit_heads WHERE satellite_id = ? AND "
                            "restore_id = ? ORDER BY seq DESC, request_sequence DESC LIMIT 1",
                            satellite_id, restore_id));
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) {
      v1::CentralAuditHead* highest = response.mutable_highest_audit_head();
      highest->set_satellite_id(satellite_id);
      highest->set_request_sequence(stmt->ColumnInt64(0));
      highest->set_received_at(stmt->ColumnInt64(1));
      v1::AuditCheckpoint* head = highest->mutable_head();
      head->set_seq(stmt->ColumnInt64(2));
      head->set_hash(stmt->ColumnText(3));
      head->set_time_ms(stmt->ColumnInt64(4));
      head->set_key_id(stmt->ColumnText(5));
      head->set_signature(stmt->ColumnBlob(6));
    }
  }

  if (request.has_audit_head()) {
    const v1::AuditCheckpoint& head = request.audit_head();
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
        "INSERT INTO audit_heads(satellite_id, request_sequence, received_at, seq, hash, "
        "time_ms, key_id, signature, restore_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        satellite_id, request.sequence(), now, head.seq(), head.hash(), head.time_ms(),
        head.key_id(), sqlite::Blob{head.signature()}, restore_id));
  }

  // 5. The answer: the complete entitlement set after everything above.
  response.set_satellite_id(satellite_id);
  response.set_account_id(satellite.account_id);
  OUTPOST_ASSIGN_OR_RETURN(*response.mutable_account_name(), AccountName(db, satellite.account_id));
  response.set_response_number(satellite.last_response_number + 1);
  response.set_answers_request_sequence(request.sequence());
  response.set_restore_id(restore_id);
  response.set_issued_at(now);
  response.set_valid_until(now + context.response_validity_s);
  OUTPOST_ASSIGN_OR_RETURN(auto entitlements, LoadEntitlements(db, satellite.account_id));
  for (auto& e : entitlements) *response.add_entitlements() = std::move(e);
  OUTPOST_ASSIGN_OR_RETURN(auto vas, LoadVas(db, satellite.account_id));
  for (auto& va : vas) response.add_virtual_accounts(std::move(va));
  *response.mutable_policy() = context.policy;
  // A satellite still trusting the old key learns the new one from this answer (signed by the
  // old key it trusts) and names the new key from its next request on.
  if (context.rotation != nullptr && !names_next_key) {
    *response.mutable_key_rotation() = *context.rotation;
  }

  sync::BundlePayload answer;
  answer.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  *answer.mutable_sync_response() = response;
  OUTPOST_ASSIGN_OR_RETURN(sync::SignedBundle signed_answer, sync::SignBundle(answer, answer_key));
  outcome.response_bytes = sync::SerializeBundle(signed_answer);
  OUTPOST_RETURN_IF_ERROR(db.ExecPrepared(
      "UPDATE satellites SET last_sequence = ?, last_request_sha256 = ?, last_response = ?, "
      "last_response_number = ?, last_sync_at = ?, software_version = ?, inventory = ? "
      "WHERE id = ?",
      request.sequence(), sqlite::Blob{request_sha256}, sqlite::Blob{outcome.response_bytes},
      response.response_number(), now, request.software_version(),
      sqlite::Blob{request.inventory().SerializeAsString()}, satellite_id));
  return outcome;
}

}  // namespace outpost::central
