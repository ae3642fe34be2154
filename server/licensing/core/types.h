#pragma once

// The vocabulary of licensing (DESIGN.md section 1) as plain values, and the checks on their
// text forms. Every check returns kInvalidArgument with a message that names the field, quotes
// the (truncated, escaped) input and says what is allowed.
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace outpost::server::licensing {

// Largest count a device may request for one tag, and the largest quantity of one move or
// reservation. Anything above is a typo or an attack, never a real deployment.
inline constexpr int64_t kMaxCount = 1'000'000;
// Largest quantity of one entitlement as granted by central.
inline constexpr int64_t kMaxEntitlementQuantity = 1'000'000'000;
// Most tags one authorization request may name.
inline constexpr size_t kMaxTagsPerRequest = 1'000;

enum class Enforcement {
  kReported,  // the device may exceed the pool; it is reported out of compliance
  kEnforced,  // the satellite refuses allocation beyond the pool
};
// "REPORTED" / "ENFORCED".
std::string_view EnforcementName(Enforcement enforcement);

// (VA, tag, quantity, term, enforcement) as granted by central. The term is [start, end): an
// entitlement is valid at `t` when start <= t and (no end or t < end).
struct Entitlement {
  std::string id;  // unique in the account; ids containing '@' are pieces split off by a move
  std::string va;
  std::string tag;
  int64_t quantity = 0;  // 0..kMaxEntitlementQuantity; 0 after everything was moved away
  TimePoint start;
  std::optional<TimePoint> end;  // nullopt: perpetual
  Enforcement enforcement = Enforcement::kReported;
  bool floating = false;           // a pool of concurrent leases rather than per-device counts
  bool export_controlled = false;  // only devices whose token allows it may use it

  bool ValidAt(TimePoint t) const { return start <= t && (!end || t < *end); }
  friend bool operator==(const Entitlement&, const Entitlement&) = default;
};

// Unique device identifier: product id and serial number, written "PID:SN".
struct Udi {
  std::string pid;
  std::string serial;

  std::string ToString() const { return pid + ":" + serial; }
  friend auto operator<=>(const Udi&, const Udi&) = default;
  friend bool operator==(const Udi&, const Udi&) = default;
};
// Each part is 1..64 characters of [A-Za-z0-9._-].
Status ValidateUdi(const Udi& udi);
// Parses "PID:SN" (exactly one ':') and validates both parts.
Result<Udi> ParseUdi(std::string_view text);

// `count` units of (va, tag) held back for the device with `udi`.
struct Reservation {
  std::string va;
  std::string tag;
  Udi udi;
  int64_t count = 0;  // 1..kMaxCount

  friend bool operator==(const Reservation&, const Reservation&) = default;
};

// The registered product instance making a call, as the registration layer knows it.
struct DeviceRef {
  std::string instance_id;
  std::string va;
  Udi udi;
  bool export_allowed = false;  // its registration token allowed export-controlled features
};

// One line of an authorization request: the device uses `count` units of `tag`.
struct TagRequest {
  std::string tag;
  int64_t count = 0;
};

// A license tag: 1..128 characters of [A-Za-z0-9._:-], starting with a letter or digit
// (e.g. "regid.2026-01.com.example.fw.base").
Status ValidateTag(std::string_view tag);
// A virtual account name: 1..64 characters of [A-Za-z0-9._-] (e.g. "branch-east").
Status ValidateVaName(std::string_view va);
// A product instance id: 1..64 characters of [A-Za-z0-9._:-] (a UUID in production).
Status ValidateInstanceId(std::string_view instance_id);
// A count in 1..kMaxCount; `what` names it in the message (e.g. "count of tag 'x'").
Status ValidateCount(int64_t count, std::string_view what);
// Every field of an entitlement. Its id is 1..128 characters of [A-Za-z0-9._:-], or, for a piece
// split off by a move, "<such an id>@<the entitlement's VA>".
Status ValidateEntitlement(const Entitlement& entitlement);
// Every field of a reservation.
Status ValidateReservation(const Reservation& reservation);

// `text` in single quotes for a message: at most 64 characters, control characters escaped.
std::string Quote(std::string_view text);

}  // namespace outpost::server::licensing
