// The admin routes the console's pages read (docs/console-api.md): the overview, usage charts
// with a forecast, a device's and a license tag's detail, and the history of sync exchanges.
// They compute nothing the other routes do not: they put together what the licensing service,
// sync status and the audit trail already answer.

#include <algorithm>
#include <cmath>
#include <map>

#include "common/crypto/x509.h"
#include "common/net/codec.h"
#include "common/time.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "server/api/admin_route_def.h"
#include "server/audit/export.h"
#include "server/licensing/operator_service.h"
#include "server/sync/satellite_sync.h"

namespace outpost::server::api {
namespace {

using auth::Permission;
using auth::Principal;

constexpr int64_t kDetailEvents = 50;
constexpr int64_t kDetailHolders = 100;

// The not_after of the first certificate of a PEM file (the leaf of a chain); "" when it cannot
// be read (shown as unknown).
std::string CertificateNotAfter(const std::filesystem::path& file) {
  if (file.empty()) return "";
  auto chain = crypto::Certificate::LoadChainFile(file);
  if (!chain.ok() || chain->empty()) return "";
  return FormatRfc3339(chain->front().not_after());
}

// The worse of two compliance statuses.
int Severity(const std::string& status) {
  if (status == "OUT_OF_COMPLIANCE") return 3;
  if (status == "EXPIRED") return 2;
  if (status == "EXPIRING") return 1;
  return 0;
}

Result<v1::ConsoleOverview> Overview(const AdminContext& c) {
  v1::ConsoleOverview out;
  const v1::SyncStatus st = c.sync->GetStatus();
  v1::ConsoleOverview::Satellite* sat = out.mutable_satellite();
  sat->set_name(st.satellite_id());
  sat->set_account(st.account_name().empty() ? st.account_id() : st.account_name());
  sat->set_key_fingerprint(c.signing_key->public_key().Fingerprint());
  sat->set_tls_certificate_not_after(CertificateNotAfter(c.tls_certificate_file));
  sat->set_satellite_certificate_not_after(CertificateNotAfter(c.ca_certificate_file));

  const TimePoint now = c.licensing->Now();
  OUTPOST_ASSIGN_OR_RETURN(auto counts, c.licensing->CountDevices(now - std::chrono::hours(24)));
  out.mutable_devices()->set_registered(counts.registered);
  out.mutable_devices()->set_active_24h(counts.active);

  const bool online = st.mode() == "online";
  v1::ConsoleOverview::Sync* sync = out.mutable_sync();
  sync->set_mode(st.mode());
  sync->set_last_sync_at(st.last_import_at_text());
  // Online: the next attempt; offline: the operator must import a response before the last one
  // expires.
  sync->set_next_due_at(online && !st.next_attempt_at_text().empty() ? st.next_attempt_at_text()
                                                                     : st.valid_until_text());
  sync->set_overdue(st.sync_overdue());

  auto alarm = [&out](std::string code, std::string since, std::string message,
                      std::string action) {
    v1::ConsoleOverview::Alarm* a = out.add_alarms();
    a->set_code(std::move(code));
    a->set_since(std::move(since));
    a->set_message(std::move(message));
    a->set_action(std::move(action));
  };
  if (st.sync_overdue()) {
    alarm("SYNC_OVERDUE", st.valid_until_text(),
          "The last sync response from central expired" +
              (st.valid_until_text().empty() ? std::string(" (no response imported yet)")
                                             : " at " + st.valid_until_text()) +
              "; the satellite keeps serving, but central has not heard from it since.",
          online ? "Sync page > Sync now (or `outpost sync now`); if it fails, the Sync page shows "
                   "why: check [sync] central_url, the network path and central's certificate."
                 : "Run a sync: Sync page > Download request, carry the file to central, then "
                   "Sync page > Upload response with central's answer (or `outpost sync export` "
                   "and `outpost sync import`).");
  }
  if (c.licensing->InClockRollback()) {
    std::string since;
    if (c.readers != nullptr) {
      audit::ExportFilter filter;
      filter.action = "alarm.clock_rollback";
      if (auto lease = c.readers->Acquire(); lease.ok()) {
        auto last = audit::NewestRecords(**lease, filter, 1);
        if (last.ok() && !last->empty()) since = last->front().time();
      }
    }
    alarm("CLOCK_ROLLBACK", since,
          "The system clock is behind the latest time this satellite has seen; expiry decisions "
          "keep using the later time, so setting the clock back extends nothing.",
          "Set the system clock right (check NTP and the host's time zone settings). The alarm "
          "clears by itself once the clock is back within the tolerance; the audit trail keeps "
          "the alarm.clock_rollback record for the auditors.");
  }
  if (!st.audit_alarm().empty()) {
    alarm("AUDIT_TRUNCATED", "", st.audit_alarm(),
          "Investigate: Audit page > Verify, and compare the chain with the heads central holds. "
          "Then an admin acknowledges the alarm with a reason (POST "
          "/v1/admin/audit/alarm/acknowledge), which is kept in the audit trail.");
  }
  if (online && st.consecutive_failures() > 0) {
    alarm("SYNC_FAILING", st.last_attempt_at_text(),
          "The last " + std::to_string(st.consecutive_failures()) +
              " online exchange(s) with central failed: " + st.last_error(),
          "Check [sync] central_url, the network path to central and its certificate; the "
          "satellite retries with backoff, and Sync page > Sync now retries at once.");
  }

  std::map<std::string, v1::ConsoleOverview::Compliance> per_va;
  const v1::ListLicensesResponse licenses = c.licensing->Licenses(std::nullopt);
  for (const v1::LicensePool& pool : licenses.pools()) {
    v1::ConsoleOverview::Compliance& row = per_va[pool.va()];
    row.set_va(pool.va());
    const int severity = Severity(pool.status());
    if (severity >= 2) {
      row.set_tags_out_of_compliance(row.tags_out_of_compliance() + 1);
    } else {
      row.set_tags_in_compliance(row.tags_in_compliance() + 1);
    }
    if (row.status().empty() || severity > Severity(row.status())) row.set_status(pool.status());
  }
  for (auto& [va, row] : per_va) *out.add_compliance() = std::move(row);
  return out;
}

// --- Usage ------------------------------------------------------------------------------------

struct UsageRange {
  Duration span;
  Duration bucket;
};

Result<UsageRange> ParseRange(const std::string& range) {
  using std::chrono::hours;
  if (range == "24h") return UsageRange{hours(24), hours(1)};
  if (range == "7d") return UsageRange{hours(24 * 7), hours(1)};
  if (range == "30d") return UsageRange{hours(24 * 30), hours(24)};
  if (range == "1y") return UsageRange{hours(24 * 365), hours(24)};
  return InvalidArgument("query parameter 'range' must be 24h, 7d, 30d or 1y, not '" + range + "'");
}

// The (va, tag) pool as GET /v1/admin/licenses lists it; kNotFound naming what exists otherwise.
Result<v1::LicensePool> FindPool(const AdminContext& c, const std::string& va,
                                 const std::string& tag) {
  if (va.empty() || tag.empty()) {
    return InvalidArgument("name the virtual account and the license tag (va and tag)");
  }
  OUTPOST_RETURN_IF_ERROR(c.licensing->CheckVirtualAccount(va));
  // The one pool, not the VA's every row (a VA can have thousands of tags).
  licensing::LicenseQuery query;
  query.va = va;
  query.tag = tag;
  OUTPOST_ASSIGN_OR_RETURN(v1::ListLicensesResponse licenses, c.licensing->ListLicenses(query));
  if (licenses.pools_size() == 1) return licenses.pools(0);
  return NotFound("virtual account '" + va + "' has no license tag '" + tag +
                  "'; GET /v1/admin/licenses?va=" + va + " lists its tags");
}

Result<v1::UsageResponse> Usage(const AdminContext& c, const net::Request& req) {
  const std::string va = QueryOr(req, "va", "");
  const std::string tag = QueryOr(req, "tag", "");
  const std::string range_name = QueryOr(req, "range", "7d");
  OUTPOST_ASSIGN_OR_RETURN(UsageRange range, ParseRange(range_name));
  OUTPOST_ASSIGN_OR_RETURN(v1::LicensePool pool, FindPool(c, va, tag));
  const TimePoint now = c.licensing->Now();
  const int64_t bucket_s = std::chrono::duration_cast<std::chrono::seconds>(range.bucket).count();
  const int64_t now_s = ToUnixSeconds(now);
  const int64_t first_bucket =
      (now_s - std::chrono::duration_cast<std::chrono::seconds>(range.span).count()) / bucket_s *
          bucket_s +
      bucket_s;
  // Highest hourly mark per bucket (hours are closed into usage_samples by the sweep).
  std::map<int64_t, int64_t> buckets;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, c.readers->Acquire());
    OUTPOST_ASSIGN_OR_RETURN(
        auto stmt, lease->Query("SELECT hour, max_in_use FROM usage_samples WHERE va = ?1 AND "
                                "tag = ?2 AND hour >= ?3 ORDER BY hour",
                                va, tag, first_bucket));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      const int64_t at = stmt->ColumnInt64(0) / bucket_s * bucket_s;
      int64_t& value = buckets[at];
      value = std::max(value, stmt->ColumnInt64(1));
    }
  }
  // The hour in progress is not sampled yet: what is in use now stands for it.
  int64_t& current = buckets[now_s / bucket_s * bucket_s];
  current = std::max(current, pool.in_use());

  v1::UsageResponse out;
  out.set_va(va);
  out.set_tag(tag);
  out.set_range(range_name);
  v1::UsageHighWater* high = out.mutable_high_water();
  double n = 0, sum_x = 0, sum_y = 0, sum_xx = 0, sum_xy = 0;
  for (const auto& [at, in_use] : buckets) {
    v1::UsagePoint* p = out.add_points();
    p->set_at(FormatRfc3339(FromUnixSeconds(at)));
    p->set_in_use(in_use);
    p->set_purchased(pool.purchased());
    if (high->at().empty() || in_use > high->in_use()) {
      high->set_in_use(in_use);
      high->set_at(p->at());
    }
    const double x = static_cast<double>(at - now_s) / 86400.0;  // days, near 0 for precision
    const double y = static_cast<double>(in_use);
    n += 1;
    sum_x += x;
    sum_y += y;
    sum_xx += x * x;
    sum_xy += x * y;
  }
  // Ordinary least squares over the points: slope = (n·Σxy − Σx·Σy) / (n·Σx² − (Σx)²).
  v1::UsageForecast* forecast = out.mutable_forecast();
  const double denominator = n * sum_xx - sum_x * sum_x;
  const double slope = n >= 2 && denominator > 0 ? (n * sum_xy - sum_x * sum_y) / denominator : 0;
  forecast->set_trend_per_day(slope);
  const int64_t available = pool.available();
  char trend[64];
  std::snprintf(trend, sizeof trend, "%+.2f per day", slope);
  if (available <= 0 && pool.purchased() > 0 && pool.in_use() >= pool.purchased()) {
    forecast->set_days_until_exhausted(0);
    forecast->set_message(tag + " is exhausted in " + va + " now (" +
                          std::to_string(pool.in_use()) + " in use of " +
                          std::to_string(pool.purchased()) + ")");
  } else if (n < 2) {
    forecast->set_days_until_exhausted(-1);
    forecast->set_message("not enough samples over " + range_name + " for a trend");
  } else if (slope <= 1e-9) {
    forecast->set_days_until_exhausted(-1);
    forecast->set_message("use of " + tag + " is flat or falling (" + trend +
                          "): not heading for exhaustion");
  } else {
    const auto days = static_cast<int64_t>(std::ceil(static_cast<double>(available) / slope));
    forecast->set_days_until_exhausted(days);
    forecast->set_message("at this trend (" + std::string(trend) + "), " + tag + " runs out in " +
                          va + " in about " + std::to_string(days) + " day" +
                          (days == 1 ? "" : "s"));
  }
  return out;
}

// --- Details ----------------------------------------------------------------------------------

Result<v1::DeviceDetail> DeviceDetail(const AdminContext& c, const std::string& id) {
  OUTPOST_ASSIGN_OR_RETURN(v1::DeviceDetail out, c.licensing->DeviceDetail(id));
  OUTPOST_ASSIGN_OR_RETURN(auto lease, c.readers->Acquire());
  audit::ExportFilter filter;
  filter.device = id;
  OUTPOST_ASSIGN_OR_RETURN(auto events, audit::NewestRecords(*lease, filter, kDetailEvents));
  for (v1::AuditRecord& e : events) *out.add_events() = std::move(e);
  return out;
}

Result<v1::LicenseDetail> LicenseDetail(const AdminContext& c, const std::string& va,
                                        const std::string& tag) {
  v1::LicenseDetail out;
  OUTPOST_ASSIGN_OR_RETURN(*out.mutable_license(), FindPool(c, va, tag));
  licensing::DeviceQuery holders;
  holders.tag = tag;
  holders.va = va;
  holders.limit = kDetailHolders;
  OUTPOST_ASSIGN_OR_RETURN(v1::ListDevicesResponse devices, c.licensing->SearchDevices(holders));
  for (const v1::Device& d : devices.devices()) {
    v1::TagHolder* h = out.add_devices();
    h->set_id(d.instance_id());
    h->set_udi(d.udi());
    h->set_hostname(d.hostname());
    for (const v1::Holding& held : d.holdings()) {
      if (held.tag() == tag) h->set_count(held.count());
    }
  }
  out.set_more_devices(!devices.next_after().empty());
  OUTPOST_ASSIGN_OR_RETURN(v1::ListReservationsResponse reservations, c.licensing->Reservations());
  for (const v1::Reservation& r : reservations.reservations()) {
    if (r.va() == va && r.tag() == tag) *out.add_reservations() = r;
  }
  OUTPOST_ASSIGN_OR_RETURN(auto lease, c.readers->Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto events, audit::NewestTagRecords(*lease, va, tag, kDetailEvents));
  for (v1::AuditRecord& e : events) *out.add_events() = std::move(e);
  return out;
}

}  // namespace

std::vector<RouteDef> ConsoleRoutes(const AdminContext& context) {
  std::vector<RouteDef> r;
  auto add = [&r](std::string method, std::string pattern, Permission permission,
                  std::string summary, AdminFn fn) {
    r.push_back({{std::move(method), std::move(pattern), Access::kPermission, permission,
                  std::move(summary)},
                 std::move(fn)});
  };
  // Every body answers a Result: encoded when ok, the error otherwise.
  auto answer = [](net::Request& req, const auto& result) {
    if (!result.ok()) return net::ErrorResponse(req, result.status());
    return net::Encode(req, *result);
  };
  const AdminContext c = context;
  add("GET", "/v1/admin/overview", Permission::kReadLicenses,
      "the console's overview: identity, devices, sync, alarms with what to do, compliance per VA",
      [c, answer](const Principal&, net::Request& req) { return answer(req, Overview(c)); });
  add("GET", "/v1/admin/usage", Permission::kReadLicenses,
      "in use against purchased over time for one tag (?va=, ?tag=, ?range=24h|7d|30d|1y), "
      "high-water mark and a run-out forecast",
      [c, answer](const Principal&, net::Request& req) { return answer(req, Usage(c, req)); });
  add("GET", "/v1/admin/devices/{id}", Permission::kReadDevices,
      "one device: what the listing shows, its certificate and its 50 newest audit records",
      [c, answer](const Principal&, net::Request& req) {
        return answer(req, DeviceDetail(c, req.path_params["id"]));
      });
  add("GET", "/v1/admin/licenses/{va}/{tag}", Permission::kReadLicenses,
      "one license tag of a VA: its compliance row, up to 100 holders, its reservations and its "
      "50 newest audit records",
      [c, answer](const Principal&, net::Request& req) {
        return answer(req, LicenseDetail(c, req.path_params["va"], req.path_params["tag"]));
      });
  add("GET", "/v1/admin/sync/history", Permission::kReadLicenses,
      "the exchanges with central, newest first (?limit= up to 1000, default 50)",
      [c, answer](const Principal&, net::Request& req) {
        auto limit = ParseCount("limit", QueryOr(req, "limit", "50"), 1, 1000);
        if (!limit.ok()) return net::ErrorResponse(req, limit.status());
        return answer(req, c.sync->History(*limit));
      });
  return r;
}

}  // namespace outpost::server::api
