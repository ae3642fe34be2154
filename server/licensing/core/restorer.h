#pragma once

// PoolBook::Restorer: rebuilds a PoolBook from its persisted rows in pieces, for start-up without
// a BookState of every row in memory. Add the rows, then Finish checks what needs all of them and
// replaces the book. Every row is checked as it comes (names, counts, duplicate tags, a UDI held
// by two instances): a row the book cannot have written is kDataLoss, and the book stays as it was
// until Finish returns Ok.
//
// Consumption comes in one of three ways, only one per restorer:
// - AddConsumption: each row with its device's VA and UDI (Restore, and any row order).
// - AddGrant, then AttachIdentities: the rows alone, the VAs and UDIs for all of them afterwards,
//   so that the consumption table can be read while the device rows are still being read
//   elsewhere (LicensingService's start-up). The same checks, the same book.
// - AddSavedDevices: every device with its grants as PoolBook::SaveDevices wrote them (the state
//   file). Checked for structure (names, counts, order, every instance and UDI once), not name by
//   name: the bytes were written from a book whose rows had been checked. DropDevice and
//   AddConsumption may follow, for the instances whose rows changed since the file was written.
// Either way, rows of one instance should come together and sorted by tag (as the consumption
// table's primary key orders them); any order is accepted.
//
// Thread-safety: none; one thread at a time (it may change threads between calls).

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/licensing/core/pools.h"

namespace outpost::server::licensing {

class PoolBook::Restorer {
 public:
  explicit Restorer(PoolBook& book);
  ~Restorer();
  Restorer(const Restorer&) = delete;
  Restorer& operator=(const Restorer&) = delete;
  // Expected devices (capacity only).
  void Reserve(size_t devices);
  Status AddEntitlement(Entitlement entitlement);
  Status AddReservation(const Reservation& reservation);
  Status AddConsumption(std::string_view instance_id, std::string_view va, std::string_view pid,
                        std::string_view serial, std::string_view tag, int64_t count,
                        TimePoint valid_until);

  Status AddGrant(std::string_view instance_id, std::string_view tag, int64_t count,
                  TimePoint valid_until);
  // A device's VA and UDI, as views that stay valid until AttachIdentities returns.
  struct Identity {
    std::string_view va;
    std::string_view pid;
    std::string_view serial;
  };
  // Called once per instance added with AddGrant; nullopt drops the instance and its rows (a
  // consumption row of a device that is not registered, which the join of LoadBookState skips).
  using IdentityOf = std::function<std::optional<Identity>(std::string_view instance_id)>;
  Status AttachIdentities(const IdentityOf& identity_of);

  // kDataLoss when the bytes are not what SaveDevices wrote.
  Status AddSavedDevices(StateReader& r);
  // Forgets a device added so far, with its grants (after AddSavedDevices: an instance whose rows
  // changed since the file was saved, whose rows are then added with AddConsumption). Nothing
  // when the restorer does not hold it.
  void DropDevice(std::string_view instance_id);

  Status Finish(TimePoint now);

 private:
  // Names are checked once in each role they appear in, not once per row.
  static constexpr uint8_t kVa = 1, kTag = 2;
  // The name's id if it was validated in `role`; MarkValid interns it and returns its id.
  std::optional<uint32_t> Validated(std::string_view name, uint8_t role) const;
  uint32_t MarkValid(std::string_view name, uint8_t role);
  // The device of a row: the previous row's, or the instance's slot (added when new).
  Result<uint32_t> DeviceOfRow(std::string_view instance_id, const Identity* identity);
  // The tag's id.
  Result<uint32_t> AddGrantTo(uint32_t slot, std::string_view instance_id, std::string_view tag,
                              int64_t count, TimePoint valid_until);
  void CountInUse(uint32_t slot);

  PoolBook& book_;
  std::map<PoolKey, Pool> pools_;
  std::vector<Entitlement> entitlements_;
  std::unique_ptr<BookDevices> devices_;
  boost::unordered_flat_map<uint64_t, int64_t> in_use_;  // (va id << 32 | tag id) -> units
  std::vector<uint8_t> validated_;                       // roles by name id
  uint32_t last_slot_;  // the device of the previous consumption row, for runs of one instance
  std::string last_instance_;
  bool unidentified_ = false;  // AddGrant was called and AttachIdentities was not, yet
};

}  // namespace outpost::server::licensing
