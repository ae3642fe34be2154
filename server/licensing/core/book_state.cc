// PoolBook's persisted form: Snapshot writes it, Restore (or a Restorer) reads it back.

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "server/licensing/core/book_devices.h"
#include "server/licensing/core/pools.h"
#include "server/licensing/core/restorer.h"

namespace outpost::server::licensing {

std::vector<Entitlement> PoolBook::Entitlements() const {
  std::vector<Entitlement> out;
  for (const auto& [key, pool] : pools_) {
    out.insert(out.end(), pool.entitlements.begin(), pool.entitlements.end());
  }
  std::sort(out.begin(), out.end(),
            [](const Entitlement& a, const Entitlement& b) { return a.id < b.id; });
  return out;
}

BookState PoolBook::Snapshot() const {
  BookState state;
  for (const auto& [key, pool] : pools_) {
    state.entitlements.insert(state.entitlements.end(), pool.entitlements.begin(),
                              pool.entitlements.end());
    for (const auto& [udi, count] : pool.reservations) {
      state.reservations.push_back({key.first, key.second, udi, count});
    }
  }
  std::sort(state.entitlements.begin(), state.entitlements.end(),
            [](const Entitlement& a, const Entitlement& b) { return a.id < b.id; });
  for (uint32_t slot : devices_->SortedSlots()) {
    const BookDevice& device = devices_->at(slot);
    const std::string instance_id = devices_->IdText(device);
    const Udi udi = devices_->UdiOf(device);
    for (const BookGrant& grant : device.grants) {
      state.consumption.push_back({instance_id, devices_->VaOf(device), udi, devices_->TagOf(grant),
                                   grant.count, grant.valid_until});
    }
  }
  return state;
}

void PoolBook::SaveDevices(StateWriter& w) const { devices_->SaveTo(w); }

Status PoolBook::Restore(BookState state, TimePoint now) {
  Restorer restorer(*this);
  restorer.Reserve(state.consumption.size());
  for (Entitlement& e : state.entitlements) {
    OUTPOST_RETURN_IF_ERROR(restorer.AddEntitlement(std::move(e)));
  }
  for (const Reservation& r : state.reservations) {
    OUTPOST_RETURN_IF_ERROR(restorer.AddReservation(r));
  }
  for (const ConsumptionRow& row : state.consumption) {
    OUTPOST_RETURN_IF_ERROR(restorer.AddConsumption(
        row.instance_id, row.va, row.udi.pid, row.udi.serial, row.tag, row.count, row.valid_until));
  }
  return restorer.Finish(now);
}

// --- Restorer
// ------------------------------------------------------------------------------------- Everything
// is checked before anything is replaced: a corrupt row leaves the book as it was. Rows were valid
// when the book wrote them, so the checks are the cheap ones that catch a damaged or hand-edited
// database; each name is validated once, when it is first interned, not once per row.

namespace {

Status Corrupt(const Status& s, const std::string& what) {
  return DataLoss("restoring licensing state: " + what + ": " + s.message());
}

Status HeldTwice(const PoolBook::Restorer::Identity& identity) {
  const Udi udi{std::string(identity.pid), std::string(identity.serial)};
  return DataLoss("restoring licensing state: UDI " + Quote(udi.ToString()) +
                  " in virtual account " + Quote(identity.va) + " is held by two instances");
}

}  // namespace

PoolBook::Restorer::Restorer(PoolBook& book)
    : book_(book), devices_(std::make_unique<BookDevices>()), last_slot_(0) {}

PoolBook::Restorer::~Restorer() = default;

std::optional<uint32_t> PoolBook::Restorer::Validated(std::string_view name, uint8_t role) const {
  const std::optional<uint32_t> id = devices_->names.Find(name);
  if (!id || *id >= validated_.size() || (validated_[*id] & role) == 0) return std::nullopt;
  return id;
}

uint32_t PoolBook::Restorer::MarkValid(std::string_view name, uint8_t role) {
  const uint32_t id = devices_->names.Intern(name);
  if (id >= validated_.size()) validated_.resize(id + 1, 0);
  validated_[id] |= role;
  return id;
}

void PoolBook::Restorer::Reserve(size_t devices) { devices_->Reserve(devices); }

Status PoolBook::Restorer::AddEntitlement(Entitlement e) {
  if (Status s = ValidateEntitlement(e); !s.ok()) {
    return Corrupt(s, "entitlement row");
  }
  entitlements_.push_back(std::move(e));
  return Status::Ok();
}

Status PoolBook::Restorer::AddReservation(const Reservation& r) {
  if (Status s = ValidateReservation(r); !s.ok()) return Corrupt(s, "reservation row");
  if (!pools_[{r.va, r.tag}].reservations.emplace(r.udi, r.count).second) {
    return DataLoss("restoring licensing state: the reservation of tag " + Quote(r.tag) +
                    " in virtual account " + Quote(r.va) + " for UDI " + Quote(r.udi.ToString()) +
                    " appears twice");
  }
  return Status::Ok();
}

Result<uint32_t> PoolBook::Restorer::DeviceOfRow(std::string_view instance_id,
                                                 const Identity* identity) {
  if (!last_instance_.empty() && instance_id == last_instance_) return last_slot_;
  // A new run of rows is a new instance unless the rows were out of order: add first, and look
  // the instance up only when that fails (one lookup per device, not two).
  BookDevices& d = *devices_;
  Status s = ValidateInstanceId(instance_id);
  std::optional<uint32_t> found;
  if (identity == nullptr) {
    if (!s.ok()) return Corrupt(s, "consumption row of instance " + Quote(instance_id));
    found = d.AddUnidentified(instance_id);
  } else {
    if (s.ok() && !Validated(identity->va, kVa)) s = ValidateVaName(identity->va);
    const Udi udi{std::string(identity->pid), std::string(identity->serial)};
    if (s.ok()) s = ValidateUdi(udi);
    if (!s.ok()) return Corrupt(s, "consumption row of instance " + Quote(instance_id));
    MarkValid(identity->va, kVa);
    found = d.Add(instance_id, identity->va, udi);
  }
  if (!found) found = d.Find(instance_id);
  if (!found) {
    // Only Add refuses an instance id that is free: for its UDI.
    return identity != nullptr ? HeldTwice(*identity)
                               : Internal("instance " + Quote(instance_id) + " was refused");
  }
  last_slot_ = *found;
  last_instance_.assign(instance_id);
  return *found;
}

Result<uint32_t> PoolBook::Restorer::AddGrantTo(uint32_t slot, std::string_view instance_id,
                                                std::string_view tag, int64_t count,
                                                TimePoint valid_until) {
  // Messages are built only on failure: this runs once per row at start-up.
  auto what = [&] { return "consumption row of instance " + Quote(instance_id); };
  BookDevices& d = *devices_;
  BookDevice& device = d.at(slot);
  std::optional<uint32_t> validated_tag = Validated(tag, kTag);
  if (!validated_tag) {
    if (Status s = ValidateTag(tag); !s.ok()) return Corrupt(s, what());
    validated_tag = MarkValid(tag, kTag);
  }
  const uint32_t tag_id = *validated_tag;
  if (count < 1 || count > kMaxCount) {
    return Corrupt(ValidateCount(count, "count of tag " + Quote(tag)), what());
  }
  // Rows arrive sorted by tag: appending is the usual case; anything else is inserted in order.
  auto pos = device.grants.end();
  while (pos != device.grants.begin() && d.TagOf(*(pos - 1)) >= tag) --pos;
  if (pos != device.grants.end() && pos->tag == tag_id) {
    return DataLoss("restoring licensing state: " + what() + " has tag " + Quote(tag) + " twice");
  }
  device.grants.insert(pos, BookGrant{tag_id, static_cast<int32_t>(count), valid_until});
  return tag_id;
}

void PoolBook::Restorer::CountInUse(uint32_t slot) {
  const BookDevice& device = devices_->at(slot);
  for (const BookGrant& g : device.grants) in_use_[uint64_t{device.va} << 32 | g.tag] += g.count;
}

Status PoolBook::Restorer::AddConsumption(std::string_view instance_id, std::string_view va,
                                          std::string_view pid, std::string_view serial,
                                          std::string_view tag, int64_t count,
                                          TimePoint valid_until) {
  if (unidentified_) {
    return FailedPrecondition("consumption rows with and without their device's UDI are mixed");
  }
  const Identity identity{va, pid, serial};
  OUTPOST_ASSIGN_OR_RETURN(const uint32_t slot, DeviceOfRow(instance_id, &identity));
  BookDevices& d = *devices_;
  const BookDevice& device = d.at(slot);
  if (d.VaOf(device) != va || !d.HasUdi(device, pid, serial)) {
    return DataLoss("restoring licensing state: consumption row of instance " + Quote(instance_id) +
                    " names another virtual account or UDI than its other rows");
  }
  OUTPOST_ASSIGN_OR_RETURN(const uint32_t tag_id,
                           AddGrantTo(slot, instance_id, tag, count, valid_until));
  in_use_[uint64_t{device.va} << 32 | tag_id] += count;
  return Status::Ok();
}

Status PoolBook::Restorer::AddGrant(std::string_view instance_id, std::string_view tag,
                                    int64_t count, TimePoint valid_until) {
  if (!unidentified_ && devices_->size() > 0) {
    return FailedPrecondition("consumption rows with and without their device's UDI are mixed");
  }
  unidentified_ = true;
  OUTPOST_ASSIGN_OR_RETURN(const uint32_t slot, DeviceOfRow(instance_id, nullptr));
  return AddGrantTo(slot, instance_id, tag, count, valid_until).status();
}

Status PoolBook::Restorer::AttachIdentities(const IdentityOf& identity_of) {
  BookDevices& d = *devices_;
  std::array<char, kInstanceKeyTextSize> buffer;
  for (uint32_t slot = 0; slot < d.slot_count(); ++slot) {
    if (!d.at(slot).live) continue;
    const std::string_view instance_id = InstanceKeyView(d.at(slot).id, d.other_ids, buffer);
    const std::optional<Identity> identity = identity_of(instance_id);
    if (!identity) {
      d.RemoveUnidentified(slot);
      continue;
    }
    Status s = Validated(identity->va, kVa) ? Status::Ok() : ValidateVaName(identity->va);
    if (s.ok()) s = ValidateUdi(Udi{std::string(identity->pid), std::string(identity->serial)});
    if (!s.ok()) return Corrupt(s, "consumption row of instance " + Quote(instance_id));
    MarkValid(identity->va, kVa);
    if (!d.Identify(slot, identity->va, identity->pid, identity->serial)) {
      return HeldTwice(*identity);
    }
    CountInUse(slot);
  }
  unidentified_ = false;
  last_instance_.clear();
  return Status::Ok();
}

Status PoolBook::Restorer::AddSavedDevices(StateReader& r) {
  if (unidentified_ || devices_->size() > 0) {
    return FailedPrecondition("saved devices and consumption rows are mixed");
  }
  if (!devices_->LoadFrom(r)) {
    devices_ = std::make_unique<BookDevices>();
    return DataLoss(
        "restoring licensing state: the saved devices are damaged or not this "
        "version's");
  }
  for (uint32_t slot = 0; slot < devices_->slot_count(); ++slot) CountInUse(slot);
  return Status::Ok();
}

void PoolBook::Restorer::DropDevice(std::string_view instance_id) {
  BookDevices& d = *devices_;
  const std::optional<uint32_t> slot = d.Find(instance_id);
  if (!slot) return;
  last_instance_.clear();
  if (unidentified_) {  // nothing counted yet (AttachIdentities counts)
    d.RemoveUnidentified(*slot);
    return;
  }
  // Its units leave the pools' counts; a count that drops to 0 leaves no pool behind, as if the
  // device had never been added.
  const BookDevice& device = d.at(*slot);
  for (const BookGrant& g : device.grants) {
    auto it = in_use_.find(uint64_t{device.va} << 32 | g.tag);
    if (it != in_use_.end() && (it->second -= g.count) == 0) in_use_.erase(it);
  }
  d.Remove(*slot);
}

Status PoolBook::Restorer::Finish(TimePoint now) {
  if (unidentified_) {
    return FailedPrecondition(
        "consumption rows were added without their device's UDI and "
        "AttachIdentities was not called");
  }
  std::set<std::string_view> ids;
  for (const Entitlement& e : entitlements_) {
    if (!ids.insert(e.id).second) {
      return DataLoss("restoring licensing state: entitlement " + Quote(e.id) + " appears twice");
    }
  }
  for (Entitlement& e : entitlements_) {
    PoolKey key{e.va, e.tag};
    pools_[key].entitlements.push_back(std::move(e));
  }
  entitlements_.clear();
  for (const auto& [key, count] : in_use_) {
    pools_[{devices_->names.Get(static_cast<uint32_t>(key >> 32)),
            devices_->names.Get(static_cast<uint32_t>(key & 0xffffffffu))}]
        .in_use += count;
  }
  in_use_.clear();
  devices_->RebuildExpiry();

  book_.pools_ = std::move(pools_);
  book_.devices_ = std::move(devices_);
  devices_ = std::make_unique<BookDevices>();
  if (book_.usage_ != nullptr) {
    for (const auto& [key, pool] : book_.pools_) {
      if (pool.in_use > 0) book_.usage_->Observe(key.first, key.second, pool.in_use, now);
    }
  }
  return Status::Ok();
}

}  // namespace outpost::server::licensing
