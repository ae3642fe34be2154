// OperatorService (operator_service.h) and what only operators do: release and rehost a device,
// move and reserve licenses. Listings are in service_reading.cc, virtual accounts in
// virtual_accounts.cc.

#include "server/licensing/operator_service.h"

#include "common/ids.h"
#include "common/text.h"
#include "server/licensing/service_internal.h"
#include "server/licensing/unit_internal.h"

namespace outpost::server::licensing {
namespace {

using internal::Audit;
using internal::TagsJson;

}  // namespace

Result<v1::ReleaseDeviceResponse> OperatorService::ReleaseDevice(std::string_view instance_id,
                                                                 const audit::Actor& by) {
  return impl_.ReleaseDevice(instance_id, by);
}

Result<v1::Device> OperatorService::RehostDevice(std::string_view instance_id,
                                                 std::string_view new_udi, const audit::Actor& by) {
  return impl_.RehostDevice(instance_id, new_udi, by);
}

Result<v1::MoveLicensesResponse> OperatorService::MoveLicenses(
    const v1::MoveLicensesRequest& request, const audit::Actor& by) {
  return impl_.MoveLicenses(request, by);
}

Result<v1::Reservation> OperatorService::Reserve(const v1::ReservationRequest& request,
                                                 const audit::Actor& by) {
  return impl_.Reserve(request, by);
}

Status OperatorService::Unreserve(const v1::ReservationRequest& request, const audit::Actor& by) {
  return impl_.Unreserve(request, by);
}

v1::ListLicensesResponse OperatorService::Licenses(std::optional<std::string_view> va) const {
  return impl_.Licenses(va);
}

Result<v1::ListLicensesResponse> OperatorService::ListLicenses(const LicenseQuery& query) const {
  return impl_.ListLicenses(query);
}

v1::ListDevicesResponse OperatorService::Devices(std::optional<std::string_view> va,
                                                 size_t limit) const {
  return impl_.Devices(va, limit);
}

Result<v1::ListReservationsResponse> OperatorService::Reservations() const {
  return impl_.Reservations();
}

Result<v1::ListMovesResponse> OperatorService::Moves() const { return impl_.Moves(); }

bool OperatorService::InClockRollback() const { return impl_.InClockRollback(); }

Result<v1::ListDevicesResponse> OperatorService::SearchDevices(const DeviceQuery& query) const {
  return impl_.SearchDevices(query);
}

Result<v1::DeviceDetail> OperatorService::DeviceDetail(std::string_view instance_id) const {
  return impl_.DeviceDetail(instance_id);
}

Result<OperatorService::DeviceCounts> OperatorService::CountDevices(TimePoint since) const {
  return impl_.CountDevices(since);
}

void OperatorService::SetCentralVirtualAccounts(std::vector<std::string> vas) {
  impl_.SetCentralVirtualAccounts(std::move(vas));
}

Status OperatorService::CheckVirtualAccount(std::string_view va) const {
  return impl_.CheckVirtualAccount(va);
}

v1::ListVirtualAccountsResponse OperatorService::VirtualAccounts() const {
  return impl_.VirtualAccounts();
}

Status OperatorService::ReplaceEntitlements(std::vector<Entitlement> entitlements,
                                            const audit::Actor& actor) {
  return impl_.ReplaceEntitlements(std::move(entitlements), actor);
}

Status OperatorService::ReplaceEntitlementsOn(sqlite::Connection& db,
                                              std::vector<Entitlement> entitlements,
                                              const std::vector<MoveRecord>& reapply) {
  return impl_.ReplaceEntitlementsOn(db, std::move(entitlements), reapply);
}

void OperatorService::MarkStale() { impl_.MarkStale(); }
void OperatorService::SetPolicy(const AuthorizationPolicy& policy) { impl_.SetPolicy(policy); }
void OperatorService::SetConfiguredPolicy(const AuthorizationPolicy& policy) {
  impl_.SetConfiguredPolicy(policy);
}
AuthorizationPolicy OperatorService::policy() const { return impl_.policy(); }
AuthorizationPolicy OperatorService::configured_policy() const { return impl_.configured_policy(); }
v1::InventorySummary OperatorService::Inventory() const { return impl_.Inventory(); }
TimePoint OperatorService::Now() const { return impl_.Now(); }
TimePoint OperatorService::AuditTime() const { return impl_.AuditTime(); }

// --- Release, rehost --------------------------------------------------------------------------

Result<v1::ReleaseDeviceResponse> LicensingImpl::ReleaseDevice(std::string_view instance_id,
                                                               const audit::Actor& by) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  std::vector<TagRequest> released;
  const std::string id(instance_id);
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    if (registry_->Contains(id)) unit.mutated = true;
    return ReleaseLocked(db, id, by, &released);
  }));
  v1::ReleaseDeviceResponse out;
  out.set_instance_id(id);
  for (const TagRequest& t : released) {
    v1::TagUse* u = out.add_released();
    u->set_tag(t.tag);
    u->set_count(t.count);
  }
  return out;
}

Result<v1::Device> LicensingImpl::RehostDevice(std::string_view instance_id,
                                               std::string_view new_udi, const audit::Actor& by) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(new_udi));
  const std::string id(instance_id);
  v1::Device out;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const std::optional<RegisteredDevice> d = registry_->Find(id);
    if (!d) {
      return NotFound("instance " + Quote(id) +
                      " is not registered; list devices with `outpost devices`");
    }
    if (auto holder = registry_->FindByUdi(udi)) {
      return AlreadyExists("UDI " + Quote(udi.ToString()) + " is already registered (instance " +
                           *holder + "); release it first");
    }
    if (auto vs = registry_->FindByVaSerial(d->va, udi.serial); vs && *vs != id) {
      return AlreadyExists("serial " + Quote(udi.serial) + " is already registered in " +
                           Quote(d->va) + " under another product");
    }
    RegisteredDevice record = *d;
    const Udi old_udi = record.udi;
    OUTPOST_ASSIGN_OR_RETURN(RehostDelta moved, book_.Rehost(id, id, udi));
    unit.mutated = true;
    record.udi = udi;
    record.cert_serial.clear();
    {
      std::unique_lock identities(registry_mu_);
      registry_->Remove(id);
      registry_->Put(record);
    }
    OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved.removed));
    OUTPOST_RETURN_IF_ERROR(PersistDelta(db, moved.added));
    OUTPOST_RETURN_IF_ERROR(UpdateDeviceUdi(db, id, udi));
    out = ToDeviceLocked(record);
    OUTPOST_RETURN_IF_ERROR(FillFromRow(db, out));  // this transaction's view of the row
    return Audit(db, by, "device.rehost", "device:" + id,
                 {{"va", record.va},
                  {"from_udi", old_udi.ToString()},
                  {"to_udi", udi.ToString()},
                  {"moved", TagsJson(moved.added, false)}},
                 AuditTime());
  }));
  return out;
}

// --- Moves and reservations -------------------------------------------------------------------

Result<v1::MoveLicensesResponse> LicensingImpl::MoveLicenses(const v1::MoveLicensesRequest& request,
                                                             const audit::Actor& by) {
  // The messages name the CLI's flags and the API's fields alike.
  OUTPOST_RETURN_IF_ERROR(
      CheckVirtualAccount(request.from_va()).WithContext("source virtual account (--from)"));
  OUTPOST_RETURN_IF_ERROR(
      CheckVirtualAccount(request.to_va()).WithContext("target virtual account (--to)"));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(request.tag()));
  OUTPOST_RETURN_IF_ERROR(ValidateCount(request.count(), "the count (--count)"));
  if (request.from_va() == request.to_va()) {
    return InvalidArgument("the source and target virtual accounts (--from and --to) are both " +
                           Quote(request.from_va()) +
                           "; a move needs two different virtual accounts");
  }
  MoveRecord move{NewUuid(),       request.from_va(), request.to_va(), request.tag(),
                  request.count(), TimePoint(),       by.ToString()};
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    move.created_at = now;
    OUTPOST_ASSIGN_OR_RETURN(auto changed,
                             book_.ApplyMove(move.from_va, move.to_va, move.tag, move.count, now));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(UpsertEntitlements(db, changed));
    OUTPOST_RETURN_IF_ERROR(InsertMove(db, move));
    return Audit(db, by, "license.move", "move:" + move.id,
                 {{"from_va", move.from_va},
                  {"to_va", move.to_va},
                  {"tag", move.tag},
                  {"count", move.count}},
                 AuditTime());
  }));
  v1::MoveLicensesResponse out;
  out.set_move_id(move.id);
  out.set_from_va(move.from_va);
  out.set_to_va(move.to_va);
  out.set_tag(move.tag);
  out.set_count(move.count);
  return out;
}

Result<v1::Reservation> LicensingImpl::Reserve(const v1::ReservationRequest& request,
                                               const audit::Actor& by) {
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(request.udi()));
  Reservation wanted{request.va(), request.tag(), udi, request.count()};
  OUTPOST_RETURN_IF_ERROR(ValidateReservation(wanted));
  OUTPOST_RETURN_IF_ERROR(CheckVirtualAccount(wanted.va));
  Reservation held;
  OUTPOST_RETURN_IF_ERROR(RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    const TimePoint now = Now();
    OUTPOST_ASSIGN_OR_RETURN(held, book_.AddReservation(wanted, now));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(PersistReservation(db, held));
    return Audit(db, by, "license.reserve", "reservation:" + held.va + "/" + held.tag,
                 {{"va", held.va},
                  {"tag", held.tag},
                  {"udi", udi.ToString()},
                  {"added", wanted.count},
                  {"count", held.count}},
                 AuditTime());
  }));
  v1::Reservation out;
  out.set_va(held.va);
  out.set_tag(held.tag);
  out.set_udi(held.udi.ToString());
  out.set_count(held.count);
  return out;
}

Status LicensingImpl::Unreserve(const v1::ReservationRequest& request, const audit::Actor& by) {
  OUTPOST_ASSIGN_OR_RETURN(Udi udi, ParseUdi(request.udi()));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(request.va()));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(request.tag()));
  return RunUnit([&](sqlite::Connection& db, UnitState& unit) -> Status {
    OUTPOST_RETURN_IF_ERROR(book_.RemoveReservation(request.va(), request.tag(), udi));
    unit.mutated = true;
    OUTPOST_RETURN_IF_ERROR(PersistReservation(db, {request.va(), request.tag(), udi, 0}));
    return Audit(db, by, "license.unreserve", "reservation:" + request.va() + "/" + request.tag(),
                 {{"va", request.va()}, {"tag", request.tag()}, {"udi", udi.ToString()}},
                 AuditTime());
  });
}

}  // namespace outpost::server::licensing
