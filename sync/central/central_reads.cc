// Central's read-only views, on pooled read-only connections (central.h "Reads").

#include "sync/bundle/display.h"
#include "sync/central/central.h"
#include "sync/central/central_internal.h"

namespace outpost::central {

Result<v1::CentralStatus> Central::GetStatus() {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  v1::CentralStatus out;
  out.set_central_id(impl_->central_id);
  out.set_data_dir(impl_->dir.root.string());
  out.set_signing_key_id(signing_public_key().KeyId());
  out.set_signing_key_fingerprint(signing_public_key().Fingerprint());
  out.set_signing_public_key_pem(signing_public_key().ToPem());
  out.set_ca_fingerprint(impl_->ca_fingerprint);
  out.set_listen(impl_->listen);
  out.set_url(impl_->url);
  out.set_response_validity_s(impl_->response_validity_s);
  *out.mutable_policy() = impl_->policy;
  OUTPOST_ASSIGN_OR_RETURN(int64_t accounts, lease->QueryInt64("SELECT count(*) FROM accounts"));
  OUTPOST_ASSIGN_OR_RETURN(int64_t satellites,
                           lease->QueryInt64("SELECT count(*) FROM satellites"));
  out.set_accounts(accounts);
  out.set_satellites(satellites);
  return out;
}

Result<v1::CentralAccountList> Central::ListAccounts() {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  v1::CentralAccountList out;
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           lease->Query("SELECT id, name, created_at FROM accounts ORDER BY id"));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::CentralAccount* a = out.add_accounts();
    a->set_account_id(stmt->ColumnText(0));
    a->set_name(stmt->ColumnText(1));
    a->set_created_at(stmt->ColumnInt64(2));
  }
  for (v1::CentralAccount& a : *out.mutable_accounts()) {
    OUTPOST_ASSIGN_OR_RETURN(auto vas, LoadVas(*lease, a.account_id()));
    for (auto& va : vas) a.add_virtual_accounts(std::move(va));
  }
  return out;
}

Result<v1::CentralLicenseList> Central::ListLicenses(std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_RETURN_IF_ERROR(RequireAccount(*lease, account_id));
  v1::CentralLicenseList out;
  out.set_account_id(std::string(account_id));
  OUTPOST_ASSIGN_OR_RETURN(auto entitlements, LoadEntitlements(*lease, account_id));
  for (auto& e : entitlements) *out.add_entitlements() = std::move(e);
  return out;
}

namespace {

constexpr std::string_view kSatelliteColumns =
    "SELECT id, account_id, name, enrolled_at, coalesce(key_id, ''), coalesce(bound_at, 0), "
    "last_sequence, last_response_number, coalesce(last_sync_at, 0), "
    "coalesce(software_version, ''), inventory, coalesce(revoked_at, 0), "
    "coalesce(revoked_reason, ''), coalesce(reenrolled_at, 0) FROM satellites ";

void ReadSatelliteRow(const sqlite::Statement& stmt, v1::CentralSatellite* s) {
  s->set_satellite_id(stmt.ColumnText(0));
  s->set_account_id(stmt.ColumnText(1));
  s->set_name(stmt.ColumnText(2));
  s->set_enrolled_at(stmt.ColumnInt64(3));
  s->set_key_id(stmt.ColumnText(4));
  s->set_bound_at(stmt.ColumnInt64(5));
  s->set_last_sequence(stmt.ColumnInt64(6));
  s->set_last_response_number(stmt.ColumnInt64(7));
  s->set_last_sync_at(stmt.ColumnInt64(8));
  s->set_software_version(stmt.ColumnText(9));
  v1::InventorySummary inventory;
  if (inventory.ParseFromString(stmt.ColumnBlob(10))) {
    s->set_devices_total(inventory.devices_total());
  }
  s->set_revoked_at(stmt.ColumnInt64(11));
  s->set_revoked_reason(stmt.ColumnText(12));
  s->set_reenrolled_at(stmt.ColumnInt64(13));
}

}  // namespace

Result<v1::CentralSatellite> ReadSatellite(sqlite::Connection& db, std::string_view satellite_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto stmt,
                           db.Query(std::string(kSatelliteColumns) + "WHERE id = ?", satellite_id));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) {
    return NotFound("no satellite with the id '" + sync::Printable(satellite_id, 80) +
                    "' is enrolled here (commands take the id, not the name); `outpost central "
                    "satellite list` shows the satellites and their ids");
  }
  v1::CentralSatellite out;
  ReadSatelliteRow(*stmt, &out);
  return out;
}

Result<v1::CentralSatelliteList> Central::ListSatellites(std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  if (!account_id.empty()) OUTPOST_RETURN_IF_ERROR(RequireAccount(*lease, account_id));
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt, lease->Query(std::string(kSatelliteColumns) +
                                  "WHERE ? = '' OR account_id = ? ORDER BY account_id, name, id",
                              account_id, account_id));
  v1::CentralSatelliteList out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    ReadSatelliteRow(*stmt, out.add_satellites());
  }
  return out;
}

Result<v1::CentralSatellite> Central::GetSatellite(std::string_view satellite_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_ASSIGN_OR_RETURN(v1::CentralSatellite out, ReadSatellite(*lease, satellite_id));
  // The same windows as the quotas (sync_processor.cc, CheckQuotas).
  const int64_t since = ToUnixSeconds(impl_->clock->Now()) - 24 * 3600;
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t requests,
      lease->QueryInt64("SELECT count(*) FROM sync_requests WHERE satellite_id = ? AND "
                        "received_at > ?",
                        satellite_id, since));
  out.set_requests_last_day(requests);
  OUTPOST_ASSIGN_OR_RETURN(auto stmt, lease->Query("SELECT count(*), total(length(report)) FROM "
                                                   "usage_reports WHERE satellite_id = ? AND "
                                                   "received_at > ?",
                                                   satellite_id, since));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (row) {
    out.set_usage_reports_last_day(stmt->ColumnInt64(0));
    out.set_usage_bytes_last_day(stmt->ColumnInt64(1));
  }
  OUTPOST_ASSIGN_OR_RETURN(
      auto events, lease->Query("SELECT at, event, detail, key_id FROM satellite_events WHERE "
                                "satellite_id = ? ORDER BY at, rowid",
                                satellite_id));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool more, events->Step());
    if (!more) break;
    v1::CentralSatelliteEvent* e = out.add_history();
    e->set_at(events->ColumnInt64(0));
    e->set_event(events->ColumnText(1));
    e->set_detail(events->ColumnText(2));
    e->set_key_id(events->ColumnText(3));
  }
  return out;
}

Result<v1::CentralPakList> Central::ListPaks(std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_RETURN_IF_ERROR(RequireAccount(*lease, account_id));
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      lease->Query("SELECT id, key_prefix, va, tag, quantity, start, end_at, enforcement, "
                   "floating, export_controlled, created_at, converted_at, "
                   "converted_by_satellite, entitlement_id FROM paks WHERE account_id = ? "
                   "ORDER BY created_at, id",
                   account_id));
  v1::CentralPakList out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::CentralPak* p = out.add_paks();
    p->set_pak_id(stmt->ColumnText(0));
    p->set_key_prefix(stmt->ColumnText(1));
    p->set_account_id(std::string(account_id));
    p->set_va(stmt->ColumnText(2));
    p->set_tag(stmt->ColumnText(3));
    p->set_quantity(stmt->ColumnInt64(4));
    p->set_start(stmt->ColumnInt64(5));
    p->set_end(stmt->ColumnInt64(6));
    p->set_enforcement(static_cast<v1::Enforcement>(stmt->ColumnInt64(7)));
    p->set_floating(stmt->ColumnInt64(8) != 0);
    p->set_export_controlled(stmt->ColumnInt64(9) != 0);
    p->set_created_at(stmt->ColumnInt64(10));
    p->set_converted_at(stmt->ColumnInt64(11));
    p->set_converted_by_satellite(stmt->ColumnText(12));
    p->set_entitlement_id(stmt->ColumnText(13));
  }
  return out;
}

Result<v1::CentralUsageList> Central::ListUsage(std::string_view account_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_RETURN_IF_ERROR(RequireAccount(*lease, account_id));
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt,
      lease->Query("SELECT satellite_id, request_sequence, received_at, report FROM usage_reports "
                   "WHERE account_id = ? ORDER BY period_start, va, tag, satellite_id, report_id",
                   account_id));
  v1::CentralUsageList out;
  out.set_account_id(std::string(account_id));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::CentralUsageRecord* r = out.add_reports();
    r->set_satellite_id(stmt->ColumnText(0));
    r->set_request_sequence(stmt->ColumnInt64(1));
    r->set_received_at(stmt->ColumnInt64(2));
    if (!r->mutable_report()->ParseFromString(stmt->ColumnBlob(3))) {
      return DataLoss("a stored usage report of satellite " + r->satellite_id() +
                      " cannot be read");
    }
  }
  return out;
}

Result<v1::CentralAuditHeadList> Central::ListAuditHeads(std::string_view satellite_id) {
  OUTPOST_ASSIGN_OR_RETURN(auto lease, impl_->readers->Acquire());
  OUTPOST_ASSIGN_OR_RETURN(
      int64_t known,
      lease->QueryInt64("SELECT count(*) FROM satellites WHERE id = ?", satellite_id));
  if (known == 0) {
    return NotFound("there is no satellite '" + std::string(satellite_id) +
                    "'; see `outpost central satellite list`");
  }
  OUTPOST_ASSIGN_OR_RETURN(
      auto stmt, lease->Query("SELECT request_sequence, received_at, seq, hash, time_ms, key_id, "
                              "signature FROM audit_heads WHERE satellite_id = ? "
                              "ORDER BY received_at, request_sequence",
                              satellite_id));
  v1::CentralAuditHeadList out;
  out.set_satellite_id(std::string(satellite_id));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::CentralAuditHead* h = out.add_heads();
    h->set_satellite_id(std::string(satellite_id));
    h->set_request_sequence(stmt->ColumnInt64(0));
    h->set_received_at(stmt->ColumnInt64(1));
    h->mutable_head()->set_seq(stmt->ColumnInt64(2));
    h->mutable_head()->set_hash(stmt->ColumnText(3));
    h->mutable_head()->set_time_ms(stmt->ColumnInt64(4));
    h->mutable_head()->set_key_id(stmt->ColumnText(5));
    h->mutable_head()->set_signature(stmt->ColumnBlob(6));
  }
  return out;
}

}  // namespace outpost::central
