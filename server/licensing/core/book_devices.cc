#include "server/licensing/core/book_devices.h"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <functional>
#include <limits>

namespace outpost::server::licensing {

BookDevices::BookDevices()
    : by_id_(0, IdHash{this}, IdEq{this}), by_udi_(0, UdiHash{this}, UdiEq{this}) {}

void BookDevices::Reserve(size_t devices) {
  slots_.reserve(devices);
  by_id_.reserve(devices);
  by_udi_.reserve(devices);
  expiry_.reserve(devices);
}

size_t BookDevices::HashUdi(const UdiKey& k) {
  size_t seed = HashPackedUdi(k.udi);
  boost::hash_combine(seed, k.va);
  return seed;
}

std::optional<uint32_t> BookDevices::Find(std::string_view instance_id) const {
  const std::optional<InstanceKey> key = FindInstanceKey(instance_id, other_ids);
  if (!key) return std::nullopt;
  auto it = by_id_.find(*key);
  if (it == by_id_.end()) return std::nullopt;
  return *it;
}

std::optional<uint32_t> BookDevices::FindByUdi(std::string_view va, const Udi& udi) const {
  const std::optional<uint32_t> va_id = names.Find(va);
  const std::optional<PackedUdi> packed = FindPackedUdi(udi.pid, udi.serial, other_ids);
  if (!va_id || !packed) return std::nullopt;
  auto it = by_udi_.find(UdiKey{*va_id, *packed});
  if (it == by_udi_.end()) return std::nullopt;
  return *it;
}

std::optional<uint32_t> BookDevices::Add(std::string_view instance_id, std::string_view va,
                                         const Udi& udi) {
  uint32_t slot;
  if (free_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  BookDevice& d = slots_[slot];
  d.id = MakeInstanceKey(instance_id, other_ids);
  d.va = names.Intern(va);
  d.udi = PackUdi(udi.pid, udi.serial, other_ids);
  d.grants.clear();
  if (!by_id_.insert(slot).second) {
    free_.push_back(slot);
    return std::nullopt;
  }
  if (!by_udi_.insert(slot).second) {
    by_id_.erase(by_id_.find(slot));
    free_.push_back(slot);
    return std::nullopt;
  }
  d.live = true;
  ++live_;
  return slot;
}

void BookDevices::Remove(uint32_t slot) {
  BookDevice& d = slots_[slot];
  // Unindexed before it changes: the indexes hash through the slot.
  by_id_.erase(by_id_.find(slot));
  by_udi_.erase(by_udi_.find(slot));
  d.live = false;
  d.grants.clear();
  d.grants.shrink_to_fit();
  free_.push_back(slot);
  --live_;
}

std::optional<uint32_t> BookDevices::AddUnidentified(std::string_view instance_id) {
  uint32_t slot;
  if (free_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  BookDevice& d = slots_[slot];
  d.id = MakeInstanceKey(instance_id, other_ids);
  d.grants.clear();
  if (!by_id_.insert(slot).second) {
    free_.push_back(slot);
    return std::nullopt;
  }
  d.live = true;
  ++live_;
  return slot;
}

bool BookDevices::Identify(uint32_t slot, std::string_view va, std::string_view pid,
                           std::string_view serial) {
  BookDevice& d = slots_[slot];
  d.va = names.Intern(va);
  d.udi = PackUdi(pid, serial, other_ids);
  return by_udi_.insert(slot).second;
}

void BookDevices::RemoveUnidentified(uint32_t slot) {
  BookDevice& d = slots_[slot];
  by_id_.erase(by_id_.find(slot));
  d.live = false;
  d.grants.clear();
  d.grants.shrink_to_fit();
  free_.push_back(slot);
  --live_;
}

void BookDevices::Rename(uint32_t slot, std::string_view instance_id, const Udi& udi) {
  BookDevice& d = slots_[slot];
  by_id_.erase(by_id_.find(slot));
  by_udi_.erase(by_udi_.find(slot));
  d.id = MakeInstanceKey(instance_id, other_ids);
  d.udi = PackUdi(udi.pid, udi.serial, other_ids);
  by_id_.insert(slot);
  by_udi_.insert(slot);
}

const BookGrant* BookDevices::FindGrant(const BookDevice& d, std::string_view tag) const {
  const std::optional<uint32_t> id = names.Find(tag);
  if (!id) return nullptr;
  for (const BookGrant& g : d.grants) {
    if (g.tag == *id) return &g;
  }
  return nullptr;
}

std::vector<uint32_t> BookDevices::SortedSlots() const {
  std::vector<uint32_t> out;
  out.reserve(live_);
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].live) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [this](uint32_t a, uint32_t b) {
    return InstanceKeyLess(slots_[a].id, slots_[b].id, other_ids);
  });
  return out;
}

// --- Bytes -----------------------------------------------------------------------------------

void BookDevices::SaveTo(StateWriter& w) const {
  PutTable(w, names);
  PutTable(w, other_ids);
  w.Put(static_cast<uint64_t>(live_));
  for (const BookDevice& d : slots_) {
    if (!d.live) continue;
    w.Put(d.id.uuid);
    w.Put(d.id.other);
    w.Put(d.va);
    w.Put(d.udi);
    w.Put(static_cast<uint32_t>(d.grants.size()));
    for (const BookGrant& g : d.grants) {
      w.Put(g.tag);
      w.Put(g.count);
      w.Put(static_cast<int64_t>(g.valid_until.time_since_epoch().count()));
    }
  }
}

bool BookDevices::LoadFrom(StateReader& r) {
  uint64_t count = 0;
  if (live_ != 0 || !slots_.empty() || !GetTable(r, names) || !GetTable(r, other_ids) ||
      !r.Get(count) || count > r.left()) {
    return false;
  }
  Reserve(static_cast<size_t>(count + count / 8));
  for (uint64_t i = 0; i < count; ++i) {
    BookDevice& d = slots_.emplace_back();
    uint32_t grants = 0;
    if (!r.Get(d.id.uuid) || !r.Get(d.id.other) || !r.Get(d.va) || !r.Get(d.udi) ||
        !r.Get(grants) || grants == 0 || grants > r.left()) {
      return false;
    }
    if (d.va >= names.size() || !IsWellFormed(d.id, other_ids) || !IsWellFormed(d.udi, other_ids)) {
      return false;
    }
    d.grants.reserve(grants);
    for (uint32_t k = 0; k < grants; ++k) {
      BookGrant g;
      int64_t until = 0;
      if (!r.Get(g.tag) || !r.Get(g.count) || !r.Get(until) || g.tag >= names.size() ||
          g.count < 1 || g.count > kMaxCount) {
        return false;
      }
      // Sorted by tag text, each tag once, as the book keeps them.
      if (!d.grants.empty() && !(TagOf(d.grants.back()) < TagOf(g))) return false;
      g.valid_until = TimePoint(TimePoint::duration(until));
      d.grants.push_back(g);
    }
    d.live = true;
  }
  // One index at a time (see DeviceRegistry::LoadFrom).
  const auto n = static_cast<uint32_t>(slots_.size());
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!by_id_.insert(slot).second) return false;
  }
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (!by_udi_.insert(slot).second) return false;
  }
  live_ = n;
  return true;
}

// --- Expiry ----------------------------------------------------------------------------------

uint64_t BookDevices::ExpiryEntry(TimePoint t, uint32_t slot) {
  // Whole seconds, rounded down so an entry is never late; clamped to 32 bits (until 2106).
  const int64_t s = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  const auto clamped =
      static_cast<uint64_t>(std::clamp<int64_t>(s, 0, std::numeric_limits<uint32_t>::max()));
  return clamped << 32 | slot;
}

void BookDevices::NoteExpiry(uint32_t slot) {
  const BookDevice& d = slots_[slot];
  if (!d.live || d.grants.empty()) return;
  TimePoint earliest = TimePoint::max();
  for (const BookGrant& g : d.grants) earliest = std::min(earliest, g.valid_until);
  expiry_.push_back(ExpiryEntry(earliest, slot));
  std::push_heap(expiry_.begin(), expiry_.end(), std::greater<>());
  if (expiry_.size() > 2 * live_ + 1024) RebuildExpiry();
}

void BookDevices::RebuildExpiry() {
  expiry_.clear();
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    const BookDevice& d = slots_[s];
    if (!d.live || d.grants.empty()) continue;
    TimePoint earliest = TimePoint::max();
    for (const BookGrant& g : d.grants) earliest = std::min(earliest, g.valid_until);
    expiry_.push_back(ExpiryEntry(earliest, s));
  }
  std::make_heap(expiry_.begin(), expiry_.end(), std::greater<>());
}

std::vector<uint32_t> BookDevices::TakeExpired(TimePoint now) {
  std::vector<uint32_t> expired;
  std::vector<uint32_t> not_yet;  // due this second but later in it
  const uint64_t due = ExpiryEntry(now, std::numeric_limits<uint32_t>::max());
  while (!expiry_.empty() && expiry_.front() <= due) {
    const auto slot = static_cast<uint32_t>(expiry_.front() & 0xffffffffu);
    std::pop_heap(expiry_.begin(), expiry_.end(), std::greater<>());
    expiry_.pop_back();
    const BookDevice& d = slots_[slot];
    if (!d.live) continue;  // released since; a reused slot has its own entry
    TimePoint earliest = TimePoint::max();
    for (const BookGrant& g : d.grants) earliest = std::min(earliest, g.valid_until);
    if (earliest <= now) {
      expired.push_back(slot);
    } else if (ExpiryEntry(earliest, slot) <= due) {
      not_yet.push_back(slot);
    }
    // Otherwise the entry is stale: the device renewed and has a later entry.
  }
  for (uint32_t slot : not_yet) NoteExpiry(slot);
  std::sort(expired.begin(), expired.end());
  expired.erase(std::unique(expired.begin(), expired.end()), expired.end());
  return expired;
}

std::optional<TimePoint> BookDevices::NextExpiry() const {
  if (expiry_.empty()) return std::nullopt;
  return TimePoint(std::chrono::seconds(static_cast<int64_t>(expiry_.front() >> 32)));
}

}  // namespace outpost::server::licensing
