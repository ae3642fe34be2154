#include "server/licensing/core/pools.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>

#include "common/time.h"
#include "server/licensing/core/book_devices.h"
#include "server/licensing/core/pool_internal.h"

namespace outpost::server::licensing {
namespace {

std::string Units(int64_t n) { return std::to_string(n) + (n == 1 ? " unit" : " units"); }

TimePoint EndOrMax(const Entitlement& e) { return e.end.value_or(TimePoint::max()); }

std::string PoolName(std::string_view va, std::string_view tag) {
  return "tag " + Quote(tag) + " in virtual account " + Quote(va);
}

}  // namespace

PoolBook::PoolBook(UsageTracker* usage)
    : usage_(usage), devices_(std::make_unique<BookDevices>()) {}
PoolBook::~PoolBook() = default;

// --- Availability --------------------------------------------------------------------------------

int64_t PoolBook::UsedBy(const std::string& va, const Udi& udi, std::string_view tag) const {
  const std::optional<uint32_t> holder = devices_->FindByUdi(va, udi);
  if (!holder) return 0;
  const BookGrant* grant = devices_->FindGrant(devices_->at(*holder), tag);
  return grant == nullptr ? 0 : grant->count;
}

PoolAvailability PoolBook::AvailabilityFor(const PoolKey& key, const BookDevice* self,
                                           const Udi* self_udi, TimePoint now) const {
  PoolAvailability a;
  auto it = pools_.find(key);
  if (it == pools_.end()) return a;
  const Pool& pool = it->second;
  for (const Entitlement& e : pool.entitlements) {
    if (e.ValidAt(now)) {
      a.entitled = true;
      a.purchased += e.quantity;
      if (e.enforcement == Enforcement::kEnforced) a.enforcement = Enforcement::kEnforced;
      a.floating = a.floating || e.floating;
      a.export_controlled = a.export_controlled || e.export_controlled;
      if (e.quantity > 0 && e.end && (!a.next_end || *e.end < *a.next_end)) a.next_end = e.end;
    } else if (e.start > now) {
      if (!a.next_start || e.start < *a.next_start) a.next_start = e.start;
    } else if (e.quantity > 0 && (!a.last_end || *e.end > *a.last_end)) {
      a.last_end = e.end;
    }
  }
  int64_t own_in_use = 0;
  if (self != nullptr) {
    if (const BookGrant* grant = devices_->FindGrant(*self, key.second)) own_in_use = grant->count;
  }
  a.in_use = pool.in_use;
  a.others_in_use = pool.in_use - own_in_use;
  for (const auto& [udi, reserved] : pool.reservations) {
    a.reserved += reserved;
    if (self_udi != nullptr && udi == *self_udi) {
      a.own_reserved = reserved;
    } else {
      a.held_for_others += std::max<int64_t>(0, reserved - UsedBy(key.first, udi, key.second));
    }
  }
  a.available = a.purchased - a.others_in_use - a.held_for_others;
  return a;
}

// --- Entitlements and moves ----------------------------------------------------------------------

Status PoolBook::ReplaceEntitlements(std::vector<Entitlement> entitlements) {
  std::set<std::string_view> ids;
  for (const Entitlement& e : entitlements) {
    OUTPOST_RETURN_IF_ERROR(ValidateEntitlement(e));
    if (!ids.insert(e.id).second) {
      return InvalidArgument("entitlement id " + Quote(e.id) + " appears twice in the set");
    }
  }
  for (auto& [key, pool] : pools_) pool.entitlements.clear();
  for (Entitlement& e : entitlements) {
    PoolKey key{e.va, e.tag};
    pools_[key].entitlements.push_back(std::move(e));
  }
  PruneEmptyPools();
  return Status::Ok();
}

Result<std::vector<Entitlement>> PoolBook::ApplyMove(std::string_view va_from,
                                                     std::string_view va_to, std::string_view tag,
                                                     int64_t count, TimePoint now,
                                                     MoveCheck check) {
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va_from));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va_to));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(tag));
  OUTPOST_RETURN_IF_ERROR(ValidateCount(count, "moved count"));
  if (va_from == va_to) {
    return InvalidArgument("cannot move licenses from virtual account " + Quote(va_from) +
                           " to itself");
  }
  const PoolKey from{std::string(va_from), std::string(tag)};
  const PoolAvailability a = AvailabilityFor(from, nullptr, nullptr, now);
  if (!a.entitled) {
    return FailedPrecondition("virtual account " + Quote(va_from) + " has no entitlement for tag " +
                              Quote(tag) + " valid at " + FormatRfc3339(now) +
                              "; nothing can be moved");
  }
  if (check == MoveCheck::kValidUnits) {
    if (count > a.purchased) {
      return FailedPrecondition("virtual account " + Quote(va_from) + " holds " +
                                Units(a.purchased) + " of tag " + Quote(tag) + " valid at " +
                                FormatRfc3339(now) + "; cannot move " + std::to_string(count));
    }
  } else if (const int64_t movable = std::max<int64_t>(0, a.available); count > movable) {
    return FailedPrecondition(
        "virtual account " + Quote(va_from) + " has " + Units(movable) + " of tag " + Quote(tag) +
        " available to move (" + std::to_string(a.purchased) + " valid now, " +
        std::to_string(a.in_use) + " in use, " + std::to_string(a.held_for_others) +
        " reserved and unused); cannot move " + std::to_string(count) +
        ". Release devices or reservations first, or move fewer");
  }

  // Units keep their enforcement, and one ENFORCED unit makes its pool ENFORCED. Moving such units
  // into a REPORTED pool that uses more than it would then hold would leave an ENFORCED pool over
  // its limit at once: refused, so that in use never exceeds purchased through a move.
  const PoolKey to{std::string(va_to), std::string(tag)};
  const PoolAvailability target = AvailabilityFor(to, nullptr, nullptr, now);
  if (check == MoveCheck::kAvailableUnits && a.enforcement == Enforcement::kEnforced &&
      target.enforcement == Enforcement::kReported && target.in_use > target.purchased + count) {
    return FailedPrecondition(
        "moving ENFORCED units of tag " + Quote(tag) + " into virtual account " + Quote(va_to) +
        " would make its REPORTED pool ENFORCED with " + std::to_string(target.in_use) +
        " in use and only " + std::to_string(target.purchased + count) +
        " purchased; move at least " + std::to_string(target.in_use - target.purchased) +
        ", or release devices in " + Quote(va_to) + " first");
  }

  // The soonest-ending units go first, so the source keeps its longest terms; ties by id keep
  // the split deterministic.
  std::vector<Entitlement>& sources = pools_.at(from).entitlements;
  std::vector<size_t> order;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].ValidAt(now) && sources[i].quantity > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return std::make_tuple(EndOrMax(sources[x]), sources[x].id) <
           std::make_tuple(EndOrMax(sources[y]), sources[y].id);
  });
  std::vector<Entitlement>& targets = pools_[PoolKey{std::string(va_to), std::string(tag)}]
                                          .entitlements;  // `sources` stays valid: map nodes
  std::map<std::string, Entitlement> changed;
  int64_t left = count;
  for (size_t i : order) {
    if (left == 0) break;
    Entitlement& source = sources[i];
    const int64_t n = std::min(left, source.quantity);
    left -= n;
    source.quantity -= n;
    changed[source.id] = source;
    // A piece moved back to the VA of its original merges into it; otherwise all pieces of one
    // original in one VA are one entitlement.
    const std::string origin = source.id.substr(0, source.id.find('@'));
    auto target = std::find_if(targets.begin(), targets.end(),
                               [&](const Entitlement& e) { return e.id == origin; });
    if (target == targets.end()) {
      const std::string piece = origin + "@" + std::string(va_to);
      target = std::find_if(targets.begin(), targets.end(),
                            [&](const Entitlement& e) { return e.id == piece; });
      if (target == targets.end()) {
        Entitlement moved = source;
        moved.id = piece;
        moved.va = std::string(va_to);
        moved.quantity = 0;
        targets.push_back(std::move(moved));
        target = targets.end() - 1;
      }
    }
    target->quantity += n;
    changed[target->id] = *target;
  }
  std::vector<Entitlement> out;
  for (auto& [id, e] : changed) out.push_back(std::move(e));
  return out;
}

// --- Reservations --------------------------------------------------------------------------------

int64_t PoolBook::HeldBack(const PoolKey& key, const std::map<Udi, int64_t>& reservations) const {
  int64_t held = 0;
  for (const auto& [udi, reserved] : reservations) {
    held += std::max<int64_t>(0, reserved - UsedBy(key.first, udi, key.second));
  }
  return held;
}

Status PoolBook::CheckReservationsFit(const PoolKey& key,
                                      const std::map<Udi, int64_t>& reservations,
                                      TimePoint now) const {
  const PoolAvailability a = AvailabilityFor(key, nullptr, nullptr, now);
  int64_t total = 0;
  for (const auto& [udi, count] : reservations) total += count;
  if (total > a.purchased) {
    return FailedPrecondition("reservations of " + PoolName(key.first, key.second) +
                              " would total " + std::to_string(total) + " but only " +
                              std::to_string(a.purchased) + " are purchased (valid at " +
                              FormatRfc3339(now) + "); reserve at most what is purchased");
  }
  // In an ENFORCED pool a reservation over units that devices hold would deny those devices
  // everything at their next renewal; only free units can be reserved there. (A REPORTED pool
  // just reports the others out of compliance, which is what the reservation is for.)
  if (a.enforcement != Enforcement::kEnforced) return Status::Ok();
  const int64_t before = a.in_use + a.held_for_others;
  const int64_t after = a.in_use + HeldBack(key, reservations);
  if (after <= a.purchased || after <= before) return Status::Ok();
  return FailedPrecondition(PoolName(key.first, key.second) + " is ENFORCED and has " +
                            Units(std::max<int64_t>(0, a.purchased - before)) +
                            " free to reserve (" + std::to_string(a.purchased) + " purchased, " +
                            std::to_string(a.in_use) + " in use, " +
                            std::to_string(a.held_for_others) +
                            " reserved and unused); release devices first or reserve fewer");
}

Status PoolBook::SetReservations(std::vector<Reservation> reservations, TimePoint now) {
  std::map<PoolKey, std::map<Udi, int64_t>> grouped;
  for (const Reservation& r : reservations) {
    OUTPOST_RETURN_IF_ERROR(ValidateReservation(r));
    if (!grouped[{r.va, r.tag}].emplace(r.udi, r.count).second) {
      return InvalidArgument("the reservation of " + PoolName(r.va, r.tag) + " for UDI " +
                             Quote(r.udi.ToString()) + " appears twice");
    }
  }
  for (const auto& [key, by_udi] : grouped) {
    OUTPOST_RETURN_IF_ERROR(CheckReservationsFit(key, by_udi, now));
  }
  for (auto& [key, pool] : pools_) pool.reservations.clear();
  for (auto& [key, by_udi] : grouped) pools_[key].reservations = std::move(by_udi);
  PruneEmptyPools();
  return Status::Ok();
}

Result<Reservation> PoolBook::AddReservation(const Reservation& reservation, TimePoint now) {
  OUTPOST_RETURN_IF_ERROR(ValidateReservation(reservation));
  const PoolKey key{reservation.va, reservation.tag};
  std::map<Udi, int64_t> after;
  if (auto it = pools_.find(key); it != pools_.end()) after = it->second.reservations;
  int64_t& held = after[reservation.udi];
  held += reservation.count;
  OUTPOST_RETURN_IF_ERROR(ValidateCount(
      held, "the reservation for UDI " + Quote(reservation.udi.ToString()) + " after adding"));
  OUTPOST_RETURN_IF_ERROR(CheckReservationsFit(key, after, now));
  Reservation now_held = reservation;
  now_held.count = held;
  pools_[key].reservations = std::move(after);
  return now_held;
}

Status PoolBook::RemoveReservation(std::string_view va, std::string_view tag, const Udi& udi) {
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(va));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(tag));
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(udi));
  auto it = pools_.find(PoolKey{std::string(va), std::string(tag)});
  if (it == pools_.end() || it->second.reservations.erase(udi) == 0) {
    return NotFound("there is no reservation of " + PoolName(va, tag) + " for UDI " +
                    Quote(udi.ToString()));
  }
  PruneEmptyPools();
  return Status::Ok();
}

// --- Devices -------------------------------------------------------------------------------------

Status PoolBook::CheckDeviceIdentity(const std::string& instance_id, const std::string& va,
                                     const Udi& udi) const {
  if (const std::optional<uint32_t> slot = devices_->Find(instance_id)) {
    const BookDevice& known = devices_->at(*slot);
    if (devices_->VaOf(known) != va || !devices_->HasUdi(known, udi.pid, udi.serial)) {
      return FailedPrecondition("instance " + Quote(instance_id) + " holds licenses as UDI " +
                                Quote(devices_->UdiOf(known).ToString()) + " in virtual account " +
                                Quote(devices_->VaOf(known)) + "; rehost or release it first");
    }
  }
  if (const std::optional<uint32_t> holder = devices_->FindByUdi(va, udi)) {
    const std::string holder_id = devices_->IdText(devices_->at(*holder));
    if (holder_id != instance_id) {
      return FailedPrecondition("UDI " + Quote(udi.ToString()) + " in virtual account " +
                                Quote(va) + " holds licenses as instance " + Quote(holder_id) +
                                "; rehost or release that instance first");
    }
  }
  return Status::Ok();
}

TagDecision PoolBook::Decide(const DeviceRef& device, const BookDevice* self,
                             const TagRequest& request, TimePoint now,
                             const AuthorizationPolicy& policy) const {
  TagDecision d;
  d.tag = request.tag;
  d.requested = request.count;
  const PoolAvailability a = AvailabilityFor({device.va, request.tag}, self, &device.udi, now);
  d.floating = a.floating;
  const std::string where = "virtual account " + Quote(device.va);
  // Built only for the answers that need it: the authorized path is the hot one.
  const auto shortage = [&] {
    return std::to_string(request.count) + " requested, " +
           Units(std::max<int64_t>(0, a.available)) + " available in " + where + " (" +
           std::to_string(a.purchased) + " purchased, " + std::to_string(a.others_in_use) +
           " in use by other devices, " + std::to_string(a.held_for_others) +
           " reserved for other devices)";
  };
  if (!a.entitled) {
    d.status = TagStatus::kNotEntitled;
    if (a.next_start) {
      d.reason = "the entitlement for tag " + Quote(request.tag) + " in " + where + " starts at " +
                 FormatRfc3339(*a.next_start) + "; ask again then";
    } else if (a.last_end) {
      d.reason = "the entitlement for tag " + Quote(request.tag) + " in " + where + " ended at " +
                 FormatRfc3339(*a.last_end) + "; the operator must renew it";
    } else {
      d.reason = where + " has no entitlement for tag " + Quote(request.tag) +
                 "; check the tag name or ask the operator to add or move licenses";
    }
  } else if (a.export_controlled && !device.export_allowed) {
    d.status = TagStatus::kDenied;
    d.reason = "tag " + Quote(request.tag) +
               " is export-controlled and this device's registration token does not allow "
               "export-controlled features; register with a token that does";
  } else if (request.count <= a.available) {
    d.status = TagStatus::kAuthorized;
    d.reason = "authorized: " + std::to_string(request.count) + " of " + Units(a.available) +
               " available in " + where;
  } else if (a.enforcement == Enforcement::kReported && request.count <= a.own_reserved) {
    d.status = TagStatus::kAuthorized;
    d.reason = "authorized within the " + Units(a.own_reserved) + " reserved for this device";
  } else if (a.enforcement == Enforcement::kReported) {
    d.status = TagStatus::kOutOfCompliance;
    d.reason = "recorded but out of compliance: " + shortage() +
               "; the operator should buy or move licenses";
  } else {
    d.status = TagStatus::kDenied;
    d.reason = "denied: " + shortage() +
               "; the tag is ENFORCED, so the operator must release, move or buy licenses";
  }
  if (d.status == TagStatus::kAuthorized || d.status == TagStatus::kOutOfCompliance) {
    d.granted = request.count;
    d.valid_until = now + (a.floating ? policy.floating_lease : policy.validity);
    d.renew_after = now + (a.floating ? policy.floating_lease / 2 : policy.renewal);
  }
  return d;
}

Result<AuthorizationDecision> PoolBook::Authorize(const DeviceRef& device,
                                                  const std::vector<TagRequest>& requests,
                                                  TimePoint now,
                                                  const AuthorizationPolicy& policy) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(device.instance_id));
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(device.va));
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(device.udi));
  OUTPOST_RETURN_IF_ERROR(policy.Validate());
  if (requests.size() > kMaxTagsPerRequest) {
    return InvalidArgument("the request names " + std::to_string(requests.size()) +
                           " tags; at most " + std::to_string(kMaxTagsPerRequest) + " are allowed");
  }
  std::set<std::string_view> seen;
  for (const TagRequest& r : requests) {
    OUTPOST_RETURN_IF_ERROR(ValidateTag(r.tag));
    OUTPOST_RETURN_IF_ERROR(ValidateCount(r.count, "the count of tag " + Quote(r.tag)));
    if (!seen.insert(r.tag).second) {
      return InvalidArgument("tag " + Quote(r.tag) +
                             " appears twice in the request; state each tag once with its total "
                             "count");
    }
  }
  OUTPOST_RETURN_IF_ERROR(CheckDeviceIdentity(device.instance_id, device.va, device.udi));

  // Each tag is its own pool and the device's own consumption never limits it, so the tags are
  // decided independently, all before anything changes.
  const std::optional<uint32_t> self_slot = devices_->Find(device.instance_id);
  const BookDevice* self = self_slot ? &devices_->at(*self_slot) : nullptr;
  AuthorizationDecision decision;
  decision.instance_id = device.instance_id;
  decision.issued_at = now;
  GrantMap grants;
  std::optional<TimePoint> valid_until, renew_after;
  for (const TagRequest& r : requests) {
    TagDecision d = Decide(device, self, r, now, policy);
    if (d.granted > 0) {
      grants[d.tag] = WideGrant{d.granted, *d.valid_until};
      valid_until = std::min(valid_until.value_or(TimePoint::max()), *d.valid_until);
      renew_after = std::min(renew_after.value_or(TimePoint::max()), *d.renew_after);
    }
    decision.tags.push_back(std::move(d));
  }
  decision.valid_until = valid_until.value_or(now + policy.validity);
  decision.renew_after = renew_after.value_or(now + policy.renewal);
  decision.delta = ReplaceGrants(device.instance_id, device.va, device.udi, grants, now);
  return decision;
}

Result<ConsumptionDelta> PoolBook::Release(std::string_view instance_id, TimePoint now) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  const std::optional<uint32_t> slot = devices_->Find(instance_id);
  if (!slot) {
    ConsumptionDelta nothing;
    nothing.instance_id = std::string(instance_id);
    return nothing;
  }
  const BookDevice& device = devices_->at(*slot);
  const std::string va = devices_->VaOf(device);
  const Udi udi = devices_->UdiOf(device);
  return ReplaceGrants(std::string(instance_id), va, udi, {}, now);
}

Result<RehostDelta> PoolBook::Rehost(std::string_view old_instance, std::string_view new_instance,
                                     const Udi& new_udi) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(old_instance));
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(new_instance));
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(new_udi));
  RehostDelta delta;
  delta.removed.instance_id = std::string(old_instance);
  delta.added.instance_id = std::string(new_instance);
  const std::optional<uint32_t> slot = devices_->Find(old_instance);
  if (!slot) return delta;
  if (old_instance != new_instance && devices_->Find(new_instance)) {
    return FailedPrecondition("instance " + Quote(new_instance) +
                              " already holds licenses; release it before rehosting " +
                              Quote(old_instance) + " onto it");
  }
  const BookDevice& moved = devices_->at(*slot);
  const std::string va = devices_->VaOf(moved);
  if (const std::optional<uint32_t> holder = devices_->FindByUdi(va, new_udi);
      holder && *holder != *slot) {
    return FailedPrecondition("UDI " + Quote(new_udi.ToString()) + " in virtual account " +
                              Quote(va) + " already holds licenses as instance " +
                              Quote(devices_->IdText(devices_->at(*holder))) +
                              "; release that instance first");
  }
  const Udi old_udi = devices_->UdiOf(moved);
  if (old_instance == new_instance && old_udi == new_udi) return delta;

  delta.removed.va = delta.added.va = va;
  delta.removed.udi = old_udi;
  delta.added.udi = new_udi;
  for (const BookGrant& grant : moved.grants) {
    const std::string& tag = devices_->TagOf(grant);
    delta.removed.changes.push_back({tag, grant.count, 0, std::nullopt});
    delta.added.changes.push_back({tag, 0, grant.count, grant.valid_until});
  }
  devices_->Rename(*slot, new_instance, new_udi);
  return delta;
}

std::vector<ConsumptionDelta> PoolBook::Sweep(TimePoint now) {
  std::vector<ConsumptionDelta> out;
  // The expiry index names the devices with something expired: no scan of every device.
  std::vector<uint32_t> expired = devices_->TakeExpired(now);
  std::sort(expired.begin(), expired.end(), [this](uint32_t a, uint32_t b) {
    return InstanceKeyLess(devices_->at(a).id, devices_->at(b).id, devices_->other_ids);
  });
  for (uint32_t slot : expired) {
    const BookDevice& device = devices_->at(slot);
    GrantMap kept;
    for (const BookGrant& grant : device.grants) {
      if (grant.valid_until > now) {
        kept.emplace(devices_->TagOf(grant), WideGrant{grant.count, grant.valid_until});
      }
    }
    const std::string instance_id = devices_->IdText(device);
    const std::string va = devices_->VaOf(device);
    const Udi udi = devices_->UdiOf(device);
    out.push_back(ReplaceGrants(instance_id, va, udi, kept, now));
  }
  return out;
}

// --- Bookkeeping ---------------------------------------------------------------------------------

ConsumptionDelta PoolBook::ReplaceGrants(const std::string& instance_id, const std::string& va,
                                         const Udi& udi, const GrantMap& grants, TimePoint now) {
  ConsumptionDelta delta;
  delta.instance_id = instance_id;
  delta.va = va;
  delta.udi = udi;
  std::optional<uint32_t> slot = devices_->Find(instance_id);
  static const boost::container::small_vector<BookGrant, 2> kNone;
  const auto& old = slot ? devices_->at(*slot).grants : kNone;
  // Walk both sorted lists at once: every tag in either is unchanged, changed, added or dropped.
  auto o = old.begin();
  auto n = grants.begin();
  while (o != old.end() || n != grants.end()) {
    const bool take_old = n == grants.end() || (o != old.end() && devices_->TagOf(*o) <= n->first);
    const bool take_new = o == old.end() || (n != grants.end() && n->first <= devices_->TagOf(*o));
    const std::string& tag = take_old ? devices_->TagOf(*o) : n->first;
    const int64_t old_count = take_old ? o->count : 0;
    const int64_t new_count = take_new ? n->second.count : 0;
    const bool same_expiry = take_old && take_new && o->valid_until == n->second.valid_until;
    if (old_count != new_count || (new_count > 0 && !same_expiry)) {
      std::optional<TimePoint> until;
      if (take_new) until = n->second.valid_until;
      delta.changes.push_back({tag, old_count, new_count, until});
    }
    if (old_count != new_count) AddInUse({va, tag}, new_count - old_count, now);
    if (take_old) ++o;
    if (take_new) ++n;
  }
  if (grants.empty()) {
    if (slot) devices_->Remove(*slot);
    return delta;
  }
  if (!slot) {
    slot = devices_->Add(instance_id, va, udi);
    // The callers checked that neither the instance nor (va, udi) is held by another device.
    if (!slot) std::abort();
  }
  BookDevice& device = devices_->at(*slot);
  device.grants.clear();
  for (const auto& [tag, grant] : grants) {
    device.grants.push_back(BookGrant{devices_->names.Intern(tag),
                                      static_cast<int32_t>(grant.count), grant.valid_until});
  }
  devices_->NoteExpiry(*slot);
  return delta;
}

void PoolBook::AddInUse(const PoolKey& key, int64_t diff, TimePoint now) {
  auto it = pools_.try_emplace(key).first;
  it->second.in_use += diff;
  if (usage_ != nullptr) usage_->Observe(key.first, key.second, it->second.in_use, now);
  if (it->second.in_use == 0 && it->second.entitlements.empty() &&
      it->second.reservations.empty()) {
    pools_.erase(it);
  }
}

void PoolBook::PruneEmptyPools() {
  std::erase_if(pools_, [](const auto& entry) {
    const Pool& pool = entry.second;
    return pool.in_use == 0 && pool.entitlements.empty() && pool.reservations.empty();
  });
}

std::vector<ConsumptionRow> PoolBook::DeviceConsumption(std::string_view instance_id) const {
  std::vector<ConsumptionRow> rows;
  const std::optional<uint32_t> slot = devices_->Find(instance_id);
  if (!slot) return rows;
  const BookDevice& device = devices_->at(*slot);
  for (const BookGrant& grant : device.grants) {
    rows.push_back({std::string(instance_id), devices_->VaOf(device), devices_->UdiOf(device),
                    devices_->TagOf(grant), grant.count, grant.valid_until});
  }
  return rows;
}

}  // namespace outpost::server::licensing
