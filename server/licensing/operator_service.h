#pragma once

// OperatorService: the licensing service as operators and sync reach it — the admin routes
// (server/api/admin_routes.cc, and through them the CLI) and the satellite's side of sync
// (server/sync/satellite_sync.h).
//
// Blocking: a call that changes state returns after its writer unit committed (or failed, in
// which case nothing it decided stays in memory); run it off the I/O threads. Changes are audited
// with the `audit::Actor` passed in: the routes convert their caller (auth::Principal::actor())
// at the boundary, sync passes its own actor.
//
// Thread-safety: thread-safe. Owned by LicensingService (service.h), which it must not outlive.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "outpost/v1/licensing.pb.h"
#include "outpost/v1/sync.pb.h"
#include "server/audit/audit_log.h"
#include "server/licensing/core/authorization.h"
#include "server/licensing/core/types.h"
#include "server/licensing/device_search.h"
#include "server/licensing/license_listing.h"
#include "server/licensing/store.h"

namespace outpost::server::licensing {

class LicensingImpl;

class OperatorService {
 public:
  explicit OperatorService(LicensingImpl& impl) : impl_(impl) {}
  OperatorService(const OperatorService&) = delete;
  OperatorService& operator=(const OperatorService&) = delete;

  // --- Devices and licenses (audited with `by`) -------------------------------------------------
  // Releases everything the instance holds and deregisters it; its certificate is refused from
  // then on. kNotFound for an unknown instance.
  Result<v1::ReleaseDeviceResponse> ReleaseDevice(std::string_view instance_id,
                                                  const audit::Actor& by);
  // Moves a registration and its licenses to `new_udi`; the old certificate stops working and
  // the device with the new UDI registers (with a token) to take the licenses over.
  Result<v1::Device> RehostDevice(std::string_view instance_id, std::string_view new_udi,
                                  const audit::Actor& by);
  // Moves quantity between two virtual accounts (reported to central at the next sync).
  Result<v1::MoveLicensesResponse> MoveLicenses(const v1::MoveLicensesRequest& request,
                                                const audit::Actor& by);
  Result<v1::Reservation> Reserve(const v1::ReservationRequest& request, const audit::Actor& by);
  Status Unreserve(const v1::ReservationRequest& request, const audit::Actor& by);

  // --- Reading (never blocks on the writer) ------------------------------------------------------
  // Every pool of `va` (all VAs when nullopt), as the unpaged listing.
  v1::ListLicensesResponse Licenses(std::optional<std::string_view> va) const;
  // The listing for a LicenseQuery (license_listing.h): the matching pools, a page with next_after
  // when query.limit is set. kInvalidArgument naming the parameter for a bad search, limit or
  // cursor. An unknown VA is not checked here (it lists nothing): see CheckVirtualAccount.
  Result<v1::ListLicensesResponse> ListLicenses(const LicenseQuery& query) const;
  // Devices of `va` (all when nullopt) sorted by instance id, at most `limit`.
  v1::ListDevicesResponse Devices(std::optional<std::string_view> va, size_t limit) const;
  Result<v1::ListReservationsResponse> Reservations() const;
  // One page of a device search (device_search.h): the matching devices as Devices() shows them,
  // and next_after. kInvalidArgument for a bad query or cursor.
  Result<v1::ListDevicesResponse> SearchDevices(const DeviceQuery& query) const;
  // One device as the listing shows it, and its certificate; kNotFound for an unknown instance.
  Result<v1::DeviceDetail> DeviceDetail(std::string_view instance_id) const;
  // Registered devices, and those that authorized since `since` (as of the last minute: the
  // count is reused for a minute).
  struct DeviceCounts {
    int64_t registered = 0;
    int64_t active = 0;
  };
  Result<DeviceCounts> CountDevices(TimePoint since) const;
  // Moves made here, newest first, with central's verdict once a response answered them.
  Result<v1::ListMovesResponse> Moves() const;

  // --- Virtual accounts
  // --------------------------------------------------------------------------- Central's list of
  // the account's VAs, from the last imported sync response.
  void SetCentralVirtualAccounts(std::vector<std::string> vas);
  // Ok iff `va` is known here: named by central's last response or holding local entitlements
  // (before any response, "default" too). kNotFound otherwise, naming the known VAs and what to
  // do. Tokens, moves, reservations and conversions are checked with it, so that no name the
  // account does not have reaches the database.
  Status CheckVirtualAccount(std::string_view va) const;
  v1::ListVirtualAccountsResponse VirtualAccounts() const;

  // --- Sync
  // ------------------------------------------------------------------------------------------
  // Replaces every entitlement (a sync response carries the complete set), in its own unit.
  Status ReplaceEntitlements(std::vector<Entitlement> entitlements, const audit::Actor& actor);
  // The same inside a unit of work the caller owns (sync import). If the caller's unit fails
  // after this returned Ok, it must call MarkStale() from its Done.
  // `reapply` are local moves central has not answered yet: they are applied again on top of
  // the new set (one that no longer fits is dropped with a warning; central will answer it).
  Status ReplaceEntitlementsOn(sqlite::Connection& db, std::vector<Entitlement> entitlements,
                               const std::vector<MoveRecord>& reapply = {});
  // The next unit reloads the book and the registry from the database first.
  void MarkStale();
  // The policy used for new authorizations (central's policy replaces the configured one).
  void SetPolicy(const AuthorizationPolicy& policy);
  AuthorizationPolicy policy() const;
  // The policy from the configuration, before central's overrides.
  AuthorizationPolicy configured_policy() const;
  // Replaces the configured policy (a reload of outpost.toml); the policy in force changes only
  // with SetPolicy (SatelliteSync::ApplyStoredPolicy lays central's overrides over it).
  void SetConfiguredPolicy(const AuthorizationPolicy& policy);
  // Devices and use per VA, for sync requests.
  v1::InventorySummary Inventory() const;

  // --- Time
  // ------------------------------------------------------------------------------------------ The
  // service's time: the high-water clock, in whole seconds.
  TimePoint Now() const;
  // With full precision, for audit records: never before an earlier record's time.
  TimePoint AuditTime() const;
  // The CLOCK_ROLLBACK alarm: the system clock is more than the tolerance behind the high-water
  // time (it clears when the clock is set right).
  bool InClockRollback() const;

 private:
  LicensingImpl& impl_;
};

}  // namespace outpost::server::licensing
