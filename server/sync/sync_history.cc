// SatelliteSync::History: the exchanges with central as the audit trail records them. Every
// export, import, refused import and failed online attempt appends one record in the same
// transaction as its effect, so the trail is the history; nothing else needs to be kept.

#include <boost/json.hpp>

#include "common/time.h"
#include "server/sync/satellite_sync.h"

namespace outpost::server::sync {
namespace {

namespace json = boost::json;

// Walks the audit_log_sync partial index (schema version 9) newest first.
constexpr std::string_view kSelectExchanges =
    "SELECT seq, time_ms, action, details FROM audit_log "
    "WHERE substr(action, 1, 5) = 'sync.' AND action IN ('sync.export', 'sync.import', "
    "'sync.import.refused', 'sync.online.failure') ORDER BY seq DESC LIMIT ?1";

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

v1::SyncExchange FromRecord(int64_t seq, int64_t time_ms, const std::string& action,
                            const json::object& d) {
  v1::SyncExchange e;
  e.set_audit_seq(seq);
  e.set_at(FormatRfc3339Millis(time_ms));
  const bool online = Str(d, "via") == "online";
  if (action == "sync.export") {
    e.set_kind(online ? "online" : "export");
    e.set_sequence(Int(d, "sequence"));
    e.set_result("ok");
    e.set_usage_reports(Int(d, "usage_reports"));
    e.set_moves(Int(d, "moves"));
    e.set_conversions(Int(d, "conversions"));
    e.set_summary("request " + std::to_string(e.sequence()) +
                  " exported: " + std::to_string(e.usage_reports()) + " usage report(s), " +
                  std::to_string(e.moves()) + " move(s), " + std::to_string(e.conversions()) +
                  " conversion(s)");
  } else if (action == "sync.import") {
    e.set_kind(online ? "online" : "import");
    e.set_sequence(Int(d, "answers_request_sequence"));
    e.set_result("ok");
    e.set_usage_reports(Int(d, "acknowledged_usage_reports"));
    e.set_moves(Int(d, "moves_applied") + Int(d, "moves_rejected"));
    e.set_conversions(Int(d, "conversions_converted") + Int(d, "conversions_rejected"));
    e.set_summary("response " + std::to_string(Int(d, "response_number")) +
                  " imported: " + std::to_string(Int(d, "entitlements")) + " entitlement(s), " +
                  std::to_string(e.usage_reports()) + " usage report(s) acknowledged, " +
                  std::to_string(Int(d, "moves_applied")) + " move(s) applied, " +
                  std::to_string(Int(d, "moves_rejected")) + " rejected, " +
                  std::to_string(Int(d, "conversions_converted")) + " conversion(s) converted, " +
                  std::to_string(Int(d, "conversions_rejected")) + " rejected; valid until " +
                  Str(d, "valid_until"));
  } else if (action == "sync.import.refused") {
    e.set_kind(online ? "online" : "import");
    e.set_result(Str(d, "message").empty() ? Str(d, "reason") : Str(d, "message"));
    e.set_summary("response refused; nothing changed");
  } else {  // sync.online.failure
    e.set_kind("online");
    e.set_result(Str(d, "message").empty() ? Str(d, "reason") : Str(d, "message"));
    e.set_summary("online exchange with central failed");
  }
  return e;
}

}  // namespace

Result<v1::SyncHistory> SatelliteSync::History(int64_t limit) const {
  if (limit < 1 || limit > 1000) {
    return InvalidArgument("the history's limit must be from 1 to 1000, not " +
                           std::to_string(limit));
  }
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, lease->Query(kSelectExchanges, limit));
  v1::SyncHistory out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    boost::system::error_code ec;
    json::value details = json::parse(stmt->ColumnText(3), ec);
    // Details that are not an object (only after the database was edited) leave the counts 0.
    const json::object empty;
    *out.add_exchanges() =
        FromRecord(stmt->ColumnInt64(0), stmt->ColumnInt64(1), stmt->ColumnText(2),
                   !ec && details.is_object() ? details.as_object() : empty);
  }
  return out;
}

}  // namespace outpost::server::sync
