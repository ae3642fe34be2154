#pragma once

// PoolBook: the in-memory truth of one satellite's licensing — entitlements, reservations and
// what every device consumes — and the authorization state machine over it (DESIGN.md section
// 2). Pure: no I/O, no clock (every operation that depends on time takes `now`, normally
// HighWaterClock::Now()). Each mutating operation either fails with nothing changed or returns
// what changed, in a form the writer persists in one transaction; Restore rebuilds the book from
// those rows.
//
// Availability. A pool is (VA, tag); purchased = the quantities of its entitlements valid at
// `now`. A reservation holds back units for a UDI: of a reservation of r units for a UDI that uses
// c, max(0, r - c) are held back from everyone else. For a device d:
//   available(d) = purchased - (in use by other devices) - (held back for other UDIs)
// so no device can take units reserved for another, and a device may always use its reserved
// units (in an ENFORCED pool only free units can be reserved; a pool that shrinks breaks this).
// ENFORCED pools never allocate beyond available, whatever the order of requests; REPORTED
// pools record the excess and say OUT_OF_COMPLIANCE (a device within its own reservation is
// AUTHORIZED there even if others exceeded the pool).
// A pool's kind comes from its entitlements valid now: ENFORCED, floating or export-controlled
// if any of them is.
//
// Thread-safety: none. One owner (the licensing writer thread) or an external mutex.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/licensing/core/authorization.h"
#include "server/licensing/core/compliance.h"
#include "server/licensing/core/types.h"
#include "server/licensing/core/usage.h"

namespace outpost::server::licensing {

struct PoolAvailability;  // pool_internal.h
struct BookDevice;        // book_devices.h
class BookDevices;
class StateWriter;  // state_codec.h
class StateReader;

// One persisted consumption row, keyed by (instance_id, tag).
struct ConsumptionRow {
  std::string instance_id;
  std::string va;
  Udi udi;
  std::string tag;
  int64_t count = 0;  // > 0
  TimePoint valid_until;

  friend bool operator==(const ConsumptionRow&, const ConsumptionRow&) = default;
};

// Everything the book holds, in canonical order (entitlements by id, reservations by (va, tag,
// udi), consumption by (instance_id, tag)). Equal states are equal books.
struct BookState {
  std::vector<Entitlement> entitlements;
  std::vector<Reservation> reservations;
  std::vector<ConsumptionRow> consumption;

  friend bool operator==(const BookState&, const BookState&) = default;
};

// A rehost moves the rows of `removed` to `added` (same tags, counts and expiry).
struct RehostDelta {
  ConsumptionDelta removed;  // the old instance: every tag to 0
  ConsumptionDelta added;    // the new instance: every tag from 0
};

class PoolBook {
 public:
  // `usage` (optional, not owned, must outlive the book) is fed every change of a pool's in_use.
  explicit PoolBook(UsageTracker* usage = nullptr);
  ~PoolBook();
  PoolBook(const PoolBook&) = delete;
  PoolBook& operator=(const PoolBook&) = delete;

  // --- Entitlements and moves -----------------------------------------------------------------
  // Replaces every entitlement (a sync response carries the complete set; moves not yet known to
  // central must be applied again). Consumption is kept: a device over a shrunk pool stays
  // recorded until it renews. kInvalidArgument on a malformed entitlement or a duplicate id.
  Status ReplaceEntitlements(std::vector<Entitlement> entitlements);

  // Moves `count` units of `tag` valid at `now` from `va_from` to `va_to`, splitting entitlements
  // (the soonest-ending first) so the moved units keep their terms; the pieces get the id
  // "<original id>@<va_to>". Only units neither in use nor reserved can move: kFailedPrecondition
  // naming what is available otherwise. Returns the entitlements created or changed.
  // With MoveCheck::kValidUnits (a move made earlier, applied again on top of a sync response's
  // set) devices' use and reservations do not count: the operator's move was accepted when it was
  // made and central will apply it too, so it only needs `count` units valid at `now`; the source
  // pool may then hold fewer than it uses, as after any shrink.
  enum class MoveCheck { kAvailableUnits, kValidUnits };
  Result<std::vector<Entitlement>> ApplyMove(std::string_view va_from, std::string_view va_to,
                                             std::string_view tag, int64_t count, TimePoint now,
                                             MoveCheck check = MoveCheck::kAvailableUnits);

  // --- Reservations ---------------------------------------------------------------------------
  // Replaces every reservation. kInvalidArgument on a malformed or duplicate (va, tag, udi);
  // kFailedPrecondition when a pool's reservations would exceed its purchased quantity at `now`,
  // or, in an ENFORCED pool, hold back units that devices use (only free units can be reserved
  // there, so a reservation never takes licenses from a running device).
  Status SetReservations(std::vector<Reservation> reservations, TimePoint now);
  // Adds `reservation.count` to the reservation of (va, tag, udi). Same errors. Returns the
  // reservation now held for that key.
  Result<Reservation> AddReservation(const Reservation& reservation, TimePoint now);
  // kNotFound if there is no reservation for (va, tag, udi).
  Status RemoveReservation(std::string_view va, std::string_view tag, const Udi& udi);

  // --- Devices --------------------------------------------------------------------------------
  // The device now uses exactly `requests` (an empty list releases everything). The new list
  // replaces the device's previous consumption; each tag is decided on its own (see the file
  // comment) and recorded only when AUTHORIZED or OUT_OF_COMPLIANCE, so a tag that is DENIED or
  // NOT_ENTITLED also gives back what the device held of it. Repeating a request changes nothing
  // but the expiry (renewal). kInvalidArgument (nothing changed) on a malformed device, tag or
  // count, a duplicate tag or too many tags; kFailedPrecondition if another instance in the VA
  // holds the device's UDI, or the instance holds licenses under another UDI or VA (the
  // registration layer rehosts first).
  Result<AuthorizationDecision> Authorize(const DeviceRef& device,
                                          const std::vector<TagRequest>& requests, TimePoint now,
                                          const AuthorizationPolicy& policy = {});

  // Returns everything the instance holds at once. An instance the book does not know (it holds
  // nothing) gives an empty delta: whether it is registered is the caller's check.
  Result<ConsumptionDelta> Release(std::string_view instance_id, TimePoint now);

  // Moves the consumption of `old_instance` to `new_instance` with `new_udi` (same VA, counts and
  // expiry; the ids may be equal when only the UDI changes). Reservations name UDIs and stay
  // where they are (the operator moves one with RemoveReservation and AddReservation).
  // kFailedPrecondition if `new_instance` already holds consumption or another instance in the
  // VA holds `new_udi`. An unknown `old_instance` gives empty deltas.
  Result<RehostDelta> Rehost(std::string_view old_instance, std::string_view new_instance,
                             const Udi& new_udi);

  // Releases every grant whose valid_until <= now; one delta per device, sorted by instance id.
  std::vector<ConsumptionDelta> Sweep(TimePoint now);

  // --- Reading --------------------------------------------------------------------------------
  // One row per pool (see ComplianceRow), of every VA or of `va` only, sorted by (va, tag).
  std::vector<ComplianceRow> Compliance(TimePoint now,
                                        std::optional<std::string_view> va = std::nullopt) const;
  // Whether any pool (entitlement, reservation or consumption) is in `va`: the VAs Compliance
  // lists. O(log pools).
  bool HasPoolsIn(std::string_view va) const;
  // The rows `query` matches, a page at a time (see ComplianceQuery and CompliancePage).
  CompliancePage ComplianceMatching(TimePoint now, const ComplianceQuery& query) const;
  // The rows the instance holds, sorted by tag (empty if none).
  std::vector<ConsumptionRow> DeviceConsumption(std::string_view instance_id) const;
  BookState Snapshot() const;
  // The devices and their grants as bytes, for the service's state file (Restorer reads them).
  void SaveDevices(StateWriter& w) const;
  // Snapshot().entitlements without copying the consumption.
  std::vector<Entitlement> Entitlements() const;

  // Replaces the whole book with persisted rows (start-up). Nothing is re-decided: the rows were
  // valid when acknowledged; expired grants go at the next Sweep. kDataLoss (nothing changed) on
  // rows that cannot have been written by the book. `now` dates the usage levels.
  Status Restore(BookState state, TimePoint now);

  // Restore in pieces, for start-up without a BookState of every row in memory (restorer.h).
  class Restorer;

 private:
  using PoolKey = std::pair<std::string, std::string>;  // (va, tag)
  struct Pool {
    std::vector<Entitlement> entitlements;
    std::map<Udi, int64_t> reservations;
    int64_t in_use = 0;  // the sum of the devices' grants of this pool
  };
  // A device's grants as decided (by tag); the stored form is compact (book_devices.h).
  struct WideGrant {
    int64_t count = 0;
    TimePoint valid_until;
  };
  using GrantMap = std::map<std::string, WideGrant, std::less<>>;

  ComplianceRow RowFor(const PoolKey& key, TimePoint now) const;
  PoolAvailability AvailabilityFor(const PoolKey& key, const BookDevice* self, const Udi* self_udi,
                                   TimePoint now) const;
  int64_t UsedBy(const std::string& va, const Udi& udi, std::string_view tag) const;
  Status CheckDeviceIdentity(const std::string& instance_id, const std::string& va,
                             const Udi& udi) const;
  TagDecision Decide(const DeviceRef& device, const BookDevice* self, const TagRequest& request,
                     TimePoint now, const AuthorizationPolicy& policy) const;
  // Units `reservations` hold back from devices of other UDIs.
  int64_t HeldBack(const PoolKey& key, const std::map<Udi, int64_t>& reservations) const;
  Status CheckReservationsFit(const PoolKey& key, const std::map<Udi, int64_t>& reservations,
                              TimePoint now) const;
  // Sets the device's grants (empty: forget the device), keeping the pools' in_use, the UDI
  // index, the expiry index and the usage tracker in step. Returns what changed.
  ConsumptionDelta ReplaceGrants(const std::string& instance_id, const std::string& va,
                                 const Udi& udi, const GrantMap& grants, TimePoint now);
  void AddInUse(const PoolKey& key, int64_t diff, TimePoint now);
  void PruneEmptyPools();

  UsageTracker* usage_;
  std::map<PoolKey, Pool> pools_;
  // Every device holding licenses, compactly, with its indexes (book_devices.h). Behind a
  // pointer because its indexes hash through it: Restore builds a new one and swaps.
  std::unique_ptr<BookDevices> devices_;
};

}  // namespace outpost::server::licensing
