// LicensingImpl's read side: listings, the device's own view, the book's snapshot and the
// inventory for sync. Memory answers what it holds; the columns it does not hold (hostname,
// token, times) come from the devices table.

#include <map>

#include "common/time.h"
#include "server/licensing/service_internal.h"
#include "spdlog/spdlog.h"

namespace outpost::server::licensing {

// --- Reading ----------------------------------------------------------------------------------

namespace {

void AddPool(const ComplianceRow& r, v1::ListLicensesResponse& out) {
  v1::LicensePool* p = out.add_pools();
  p->set_va(r.va);
  p->set_tag(r.tag);
  p->set_purchased(r.purchased);
  p->set_in_use(r.in_use);
  p->set_reserved(r.reserved);
  p->set_available(r.available);
  p->set_status(std::string(ComplianceStatusName(r.status)));
  p->set_enforcement(std::string(EnforcementName(r.enforcement)));
  p->set_floating(r.floating);
  p->set_export_controlled(r.export_controlled);
  if (r.next_end) {
    p->set_next_end(ToUnixSeconds(*r.next_end));
    p->set_next_end_text(FormatRfc3339(*r.next_end));
  }
  if (r.expired_at) {
    p->set_expired_at(ToUnixSeconds(*r.expired_at));
    p->set_expired_at_text(FormatRfc3339(*r.expired_at));
  }
}

}  // namespace

v1::ListLicensesResponse LicensingImpl::Licenses(std::optional<std::string_view> va) const {
  LicenseQuery query;
  if (va) query.va = std::string(*va);
  auto out = ListLicenses(query);  // no search and no cursor: nothing to refuse
  // value() &&: a move; `*std::move(out)` would copy every row (Result has no operator* &&).
  return out.ok() ? std::move(out).value() : v1::ListLicensesResponse();
}

Result<v1::ListLicensesResponse> LicensingImpl::ListLicenses(const LicenseQuery& query) const {
  OUTPOST_RETURN_IF_ERROR(CheckLicenseSearch(query.search));
  ComplianceQuery walk;
  walk.va = query.va;
  walk.tag = query.tag;
  walk.search = query.search;
  if (query.limit) {
    if (*query.limit < 1 || *query.limit > kMaxLicensePage) {
      return InvalidArgument("query parameter 'limit' is " + std::to_string(*query.limit) +
                             "; pass a number of rows from 1 to " +
                             std::to_string(kMaxLicensePage));
    }
    walk.limit = static_cast<size_t>(*query.limit);
    walk.max_walk = kLicenseMaxWalk;
    if (!query.after.empty()) {
      OUTPOST_ASSIGN_OR_RETURN(walk.after, DecodeLicenseCursor(query.after));
    }
  } else if (!query.after.empty()) {
    return InvalidArgument("query parameter 'after' needs 'limit' (a page size)");
  }
  const TimePoint now = Now();
  CompliancePage page;
  {
    std::shared_lock lock(mu_);
    page = book_.ComplianceMatching(now, walk);
  }
  v1::ListLicensesResponse out;
  out.set_computed_at(ToUnixSeconds(now));
  out.set_computed_at_text(FormatRfc3339(now));
  for (const ComplianceRow& r : page.rows) AddPool(r, out);
  if (page.resume_after) {
    out.set_next_after(EncodeLicenseCursor(page.resume_after->first, page.resume_after->second));
  }
  return out;
}

v1::Device LicensingImpl::ToDeviceLocked(const RegisteredDevice& d) const {
  v1::Device out;
  out.set_instance_id(d.instance_id);
  out.set_va(d.va);
  out.set_udi(d.udi.ToString());
  out.set_pid(d.udi.pid);
  out.set_serial(d.udi.serial);
  out.set_export_allowed(d.export_allowed);
  // A renewal since the last Sweep is newer than the row (Sweep writes it).
  if (auto seen = seen_.find(d.instance_id); seen != seen_.end()) {
    out.set_last_seen_at(ToUnixSeconds(seen->second));
    out.set_last_seen_at_text(FormatRfc3339(seen->second));
  }
  out.set_certificate_not_after(ToUnixSeconds(d.cert_not_after));
  out.set_certificate_not_after_text(FormatRfc3339(d.cert_not_after));
  for (const ConsumptionRow& r : book_.DeviceConsumption(d.instance_id)) {
    v1::Holding* h = out.add_holdings();
    h->set_tag(r.tag);
    h->set_count(r.count);
    h->set_valid_until(ToUnixSeconds(r.valid_until));
    h->set_valid_until_text(FormatRfc3339(r.valid_until));
  }
  return out;
}

Status LicensingImpl::FillFromRow(sqlite::Connection& db, v1::Device& device) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query("SELECT hostname, token_id, registered_at, last_seen_at "
                                    "FROM devices WHERE instance_id = ?",
                                    device.instance_id()));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return Status::Ok();  // released meanwhile: what memory knew is the answer
  device.set_hostname(stmt->ColumnText(0));
  device.set_token_id(stmt->ColumnText(1));
  const TimePoint registered_at = FromUnixSeconds(stmt->ColumnInt64(2));
  device.set_registered_at(ToUnixSeconds(registered_at));
  device.set_registered_at_text(FormatRfc3339(registered_at));
  if (device.last_seen_at_text().empty() && !stmt->ColumnIsNull(3)) {
    const TimePoint last_seen_at = FromUnixSeconds(stmt->ColumnInt64(3));
    device.set_last_seen_at(ToUnixSeconds(last_seen_at));
    device.set_last_seen_at_text(FormatRfc3339(last_seen_at));
  }
  return Status::Ok();
}

Result<v1::Device> LicensingImpl::Self(const DeviceIdentity& device) const {
  v1::Device out;
  {
    std::shared_lock lock(mu_);
    const std::optional<RegisteredDevice> d = registry_->Find(device.instance_id);
    if (!d || d->cert_serial != device.cert_serial) {
      return Unauthenticated("instance " + device.instance_id + " was released or replaced");
    }
    out = ToDeviceLocked(*d);
  }
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_RETURN_IF_ERROR(FillFromRow(*lease, out));
  return out;
}

v1::ListDevicesResponse LicensingImpl::Devices(std::optional<std::string_view> va,
                                               size_t limit) const {
  v1::ListDevicesResponse out;
  {
    std::shared_lock lock(mu_);
    bool more = false;
    for (const std::string& id : registry_->SortedIds(va, limit, &more)) {
      *out.add_devices() = ToDeviceLocked(*registry_->Find(id));
    }
    out.set_truncated(more);
  }
  if (out.devices().empty()) return out;
  // The rest of each row, without holding mu_: those columns change only with the row's delete.
  Status s = [&]() -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
    for (v1::Device& d : *out.mutable_devices()) OUTPOST_RETURN_IF_ERROR(FillFromRow(*lease, d));
    return Status::Ok();
  }();
  if (!s.ok()) spdlog::warn("listing devices without their hostnames and times: {}", s.message());
  return out;
}

Result<v1::ListDevicesResponse> LicensingImpl::SearchDevices(const DeviceQuery& query) const {
  OUTPOST_RETURN_IF_ERROR(CheckDeviceQuery(query, cursor_key_));
  DeviceSearchPage page;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
    OUTPOST_ASSIGN_OR_RETURN(page, licensing::SearchDevices(*lease, query, cursor_key_));
  }
  v1::ListDevicesResponse out;
  {
    std::shared_lock lock(mu_);
    for (const DeviceSearchRow& row : page.rows) {
      // Released since the reader's snapshot: not listed.
      const std::optional<RegisteredDevice> d = registry_->Find(row.instance_id);
      if (!d) continue;
      v1::Device* device = out.add_devices();
      *device = ToDeviceLocked(*d);
      device->set_hostname(row.hostname);
      device->set_token_id(row.token_id);
      const TimePoint registered_at = FromUnixSeconds(row.registered_at);
      device->set_registered_at(ToUnixSeconds(registered_at));
      device->set_registered_at_text(FormatRfc3339(registered_at));
      if (device->last_seen_at_text().empty() && row.last_seen_at) {
        const TimePoint seen = FromUnixSeconds(*row.last_seen_at);
        device->set_last_seen_at(ToUnixSeconds(seen));
        device->set_last_seen_at_text(FormatRfc3339(seen));
      }
    }
  }
  out.set_next_after(page.next_after);
  out.set_truncated(!page.next_after.empty());
  return out;
}

Result<v1::DeviceDetail> LicensingImpl::DeviceDetail(std::string_view instance_id) const {
  v1::DeviceDetail out;
  {
    std::shared_lock lock(mu_);
    const std::optional<RegisteredDevice> d = registry_->Find(instance_id);
    if (!d) {
      return NotFound("no registered device has instance id " + Quote(instance_id) +
                      "; `outpost devices` (or the Devices page) lists them");
    }
    *out.mutable_device() = ToDeviceLocked(*d);
    out.mutable_certificate()->set_serial(d->cert_serial);
    out.mutable_certificate()->set_not_after(
        d->cert_serial.empty() ? "" : FormatRfc3339(d->cert_not_after));
  }
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_RETURN_IF_ERROR(FillFromRow(*lease, *out.mutable_device()));
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           lease->Query("SELECT cert_not_before, cert_sha256 FROM devices WHERE "
                                        "instance_id = ? AND cert_serial = ?",
                                        std::string(instance_id), out.certificate().serial()));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (row && !out.certificate().serial().empty()) {
    if (!stmt->ColumnIsNull(0)) {
      out.mutable_certificate()->set_not_before(
          FormatRfc3339(FromUnixSeconds(stmt->ColumnInt64(0))));
    }
    if (!stmt->ColumnIsNull(1)) out.mutable_certificate()->set_fingerprint(stmt->ColumnText(1));
  }
  return out;
}

Result<OperatorService::DeviceCounts> LicensingImpl::CountDevices(TimePoint since) const {
  OperatorService::DeviceCounts counts;
  counts.registered = static_cast<int64_t>(device_count());
  const TimePoint now = Now();
  std::lock_guard lock(active_mu_);
  if (active_ && now >= active_->first && now < active_->first + std::chrono::minutes(1)) {
    counts.active = active_->second;
    return counts;
  }
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  // last_seen_at is written once a minute (Sweep): the count lags renewals by up to a minute,
  // and is reused for a minute (a scan of the table: ~0.1-0.3 s at a million devices).
  OUTPOST_ASSIGN_OR_RETURN(counts.active,
                           lease->QueryInt64("SELECT count(*) FROM devices WHERE last_seen_at >= ?",
                                             ToUnixSeconds(since)));
  active_.emplace(now, counts.active);
  return counts;
}

Result<v1::ListReservationsResponse> LicensingImpl::Reservations() const {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, readers_.Acquire());
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, lease->Query("SELECT va, tag, pid, serial, count FROM "
                                                   "reservations ORDER BY va, tag, pid, serial"));
  v1::ListReservationsResponse out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::Reservation* r = out.add_reservations();
    r->set_va(stmt->ColumnText(0));
    r->set_tag(stmt->ColumnText(1));
    r->set_udi(stmt->ColumnText(2) + ":" + stmt->ColumnText(3));
    r->set_count(stmt->ColumnInt64(4));
  }
  return out;
}

BookState LicensingImpl::Snapshot() const {
  std::shared_lock lock(mu_);
  return book_.Snapshot();
}

v1::InventorySummary LicensingImpl::Inventory() const {
  const TimePoint now = Now();
  std::shared_lock lock(mu_);
  std::map<std::string, int64_t> devices = registry_->CountByVa();
  std::map<std::string, std::vector<std::pair<std::string, int64_t>>> in_use;
  for (const ComplianceRow& r : book_.Compliance(now)) {
    devices.try_emplace(r.va, 0);
    if (r.in_use > 0) in_use[r.va].emplace_back(r.tag, r.in_use);
  }
  v1::InventorySummary out;
  out.set_devices_total(static_cast<int64_t>(registry_->size()));
  for (const auto& [va, count] : devices) {
    v1::InventorySummary::VirtualAccount* v = out.add_virtual_accounts();
    v->set_va(va);
    v->set_devices(count);
    for (const auto& [tag, n] : in_use[va]) {
      v1::InventorySummary::TagInUse* t = v->add_in_use();
      t->set_tag(tag);
      t->set_in_use(n);
    }
  }
  return out;
}

}  // namespace outpost::server::licensing
