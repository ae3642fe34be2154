#pragma once

// DeviceRegistry: the registered devices as LicensingService keeps them in memory — what device
// calls check on every request (instance id, current certificate, VA, UDI, export permission)
// and nothing else. Hostname, token, registration and last-seen times stay in the devices table
// and are read when a listing needs them. One slot per device (~100 bytes), names interned,
// instance ids and certificate serials packed (compact.h), and three indexes of slot numbers:
// by instance id, by UDI and by (VA, serial).
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
#include "server/licensing/core/compact.h"
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

  // Registered devices per VA.
  std::map<std::string, int64_t> CountByVa() const;
  // The instance ids of `va` (every VA when nullopt), sorted, at most `limit`; `*more` says
  // whether there were more.
  std::vector<std::string> SortedIds(std::optional<std::string_view> va, size_t limit,
                                     bool* more) const;

 private:
  struct Slot {
    InstanceKey id;
    uint32_t va = 0;   // in names_
    uint32_t pid = 0;  // in names_
    bool live = false;
    bool export_allowed = false;
    PackedHex cert_serial;
    std::string serial;
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
  // A name id and a serial: (pid, serial) for the UDI index, (va, serial) for the other.
  struct NameSerial {
    uint32_t name;
    std::string_view serial;
    friend bool operator==(const NameSerial&, const NameSerial&) = default;
  };
  static size_t HashNameSerial(const NameSerial& k);
  template <bool kByVa>
  struct SerialHash {
    using is_transparent = void;
    const DeviceRegistry* r;
    size_t operator()(uint32_t s) const { return HashNameSerial(r->KeyOf<kByVa>(s)); }
    size_t operator()(const NameSerial& k) const { return HashNameSerial(k); }
  };
  template <bool kByVa>
  struct SerialEq {
    using is_transparent = void;
    const DeviceRegistry* r;
    bool operator()(uint32_t a, uint32_t b) const {
      return r->KeyOf<kByVa>(a) == r->KeyOf<kByVa>(b);
    }
    bool operator()(const NameSerial& k, uint32_t s) const { return k == r->KeyOf<kByVa>(s); }
    bool operator()(uint32_t s, const NameSerial& k) const { return k == r->KeyOf<kByVa>(s); }
  };
  template <bool kByVa>
  NameSerial KeyOf(uint32_t s) const {
    return {kByVa ? slots_[s].va : slots_[s].pid, slots_[s].serial};
  }
  template <bool kByVa>
  using SerialIndex = boost::unordered_flat_set<uint32_t, SerialHash<kByVa>, SerialEq<kByVa>>;

  std::optional<uint32_t> FindSlot(std::string_view instance_id) const;
  void Unindex(uint32_t slot);
  RegisteredDevice ToDevice(const Slot& slot) const;

  StringTable names_;      // VAs and product ids
  StringTable other_ids_;  // instance ids that are not UUIDs, serials that are not hex
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  boost::unordered_flat_set<uint32_t, IdHash, IdEq> by_id_;
  SerialIndex<false> by_udi_;
  SerialIndex<true> by_va_serial_;
};

}  // namespace outpost::server::licensing
