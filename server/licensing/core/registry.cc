#include "server/licensing/core/registry.h"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <functional>

namespace outpost::server::licensing {

DeviceRegistry::DeviceRegistry()
    : by_id_(0, IdHash{this}, IdEq{this}),
      by_udi_(0, UdiHash{this}, UdiEq{this}),
      by_va_serial_(0, VaSerialHash{this}, VaSerialEq{this}) {}

void DeviceRegistry::Reserve(size_t devices) {
  slots_.reserve(devices);
  by_id_.reserve(devices);
  by_udi_.reserve(devices);
  by_va_serial_.reserve(devices);
}

size_t DeviceRegistry::HashVaSerial(const VaSerial& k) {
  size_t seed = std::hash<std::string_view>{}(k.serial);
  boost::hash_combine(seed, k.va);
  return seed;
}

std::optional<uint32_t> DeviceRegistry::FindSlot(std::string_view instance_id) const {
  const std::optional<InstanceKey> key = FindInstanceKey(instance_id, other_ids_);
  if (!key) return std::nullopt;
  auto it = by_id_.find(*key);
  if (it == by_id_.end()) return std::nullopt;
  return *it;
}

void DeviceRegistry::Unindex(uint32_t slot) {
  // Before the slot changes: the indexes hash through it. The UDI and (VA, serial) indexes may
  // name a newer device with the same key; only this slot's own entries go.
  by_id_.erase(by_id_.find(slot));
  if (auto it = by_udi_.find(slot); it != by_udi_.end() && *it == slot) by_udi_.erase(it);
  if (auto it = by_va_serial_.find(slot); it != by_va_serial_.end() && *it == slot) {
    by_va_serial_.erase(it);
  }
}

void DeviceRegistry::Put(const RegisteredDevice& device) {
  // The new device is written into a free slot and offered to the id index, which finds an
  // existing instance in the same probe (one parse and one lookup per row when loading).
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.id = MakeInstanceKey(device.instance_id, other_ids_);
  s.va = names_.Intern(device.va);
  s.udi = PackUdi(device.udi.pid, device.udi.serial, other_ids_);
  s.live = true;
  s.export_allowed = device.export_allowed;
  s.cert_serial = PackHex(device.cert_serial, other_ids_);
  s.cert_not_after = device.cert_not_after;
  if (auto [it, added] = by_id_.insert(slot); added) {
    ++live_;
  } else {
    // Registered already: that slot takes the new values and this one goes back.
    const uint32_t existing = *it;
    Unindex(existing);
    slots_[existing] = s;
    s = Slot{};
    free_.push_back(slot);
    slot = existing;
    by_id_.insert(slot);
  }
  // The last device put with a UDI or (VA, serial) is the one it names, as a map assignment.
  // Offered first (one probe when the key is new, as when loading), replaced when taken.
  if (auto [it, added] = by_udi_.insert(slot); !added) {
    by_udi_.erase(it);
    by_udi_.insert(slot);
  }
  if (auto [it, added] = by_va_serial_.insert(slot); !added) {
    by_va_serial_.erase(it);
    by_va_serial_.insert(slot);
  }
}

bool DeviceRegistry::Remove(std::string_view instance_id) {
  const std::optional<uint32_t> slot = FindSlot(instance_id);
  if (!slot) return false;
  Unindex(*slot);
  slots_[*slot] = Slot{};
  free_.push_back(*slot);
  --live_;
  return true;
}

RegisteredDevice DeviceRegistry::ToDevice(const Slot& s) const {
  return RegisteredDevice{
      InstanceKeyText(s.id, other_ids_),
      names_.Get(s.va),
      Udi{std::string(UdiPid(s.udi, other_ids_)), std::string(UdiSerial(s.udi, other_ids_))},
      s.export_allowed,
      UnpackHex(s.cert_serial, other_ids_),
      s.cert_not_after};
}

std::optional<RegisteredDevice> DeviceRegistry::Find(std::string_view instance_id) const {
  const std::optional<uint32_t> slot = FindSlot(instance_id);
  if (!slot) return std::nullopt;
  return ToDevice(slots_[*slot]);
}

bool DeviceRegistry::Contains(std::string_view instance_id) const {
  return FindSlot(instance_id).has_value();
}

std::optional<DeviceRegistry::Identity> DeviceRegistry::FindIdentity(
    std::string_view instance_id) const {
  const std::optional<uint32_t> slot = FindSlot(instance_id);
  if (!slot) return std::nullopt;
  const Slot& s = slots_[*slot];
  return Identity{names_.Get(s.va), UdiPid(s.udi, other_ids_), UdiSerial(s.udi, other_ids_)};
}

std::optional<std::string> DeviceRegistry::FindByUdi(const Udi& udi) const {
  const std::optional<PackedUdi> key = FindPackedUdi(udi.pid, udi.serial, other_ids_);
  if (!key) return std::nullopt;
  auto it = by_udi_.find(*key);
  if (it == by_udi_.end()) return std::nullopt;
  return InstanceKeyText(slots_[*it].id, other_ids_);
}

std::optional<std::string> DeviceRegistry::FindByVaSerial(std::string_view va,
                                                          std::string_view serial) const {
  const std::optional<uint32_t> va_id = names_.Find(va);
  if (!va_id) return std::nullopt;
  auto it = by_va_serial_.find(VaSerial{*va_id, serial});
  if (it == by_va_serial_.end()) return std::nullopt;
  return InstanceKeyText(slots_[*it].id, other_ids_);
}

void DeviceRegistry::SaveTo(StateWriter& w) const {
  PutTable(w, names_);
  PutTable(w, other_ids_);
  w.Put(static_cast<uint64_t>(live_));
  for (const Slot& s : slots_) {
    if (!s.live) continue;
    w.Put(s.id.uuid);
    w.Put(s.id.other);
    w.Put(s.va);
    w.Put(s.udi);
    w.Put(s.cert_serial.bytes);
    w.Put(s.cert_serial.digits);
    w.Put(static_cast<uint8_t>(s.export_allowed ? 1 : 0));
    w.Put(static_cast<int64_t>(s.cert_not_after.time_since_epoch().count()));
  }
}

bool DeviceRegistry::LoadFrom(StateReader& r) {
  uint64_t count = 0;
  if (live_ != 0 || !slots_.empty() || !GetTable(r, names_) || !GetTable(r, other_ids_) ||
      !r.Get(count) || count > r.left()) {
    return false;
  }
  Reserve(static_cast<size_t>(count + count / 8));
  for (uint64_t i = 0; i < count; ++i) {
    Slot s;
    uint8_t export_allowed = 0;
    int64_t not_after = 0;
    if (!r.Get(s.id.uuid) || !r.Get(s.id.other) || !r.Get(s.va) || !r.Get(s.udi) ||
        !r.Get(s.cert_serial.bytes) || !r.Get(s.cert_serial.digits) || !r.Get(export_allowed) ||
        !r.Get(not_after)) {
      return false;
    }
    if (s.va >= names_.size() || export_allowed > 1 || !IsWellFormed(s.id, other_ids_) ||
        !IsWellFormed(s.udi, other_ids_) || !IsWellFormed(s.cert_serial, other_ids_)) {
      return false;
    }
    s.live = true;
    s.export_allowed = export_allowed == 1;
    s.cert_not_after = TimePoint(TimePoint::duration(not_after));
    slots_.push_back(s);
  }
  // Every key once: a registry the service kept never names a UDI or (VA, serial) twice. One
  // index at a time, so that only one table is being written at random at once.
  const auto n = static_cast<uint32_t>(slots_.size());
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!by_id_.insert(slot).second) return false;
  }
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!by_udi_.insert(slot).second) return false;
  }
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!by_va_serial_.insert(slot).second) return false;
  }
  live_ = n;
  return true;
}

std::map<std::string, int64_t> DeviceRegistry::CountByVa() const {
  std::vector<int64_t> by_id(names_.size(), 0);
  for (const Slot& s : slots_) {
    if (s.live) ++by_id[s.va];
  }
  std::map<std::string, int64_t> out;
  for (uint32_t id = 0; id < by_id.size(); ++id) {
    if (by_id[id] > 0) out[names_.Get(id)] = by_id[id];
  }
  return out;
}

std::vector<std::string> DeviceRegistry::SortedIds(std::optional<std::string_view> va, size_t limit,
                                                   bool* more) const {
  std::vector<uint32_t> matching;
  std::optional<uint32_t> va_id;
  if (va) {
    va_id = names_.Find(*va);
    if (!va_id) {
      *more = false;
      return {};
    }
  }
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].live && (!va_id || slots_[s].va == *va_id)) matching.push_back(s);
  }
  *more = matching.size() > limit;
  const size_t n = std::min(limit, matching.size());
  // Only the first `limit` are ordered: a listing of 1,000 out of a million sorts 1,000.
  std::partial_sort(matching.begin(), matching.begin() + static_cast<ptrdiff_t>(n), matching.end(),
                    [this](uint32_t a, uint32_t b) {
                      return InstanceKeyLess(slots_[a].id, slots_[b].id, other_ids_);
                    });
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(InstanceKeyText(slots_[matching[i]].id, other_ids_));
  return out;
}

}  // namespace outpost::server::licensing
