#pragma once

// Internal to server/licensing: how PoolBook holds the devices that hold licenses. One slot per
// device in a vector (no node per device), VA and tag names interned, instance ids and UDIs packed
// (compact.h), grants inline, and three indexes of 32-bit slot numbers: by instance id, by (va,
// UDI), and by expiry time, all in huge pages (bulk_allocator.h). A million devices with two
// grants each take ~120 MB here (see docs/architecture.md, "In-memory layout").
//
// Thread-safety: none; PoolBook's owner guards it.

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "server/licensing/core/bulk_allocator.h"
#include "server/licensing/core/compact.h"
#include "server/licensing/core/state_codec.h"
#include "server/licensing/core/types.h"

namespace outpost::server::licensing {

struct BookGrant {
  uint32_t tag = 0;   // in BookDevices::names
  int32_t count = 0;  // 1..kMaxCount
  TimePoint valid_until;
};

struct BookDevice {
  InstanceKey id;
  uint32_t va = 0;  // in BookDevices::names
  bool live = false;
  PackedUdi udi;  // in BookDevices::other_ids when long
  // Sorted by tag text (the order of Snapshot's rows and of deltas); two fit without allocating.
  boost::container::small_vector<BookGrant, 2> grants;
};

class BookDevices {
 public:
  BookDevices();
  BookDevices(const BookDevices&) = delete;
  BookDevices& operator=(const BookDevices&) = delete;

  StringTable names;      // VAs and tags
  StringTable other_ids;  // instance ids that are not UUIDs, long UDIs

  void Reserve(size_t devices);
  size_t size() const { return live_; }

  // The slot of the device, if the book knows it.
  std::optional<uint32_t> Find(std::string_view instance_id) const;
  std::optional<uint32_t> FindByUdi(std::string_view va, const Udi& udi) const;
  // A new device without grants (the caller adds them). The instance id and (va, UDI) must not
  // be in use; false (nothing added) when one is.
  std::optional<uint32_t> Add(std::string_view instance_id, std::string_view va, const Udi& udi);
  // Frees the slot.
  void Remove(uint32_t slot);
  // Loading (PoolBook::Restorer::AddGrant): a device known by its instance id alone, indexed only
  // by it until Identify gives it a VA and UDI; nullopt (nothing added) when the id is in use.
  std::optional<uint32_t> AddUnidentified(std::string_view instance_id);
  // False when another device holds (va, UDI): the slot is then not indexed by UDI.
  bool Identify(uint32_t slot, std::string_view va, std::string_view pid, std::string_view serial);
  // Frees a slot that AddUnidentified made and Identify did not identify.
  void RemoveUnidentified(uint32_t slot);
  // Gives the device another instance id and UDI (rehost); the caller checked they are free.
  void Rename(uint32_t slot, std::string_view instance_id, const Udi& udi);

  BookDevice& at(uint32_t slot) { return slots_[slot]; }
  const BookDevice& at(uint32_t slot) const { return slots_[slot]; }
  size_t slot_count() const { return slots_.size(); }

  std::string IdText(const BookDevice& d) const { return InstanceKeyText(d.id, other_ids); }
  const std::string& VaOf(const BookDevice& d) const { return names.Get(d.va); }
  Udi UdiOf(const BookDevice& d) const {
    return Udi{std::string(UdiPid(d.udi, other_ids)), std::string(UdiSerial(d.udi, other_ids))};
  }
  bool HasUdi(const BookDevice& d, std::string_view pid, std::string_view serial) const {
    return UdiPid(d.udi, other_ids) == pid && UdiSerial(d.udi, other_ids) == serial;
  }
  const std::string& TagOf(const BookGrant& g) const { return names.Get(g.tag); }
  const BookGrant* FindGrant(const BookDevice& d, std::string_view tag) const;
  // Live slots sorted by instance id.
  std::vector<uint32_t> SortedSlots() const;

  // The table as bytes (state_codec.h), and back into an empty table with its instance and UDI
  // indexes (RebuildExpiry is the caller's): false (drop the table) when the bytes are not what
  // SaveTo wrote, or name an instance or UDI twice.
  void SaveTo(StateWriter& w) const;
  bool LoadFrom(StateReader& r);

  // Expiry index: NoteExpiry after every change of a device's grants (its earliest
  // valid_until); TakeExpired returns each slot with a grant valid_until <= now once.
  void NoteExpiry(uint32_t slot);
  // Builds the index anew from every device's grants (after loading: one pass, no heap pushes).
  void RebuildExpiry();
  std::vector<uint32_t> TakeExpired(TimePoint now);
  // The earliest time TakeExpired may find something (nullopt: no grants).
  std::optional<TimePoint> NextExpiry() const;

 private:
  struct IdHash {
    using is_transparent = void;
    const BookDevices* t;
    size_t operator()(uint32_t s) const { return HashInstanceKey(t->slots_[s].id); }
    size_t operator()(const InstanceKey& k) const { return HashInstanceKey(k); }
  };
  struct IdEq {
    using is_transparent = void;
    const BookDevices* t;
    bool operator()(uint32_t a, uint32_t b) const { return t->slots_[a].id == t->slots_[b].id; }
    bool operator()(const InstanceKey& k, uint32_t s) const { return t->slots_[s].id == k; }
    bool operator()(uint32_t s, const InstanceKey& k) const { return t->slots_[s].id == k; }
  };
  struct UdiKey {
    uint32_t va;
    const PackedUdi& udi;
  };
  static size_t HashUdi(const UdiKey& k);
  UdiKey KeyOf(uint32_t s) const { return {slots_[s].va, slots_[s].udi}; }
  struct UdiHash {
    using is_transparent = void;
    const BookDevices* t;
    size_t operator()(uint32_t s) const { return HashUdi(t->KeyOf(s)); }
    size_t operator()(const UdiKey& k) const { return HashUdi(k); }
  };
  struct UdiEq {
    using is_transparent = void;
    const BookDevices* t;
    static bool Same(const UdiKey& a, const UdiKey& b) { return a.va == b.va && a.udi == b.udi; }
    bool operator()(uint32_t a, uint32_t b) const { return Same(t->KeyOf(a), t->KeyOf(b)); }
    bool operator()(const UdiKey& k, uint32_t s) const { return Same(k, t->KeyOf(s)); }
    bool operator()(uint32_t s, const UdiKey& k) const { return Same(k, t->KeyOf(s)); }
  };
  static uint64_t ExpiryEntry(TimePoint t, uint32_t slot);

  std::vector<BookDevice, BulkAllocator<BookDevice>> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  boost::unordered_flat_set<uint32_t, IdHash, IdEq, BulkAllocator<uint32_t>> by_id_;
  boost::unordered_flat_set<uint32_t, UdiHash, UdiEq, BulkAllocator<uint32_t>> by_udi_;
  // A min-heap of (whole seconds of an earliest valid_until) << 32 | slot. Entries of devices
  // that renewed since are stale and skipped; the heap is rebuilt when they outnumber the rest.
  std::vector<uint64_t, BulkAllocator<uint64_t>> expiry_;
};

}  // namespace outpost::server::licensing
