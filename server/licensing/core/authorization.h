#pragma once

// What an authorization answers and what it changes (DESIGN.md section 2, "Authorization" and
// "Floating licenses"). PoolBook::Authorize produces these; the API layer signs the decision for
// the device and hands the delta to the writer.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/licensing/core/types.h"

namespace outpost::server::licensing {

// Validity of what Authorize grants ([policy] in outpost.toml, overridden by central's policy),
// as offsets from the time of the request. A floating tag's renew_after is half its lease, so
// one lost heartbeat does not lose the lease.
struct AuthorizationPolicy {
  Duration validity = std::chrono::hours(24 * 90);     // device-counted tags: valid_until
  Duration renewal = std::chrono::hours(24 * 30);      // device-counted tags: renew_after
  Duration floating_lease = std::chrono::minutes(15);  // floating tags: valid_until
  static constexpr Duration kMinFloatingLease = std::chrono::seconds(60);

  // 0 < renewal < validity and kMinFloatingLease <= floating_lease <= validity.
  Status Validate() const;
};

enum class TagStatus {
  kAuthorized,       // granted within the pool (or within the device's reservation)
  kOutOfCompliance,  // REPORTED tag beyond the pool: granted and recorded, reported
  kDenied,           // ENFORCED tag beyond the pool, or export-controlled without permission
  kNotEntitled,      // no entitlement for the tag in the device's VA is valid now
};
// "AUTHORIZED", "OUT_OF_COMPLIANCE", "DENIED", "NOT_ENTITLED".
std::string_view TagStatusName(TagStatus status);

// The answer for one requested tag.
struct TagDecision {
  std::string tag;
  int64_t requested = 0;
  int64_t granted = 0;  // what the book now records: requested, or 0 if DENIED / NOT_ENTITLED
  TagStatus status = TagStatus::kNotEntitled;
  std::string reason;  // one human sentence; says what the device or operator can do
  bool floating = false;
  std::optional<TimePoint> valid_until;  // set when granted > 0
  std::optional<TimePoint> renew_after;  // set when granted > 0

  friend bool operator==(const TagDecision&, const TagDecision&) = default;
};

// One tag of a device whose recorded count or expiry changed. The row to persist is keyed by
// (instance id, tag): new_count == 0 deletes it, otherwise it is upserted with valid_until.
struct TagChange {
  std::string tag;
  int64_t old_count = 0;
  int64_t new_count = 0;
  std::optional<TimePoint> valid_until;  // set iff new_count > 0

  friend bool operator==(const TagChange&, const TagChange&) = default;
};

// Everything one operation changed in one device's consumption; persisting it (in one
// transaction) makes the stored rows equal the book. Empty when nothing changed.
struct ConsumptionDelta {
  std::string instance_id;
  std::string va;
  Udi udi;
  std::vector<TagChange> changes;  // sorted by tag

  bool empty() const { return changes.empty(); }
  friend bool operator==(const ConsumptionDelta&, const ConsumptionDelta&) = default;
};

struct AuthorizationDecision {
  std::string instance_id;
  TimePoint issued_at;
  std::vector<TagDecision> tags;  // in request order
  // The earliest valid_until / renew_after of the granted tags; with nothing granted,
  // issued_at + validity / renewal (the device asks again, but nothing is at stake).
  TimePoint valid_until;
  TimePoint renew_after;
  // For the writer, not for the device: what to persist before answering.
  ConsumptionDelta delta;

  friend bool operator==(const AuthorizationDecision&, const AuthorizationDecision&) = default;
};

}  // namespace outpost::server::licensing
