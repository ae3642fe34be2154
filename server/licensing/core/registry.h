#pragma once

// DeviceRegistry: the registered devices as LicensingService keeps them in memory — what device
// calls check on every request (instance id, current certificate, VA, UDI, export permission)
// and nothing else. Hostname, token, registration and last-seen times stay in the devices table
// and are read when a listing needs them. One slot per device (88 bytes), VA names interned,
// instance ids, UDIs and certificate serials packed (compact.h), and three indexes of slot
// numbers: by instance id, by UDI and by (VA, serial). The slots and indexes live in huge pages
// (bulk_allocator.h).
//
// Thread-safety: none; the service's mu_ guards it.

#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <map>
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

// A registered device as the registry gives it out.
struct RegisteredDevice {
  std::string instance_id;
  std::string va;
  Udi udi;
  bool export_allowed = false;
  // Serial (lowercase hex) of the ID certificate the device must present; "" when none is valid.
  std::string cert_serial;
  TimePoint cert_not_after;

  friend bool operator==(const RegisteredDevice&, const RegisteredDevice&) = default;
};

class DeviceRegistry {
 public:
  DeviceRegistry();
  DeviceRegistry(const DeviceRegistry&) = delete;
  DeviceRegistry& operator=(const DeviceRegistry&) = delete;

  void Reserve(size_t devices);
  size_t size() const { return live_; }

  // Adds the device, or replaces the one with its instance id. Its UDI and (VA, serial) name it
  // from now on, also when another device had them (the caller removes that one first).
  void Put(const RegisteredDevice& device);
  // False when the instance is not registered.
  bool Remove(std::string_view instance_id);

  std::optional<RegisteredDevice> Find(std::string_view instance_id) const;
  bool Contains(std::string_view instance_id) const;
  // The VA and UDI of a registered device as views into the registry, valid until it changes
  // (Find without building strings, for loading a million rows).
  struct Identity {
    std::string_view va;
    std::string_view pid;
    std::string_view serial;
  };
  std::optional<Identity> FindIdentity(std::string_view instance_id) const;
  // The instance id registered with `udi` / with `serial` in `va`.
  std::optional<std::string> FindByUdi(const Udi& udi) const;
  std::optional<std::string> FindByVaSerial(std::string_view va, std::string_view serial) const;

  // The registry as bytes (state_codec.h), and back into an empty registry: false (the registry
  // then holds part of it; drop it) when the bytes are not what SaveTo wrote, or name a UDI or
  // (VA, serial) twice.
  void SaveTo(StateWriter& w) const;
  bool LoadFrom(StateReader& r);

  // Registered devices per VA.
  std::map<std::string, int64_t> CountByVa() const;
  // The instance ids of `va` (every VA when nullopt), sorted, at most `limit`; `*more` says
  // whether there were more.
  std::vector<std::string> SortedIds(std::optional<std::string_view> va, size_t limit,
                                     bool* more) const;

 private:
  struct Slot {
    InstanceKey id;
    uint32_t va = 0;  // in names_
    PackedUdi udi;
    PackedHex cert_serial;
    bool live = false;
    bool export_allowed = false;
    TimePoint cert_not_after;
  };
  struct IdHash {
    using is_transparent = void;
    const DeviceRegistry* r;
    size_t operator()(uint32_t s) const { return HashInstanceKey(r->slots_[s].id); }
    size_t operator()(const InstanceKey& k) const { return HashInstanceKey(k); }
  };
  struct IdEq {
    using is_transparent = void;
    const DeviceRegistry* r;
    bool operator()(uint32_t a, uint32_t b) const { return r->slots_[a].id == r->slots_[b].id; }
    bool operator()(const InstanceKey& k, uint32_t s) const { return r->slots_[s].id == k; }
    bool operator()(uint32_t s, const InstanceKey& k) const { return r->slots_[s].id == k; }
  };
  struct UdiHash {
    using is_transparent = void;
    const DeviceRegistry* r;
    size_t operator()(uint32_t s) const { return HashPackedUdi(r->slots_[s].udi); }
    size_t operator()(const PackedUdi& k) const { return HashPackedUdi(k); }
  };
  struct UdiEq {
    using is_transparent = void;
    const DeviceRegistry* r;
    bool operator()(uint32_t a, uint32_t b) const { return r->slots_[a].udi == r->slots_[b].udi; }
    bool operator()(const PackedUdi& k, uint32_t s) const { return r->slots_[s].udi == k; }
    bool operator()(uint32_t s, const PackedUdi& k) const { return r->slots_[s].udi == k; }
  };
  struct VaSerial {
    uint32_t va;
    std::string_view serial;
    friend bool operator==(const VaSerial&, const VaSerial&) = default;
  };
  static size_t HashVaSerial(const VaSerial& k);
  VaSerial VaSerialOf(uint32_t s) const {
    return {slots_[s].va, UdiSerial(slots_[s].udi, other_ids_)};
  }
  struct VaSerialHash {
    using is_transparent = void;
    const DeviceRegistry* r;
    size_t operator()(uint32_t s) const { return HashVaSerial(r->VaSerialOf(s)); }
    size_t operator()(const VaSerial& k) const { return HashVaSerial(k); }
  };
  struct VaSerialEq {
    using is_transparent = void;
    const DeviceRegistry* r;
    bool operator()(uint32_t a, uint32_t b) const { return r->VaSerialOf(a) == r->VaSerialOf(b); }
    bool operator()(const VaSerial& k, uint32_t s) const { return k == r->VaSerialOf(s); }
    bool operator()(uint32_t s, const VaSerial& k) const { return k == r->VaSerialOf(s); }
  };
  template <typename Hash, typename Eq>
  using Index = boost::unordered_flat_set<uint32_t, Hash, Eq, BulkAllocator<uint32_t>>;

  std::optional<uint32_t> FindSlot(std::string_view instance_id) const;
  void Unindex(uint32_t slot);
  RegisteredDevice ToDevice(const Slot& slot) const;

  StringTable names_;      // VAs
  StringTable other_ids_;  // instance ids that are not UUIDs, long UDIs, serials that are not hex
  std::vector<Slot, BulkAllocator<Slot>> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  Index<IdHash, IdEq> by_id_;
  Index<UdiHash, UdiEq> by_udi_;
  Index<VaSerialHash, VaSerialEq> by_va_serial_;
};

}  // namespace outpost::server::licensing
