#pragma once

// Persistence of licensing state (migration 5 in server/store/schema.cc): registered devices and
// the rows of the pool book. Every writer here runs on the writer's connection inside the
// caller's unit of work, next to the audit record of the same change; the loaders read the
// state back at start-up (or after a failed unit, see LicensingService).
//
// Times are stored as unix seconds; the service decides on whole seconds, so what is loaded
// equals what was decided.
//
// Thread-safety: free functions over a Connection the caller owns.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "server/licensing/core/pools.h"
#include "server/licensing/core/registry.h"
#include "server/licensing/core/restorer.h"
#include "server/licensing/core/types.h"
#include "server/licensing/core/usage.h"

namespace outpost::server::licensing {

// A registered product instance.
struct DeviceRecord {
  std::string instance_id;
  std::string va;
  Udi udi;
  std::string hostname;
  std::string token_id;
  bool export_allowed = false;
  // Serial (lowercase hex) of the ID certificate the device must present; "" when none is valid
  // (after an operator rehosted the registration to a new UDI that has not registered yet).
  std::string cert_serial;
  TimePoint cert_not_after;
  // The certificate's start and SHA-256 fingerprint (x509.h Fingerprint()); unset / "" when not
  // known (registered before schema version 9). Shown by the console, never checked.
  std::optional<TimePoint> cert_not_before;
  std::string cert_fingerprint;
  TimePoint registered_at;
  std::optional<TimePoint> last_seen_at;

  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

// A move recorded here, waiting to be reported to central.
struct MoveRecord {
  std::string id;
  std::string from_va;
  std::string to_va;
  std::string tag;
  int64_t count = 0;
  TimePoint created_at;
  std::string created_by;
};

// An integer stored as text (satellite_meta): "" is 0; anything but a whole decimal int64 is
// kDataLoss naming `key`, never an exception.
Result<int64_t> ParseStoredInt(std::string_view key, std::string_view text);

// --- Loading ------------------------------------------------------------------------------------
// The registry and the book's rows, streamed (no row is kept): every device row into `registry`
// (which should be empty), then entitlements, reservations and consumption into `restorer`, each
// consumption row's VA and UDI from its device in `registry` (rows of devices it does not hold
// are skipped, as the join of LoadBookState does). The caller calls restorer.Finish.
// With `second`, the book's rows are read from it on a thread of its own while `db` gives the
// devices (start-up, docs/architecture.md "Start-up"): it must see the same committed state as
// `db`, i.e. nothing may write to the database until this returns.
// Returns how long each part took (seconds), for the start-up log line.
struct LoadTimes {
  double devices = 0;     // the device rows into the registry
  double book_rows = 0;   // entitlements, reservations and consumption rows into the restorer
  double identities = 0;  // the VA and UDI of every consuming device, from the registry
};
Result<LoadTimes> LoadLicensingState(sqlite::Connection& db, sqlite::Connection* second,
                                     DeviceRegistry& registry, PoolBook::Restorer& restorer);
// Only the entitlement and reservation rows into `restorer` (with a state file, state_file.h).
Status LoadEntitlementsAndReservations(sqlite::Connection& db, PoolBook::Restorer& restorer);
// The instances whose device or consumption rows changed since the state file was saved (the
// licensing_changed table, state_file.h).
Result<std::vector<std::string>> LoadChangedInstances(sqlite::Connection& db);
// Makes `registry` and `restorer` (filled from the state file) hold what the tables hold now for
// each of `instances`: what they held is dropped, then the instance's device row and consumption
// rows are added, if it still has them.
Status ReloadInstances(sqlite::Connection& db, const std::vector<std::string>& instances,
                       DeviceRegistry& registry, PoolBook::Restorer& restorer);
// Entitlements, reservations and consumption (va and UDI from the device rows), canonical order.
Result<BookState> LoadBookState(sqlite::Connection& db);

// --- Devices ------------------------------------------------------------------------------------
Status InsertDevice(sqlite::Connection& db, const DeviceRecord& device);
// Deletes the device row; its consumption rows must be gone (moved or deleted) first.
Status DeleteDevice(sqlite::Connection& db, std::string_view instance_id);
// Points the row at another UDI and clears its certificate (operator rehost).
Status UpdateDeviceUdi(sqlite::Connection& db, std::string_view instance_id, const Udi& udi);
Status TouchDevice(sqlite::Connection& db, std::string_view instance_id, TimePoint at);
// Records the device's new ID certificate (a renewal): its serial and expiry.
Status UpdateDeviceCertificate(sqlite::Connection& db, std::string_view instance_id,
                               std::string_view cert_serial, TimePoint cert_not_after);

// --- Book rows ----------------------------------------------------------------------------------
// Applies one device's consumption delta: new_count 0 deletes the row, otherwise it is upserted.
Status PersistDelta(sqlite::Connection& db, const ConsumptionDelta& delta);
// Inserts or updates these entitlements (by id).
Status UpsertEntitlements(sqlite::Connection& db, const std::vector<Entitlement>& entitlements);
// Replaces the whole entitlement table.
Status ReplaceEntitlementRows(sqlite::Connection& db, const std::vector<Entitlement>& entitlements);
// Upserts the reservation, or deletes it when count is 0.
Status PersistReservation(sqlite::Connection& db, const Reservation& reservation);
Status InsertMove(sqlite::Connection& db, const MoveRecord& move);
// Adds the samples; an hour already stored keeps the larger mark.
Status InsertUsageSamples(sqlite::Connection& db, const std::vector<UsageSample>& samples);
Result<std::vector<UsageSample>> LoadUsageSamples(sqlite::Connection& db,
                                                  std::optional<TimePoint> since);

}  // namespace outpost::server::licensing
