#pragma once

// Internal to server/licensing: the arithmetic of one pool as seen by one device.

#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "server/licensing/core/types.h"

namespace outpost::server::licensing {

struct PoolAvailability {
  bool entitled = false;        // an entitlement (of any quantity) is valid now
  int64_t purchased = 0;        // quantities valid now
  int64_t in_use = 0;           // by every device
  int64_t others_in_use = 0;    // by devices other than the one asking
  int64_t reserved = 0;         // every reservation, used or not
  int64_t held_for_others = 0;  // reserved for other UDIs and not used by them
  int64_t own_reserved = 0;     // reserved for the asking device's UDI
  int64_t available = 0;        // purchased - others_in_use - held_for_others; may be < 0
  Enforcement enforcement = Enforcement::kReported;  // from the entitlements valid now
  bool floating = false;
  bool export_controlled = false;
  std::optional<TimePoint> next_end;    // earliest end of a valid entitlement with quantity
  std::optional<TimePoint> next_start;  // earliest start of an entitlement not yet valid
  std::optional<TimePoint> last_end;    // latest end of an ended entitlement with quantity
};

}  // namespace outpost::server::licensing
