#include "server/licensing/core/registry.h"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <functional>

namespace outpost::server::licensing {

DeviceRegistry::DeviceRegistry()
    : by_id_(0, IdHash{this}, IdEq{this}),
      by_udi_(0, SerialHash<false>{this}, SerialEq<false>{this}),
      by_va_serial_(0, SerialHash<true>{this}, SerialEq<true>{this}) {}

void DeviceRegistry::Reserve(size_t devices) {
  slots_.reserve(devices);
  by_id_.reserve(devices);
  by_udi_.reserve(devices);
  by_va_serial_.reserve(devices);
}

size_t DeviceRegistry::HashNameSerial(const NameSerial& k) {
  size_t seed = std::hash<std::string_view>{}(k.serial);
  boost::hash_combine(seed, k.name);
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
  s.pid = names_.Intern(device.udi.pid);
  s.live = true;
  s.export_allowed = device.export_allowed;
  s.cert_serial = PackHex(device.cert_serial, other_ids_);
  s.serial = device.udi.serial;
  s.cert_not_after = device.cert_not_after;
  if (auto [it, added] = by_id_.insert(slot); added) {
    ++live_;
  } else {
    // Registered already: that slot takes the new values and this one goes back.
    const uint32_t existing = *it;
    Unindex(existing);
    slots_[existing] = std::move(s);
    s = Slot{};
    free_.push_back(slot);
    slot = existing;
    by_id_.insert(slot);
  }
  // The last device put with a UDI or (VA, serial) is the one it names, as a map assignment.
  if (auto it = by_udi_.find(slot); it != by_udi_.end()) by_udi_.erase(it);
  by_udi_.insert(slot);
  if (auto it = by_va_serial_.find(slot); it != by_va_serial_.end()) by_va_serial_.erase(it);
  by_va_serial_.insert(slot);
}

bool DeviceRegistry::Remove(std::string_view instance_id) {
  const std::optional<uint32_t> slot = FindSlot(instance_id);
  if (!slot) return false;
  Unindex(*slot);
  Slot& s = slots_[*slot];
  s.live = false;
  s.serial.clear();
  s.serial.shrink_to_fit();
  free_.push_back(*slot);
  --live_;
  return true;
}

RegisteredDevice DeviceRegistry::ToDevice(const Slot& s) const {
  return RegisteredDevice{InstanceKeyText(s.id, other_ids_),    names_.Get(s.va),
                          Udi{names_.Get(s.pid), s.serial},     s.export_allowed,
                          UnpackHex(s.cert_serial, other_ids_), s.cert_not_after};
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
  return Identity{names_.Get(s.va), names_.Get(s.pid), s.serial};
}

std::optional<std::string> DeviceRegistry::FindByUdi(const Udi& udi) const {
  const std::optional<uint32_t> pid = names_.Find(udi.pid);
  if (!pid) return std::nullopt;
  auto it = by_udi_.find(NameSerial{*pid, udi.serial});
  if (it == by_udi_.end()) return std::nullopt;
  return InstanceKeyText(slots_[*it].id, other_ids_);
}

std::optional<std::string> DeviceRegistry::FindByVaSerial(std::string_view va,
                                                          std::string_view serial) const {
  const std::optional<uint32_t> va_id = names_.Find(va);
  if (!va_id) return std::nullopt;
  auto it = by_va_serial_.find(NameSerial{*va_id, serial});
  if (it == by_va_serial_.end()) return std::nullopt;
  return InstanceKeyText(slots_[*it].id, other_ids_);
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
