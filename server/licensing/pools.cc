#include "server/licensing/pools.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "server/licensing/pool_internal.h"

namespace outpost::server::licensing {
namespace {

std::string Units(int64_t n) { return std::to_string(n) + (n == 1 ? " unit" : " units"); }

TimePoint EndOrMax(const Entitlement& e) { return e.end.value_or(TimePoint::max()); }

std::string PoolName(std::string_view va, std::string_view tag) {
  return "tag " + Quote(tag) + " in virtual account " + Quote(va);
}

}  // namespace

// --- Availability --------------------------------------------------------------------------------

int64_t PoolBook::UsedBy(const std::string& va, const Udi& udi, std::string_view tag) const {
  auto holder = instances_.find({va, udi});
  if (holder == instances_.end()) return 0;
  const Device& device = devices_.find(holder->second)->second;
  auto grant = device.grants.find(tag);
  return grant == device.grants.end() ? 0 : grant->second.count;
}

PoolAvailability PoolBook::AvailabilityFor(const PoolKey& key, const Device* self,
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
    auto grant = self->grants.find(key.second);
    if (grant != self->grants.end()) own_in_use = grant->second.count;
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
    OUTPOST_RETURN_IF_ERROR(ValidateEntitlement(e, /*allow_move_ids=*/false));
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
                                                     int64_t count, TimePoint now) {
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
                              Quote(tag) + " valid at " + FormatTime(now) +
                              "; nothing can be moved");
  }
  const int64_t movable = std::max<int64_t>(0, a.available);
  if (count > movable) {
    return FailedPrecondition(
        "virtual account " + Quote(va_from) + " has " + Units(movable) + " of tag " + Quote(tag) +
        " available to move (" + std::to_string(a.purchased) + " valid now, " +
        std::to_string(a.in_use) + " in use, " + std::to_string(a.held_for_others) +
        " reserved and unused); cannot move " + std::to_string(count) +
        ". Release devices or reservations first, or move fewer");
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
                              FormatTime(now) + "); reserve at most what is purchased");
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

const PoolBook::Device* PoolBook::FindDevice(std::string_view instance_id) const {
  auto it = devices_.find(instance_id);
  return it == devices_.end() ? nullptr : &it->second;
}

Status PoolBook::CheckDeviceIdentity(const std::string& instance_id, const std::string& va,
                                     const Udi& udi) const {
  if (const Device* known = FindDevice(instance_id);
      known != nullptr && (known->va != va || known->udi != udi)) {
    return FailedPrecondition("instance " + Quote(instance_id) + " holds licenses as UDI " +
                              Quote(known->udi.ToString()) + " in virtual account " +
                              Quote(known->va) + "; rehost or release it first");
  }
  if (auto holder = instances_.find({va, udi});
      holder != instances_.end() && holder->second != instance_id) {
    return FailedPrecondition("UDI " + Quote(udi.ToString()) + " in virtual account " + Quote(va) +
                              " holds licenses as instance " + Quote(holder->second) +
                              "; rehost or release that instance first");
  }
  return Status::Ok();
}

TagDecision PoolBook::Decide(const DeviceRef& device, const Device* self, const TagRequest& request,
                             TimePoint now, const AuthorizationPolicy& policy) const {
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
                 FormatTime(*a.next_start) + "; ask again then";
    } else if (a.last_end) {
      d.reason = "the entitlement for tag " + Quote(request.tag) + " in " + where + " ended at " +
                 FormatTime(*a.last_end) + "; the operator must renew it";
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
  const Device* self = FindDevice(device.instance_id);
  AuthorizationDecision decision;
  decision.instance_id = device.instance_id;
  decision.issued_at = now;
  GrantMap grants;
  std::optional<TimePoint> valid_until, renew_after;
  for (const TagRequest& r : requests) {
    TagDecision d = Decide(device, self, r, now, policy);
    if (d.granted > 0) {
      grants[d.tag] = Grant{d.granted, *d.valid_until};
      valid_until = std::min(valid_until.value_or(TimePoint::max()), *d.valid_until);
      renew_after = std::min(renew_after.value_or(TimePoint::max()), *d.renew_after);
    }
    decision.tags.push_back(std::move(d));
  }
  decision.valid_until = valid_until.value_or(now + policy.validity);
  decision.renew_after = renew_after.value_or(now + policy.renewal);
  decision.delta = ReplaceGrants(device.instance_id, device.va, device.udi, std::move(grants), now);
  return decision;
}

Result<ConsumptionDelta> PoolBook::Release(std::string_view instance_id, TimePoint now) {
  OUTPOST_RETURN_IF_ERROR(ValidateInstanceId(instance_id));
  const Device* device = FindDevice(instance_id);
  if (device == nullptr) {
    ConsumptionDelta nothing;
    nothing.instance_id = std::string(instance_id);
    return nothing;
  }
  const std::string va = device->va;
  const Udi udi = device->udi;
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
  auto it = devices_.find(old_instance);
  if (it == devices_.end()) return delta;
  if (old_instance != new_instance && devices_.contains(new_instance)) {
    return FailedPrecondition("instance " + Quote(new_instance) +
                              " already holds licenses; release it before rehosting " +
                              Quote(old_instance) + " onto it");
  }
  Device moved = it->second;
  if (auto holder = instances_.find({moved.va, new_udi});
      holder != instances_.end() && holder->second != old_instance) {
    return FailedPrecondition("UDI " + Quote(new_udi.ToString()) + " in virtual account " +
                              Quote(moved.va) + " already holds licenses as instance " +
                              Quote(holder->second) + "; release that instance first");
  }
  if (old_instance == new_instance && moved.udi == new_udi) return delta;

  delta.removed.va = delta.added.va = moved.va;
  delta.removed.udi = moved.udi;
  delta.added.udi = new_udi;
  for (const auto& [tag, grant] : moved.grants) {
    delta.removed.changes.push_back({tag, grant.count, 0, std::nullopt});
    delta.added.changes.push_back({tag, 0, grant.count, grant.valid_until});
  }
  instances_.erase({moved.va, moved.udi});
  devices_.erase(it);
  moved.udi = new_udi;
  instances_[{moved.va, new_udi}] = std::string(new_instance);
  devices_.emplace(std::string(new_instance), std::move(moved));
  return delta;
}

std::vector<ConsumptionDelta> PoolBook::Sweep(TimePoint now) {
  std::vector<ConsumptionDelta> out;
  if (!next_expiry_ || now < *next_expiry_) return out;
  // Collect first: ReplaceGrants changes devices_.
  std::vector<std::pair<std::string, GrantMap>> survivors;
  for (const auto& [instance_id, device] : devices_) {
    GrantMap kept;
    bool expired = false;
    for (const auto& [tag, grant] : device.grants) {
      if (grant.valid_until <= now) {
        expired = true;
      } else {
        kept.emplace(tag, grant);
      }
    }
    if (expired) survivors.emplace_back(instance_id, std::move(kept));
  }
  for (auto& [instance_id, kept] : survivors) {
    const Device& device = devices_.at(instance_id);
    const std::string va = device.va;
    const Udi udi = device.udi;
    out.push_back(ReplaceGrants(instance_id, va, udi, std::move(kept), now));
  }
  RecomputeNextExpiry();
  return out;
}

// --- Bookkeeping ---------------------------------------------------------------------------------

ConsumptionDelta PoolBook::ReplaceGrants(const std::string& instance_id, const std::string& va,
                                         const Udi& udi, GrantMap grants, TimePoint now) {
  ConsumptionDelta delta;
  delta.instance_id = instance_id;
  delta.va = va;
  delta.udi = udi;
  auto it = devices_.find(instance_id);
  const GrantMap empty;
  const GrantMap& old = it == devices_.end() ? empty : it->second.grants;
  // Walk both sorted maps at once: every tag in either is unchanged, changed, added or dropped.
  auto o = old.begin();
  auto n = grants.begin();
  while (o != old.end() || n != grants.end()) {
    const bool take_old = n == grants.end() || (o != old.end() && o->first <= n->first);
    const bool take_new = o == old.end() || (n != grants.end() && n->first <= o->first);
    const std::string& tag = take_old ? o->first : n->first;
    const int64_t old_count = take_old ? o->second.count : 0;
    const int64_t new_count = take_new ? n->second.count : 0;
    const bool same_expiry = take_old && take_new && o->second.valid_until == n->second.valid_until;
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
    if (it != devices_.end()) {
      instances_.erase({it->second.va, it->second.udi});
      devices_.erase(it);
    }
    return delta;
  }
  for (const auto& [tag, grant] : grants) {
    next_expiry_ = std::min(next_expiry_.value_or(TimePoint::max()), grant.valid_until);
  }
  if (it == devices_.end()) {
    devices_.emplace(instance_id, Device{va, udi, std::move(grants)});
    instances_[{va, udi}] = instance_id;
  } else {
    it->second.grants = std::move(grants);
  }
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

void PoolBook::RecomputeNextExpiry() {
  next_expiry_.reset();
  for (const auto& [instance_id, device] : devices_) {
    for (const auto& [tag, grant] : device.grants) {
      next_expiry_ = std::min(next_expiry_.value_or(TimePoint::max()), grant.valid_until);
    }
  }
}

std::vector<ConsumptionRow> PoolBook::DeviceConsumption(std::string_view instance_id) const {
  std::vector<ConsumptionRow> rows;
  const Device* device = FindDevice(instance_id);
  if (device == nullptr) return rows;
  for (const auto& [tag, grant] : device->grants) {
    rows.push_back(
        {std::string(instance_id), device->va, device->udi, tag, grant.count, grant.valid_until});
  }
  return rows;
}

}  // namespace outpost::server::licensing
