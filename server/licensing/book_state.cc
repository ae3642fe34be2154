// PoolBook's persisted form: Snapshot writes it, Restore reads it back at start-up.

#include <algorithm>
#include <map>
#include <set>

#include "server/licensing/pools.h"

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
  for (const auto& [instance_id, device] : devices_) {
    for (const auto& [tag, grant] : device.grants) {
      state.consumption.push_back(
          {instance_id, device.va, device.udi, tag, grant.count, grant.valid_until});
    }
  }
  return state;
}

Status PoolBook::Restore(BookState state, TimePoint now) {
  // Everything is checked before anything is replaced: a corrupt row leaves the book as it was.
  const auto corrupt = [](const Status& s, const std::string& what) {
    return DataLoss("restoring licensing state: " + what + ": " + s.message());
  };
  std::map<PoolKey, Pool> pools;
  std::set<std::string_view> ids;
  for (Entitlement& e : state.entitlements) {
    if (Status s = ValidateEntitlement(e, /*allow_move_ids=*/true); !s.ok()) {
      return corrupt(s, "entitlement row");
    }
    if (!ids.insert(e.id).second) {
      return DataLoss("restoring licensing state: entitlement " + Quote(e.id) + " appears twice");
    }
  }
  for (const Reservation& r : state.reservations) {
    if (Status s = ValidateReservation(r); !s.ok()) return corrupt(s, "reservation row");
    if (!pools[{r.va, r.tag}].reservations.emplace(r.udi, r.count).second) {
      return DataLoss("restoring licensing state: the reservation of tag " + Quote(r.tag) +
                      " in virtual account " + Quote(r.va) + " for UDI " + Quote(r.udi.ToString()) +
                      " appears twice");
    }
  }
  std::map<std::string, Device, std::less<>> devices;
  std::map<std::pair<std::string, Udi>, std::string> instances;
  std::optional<TimePoint> next_expiry;
  for (const ConsumptionRow& row : state.consumption) {
    // Messages are built only on failure: this loop runs once per row at start-up.
    auto what = [&row] { return "consumption row of instance " + Quote(row.instance_id); };
    Status s = ValidateInstanceId(row.instance_id);
    if (s.ok()) s = ValidateVaName(row.va);
    if (s.ok()) s = ValidateUdi(row.udi);
    if (s.ok()) s = ValidateTag(row.tag);
    if (s.ok() && (row.count < 1 || row.count > kMaxCount)) {
      s = ValidateCount(row.count, "count of tag " + Quote(row.tag));
    }
    if (!s.ok()) return corrupt(s, what());
    auto [it, added] = devices.try_emplace(row.instance_id, Device{row.va, row.udi, {}});
    if (it->second.va != row.va || it->second.udi != row.udi) {
      return DataLoss("restoring licensing state: " + what() +
                      " names another virtual account or UDI than its other rows");
    }
    if (added && !instances.emplace(std::pair{row.va, row.udi}, row.instance_id).second) {
      return DataLoss("restoring licensing state: UDI " + Quote(row.udi.ToString()) +
                      " in virtual account " + Quote(row.va) + " is held by two instances");
    }
    if (!it->second.grants.emplace(row.tag, Grant{row.count, row.valid_until}).second) {
      return DataLoss("restoring licensing state: " + what() + " has tag " + Quote(row.tag) +
                      " twice");
    }
    pools[{row.va, row.tag}].in_use += row.count;
    next_expiry = std::min(next_expiry.value_or(TimePoint::max()), row.valid_until);
  }
  for (Entitlement& e : state.entitlements) {
    PoolKey key{e.va, e.tag};
    pools[key].entitlements.push_back(std::move(e));
  }

  pools_ = std::move(pools);
  devices_ = std::move(devices);
  instances_ = std::move(instances);
  next_expiry_ = next_expiry;
  if (usage_ != nullptr) {
    for (const auto& [key, pool] : pools_) {
      if (pool.in_use > 0) usage_->Observe(key.first, key.second, pool.in_use, now);
    }
  }
  return Status::Ok();
}

}  // namespace outpost::server::licensing
