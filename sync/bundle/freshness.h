#pragma once

// The Update Framework's protections against replayed, stale and misdirected metadata,
// adapted to an air gap where the two sides meet only through files. Pure checks of an
// already verified payload (codec.h OpenBundle) against what the receiving side persisted:
//
//   rollback       sequence numbers strictly increase on both sides and are persisted: a
//                  response not newer than the last imported one is refused; a request not
//                  newer than the last processed one is a replay
//   freeze         every response carries valid_until; an expired one is refused
//   mix-and-match  every bundle names its satellite and account; another's is refused
//
// Central's signing key rotates through trust.h (KeyRotation).
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/sync.pb.h"

namespace outpost::sync {

// How far in the future (by the satellite's clock) a response's issued_at may be: the two
// clocks are never compared otherwise, and are on opposite sides of an air gap.
inline constexpr Duration kDefaultClockTolerance = std::chrono::minutes(5);

// What a satellite has persisted about its exchanges with central.
struct SatelliteSyncState {
  std::string satellite_id;
  std::string account_id;
  int64_t last_response_number = 0;   // of the last imported response; 0 before the first
  int64_t last_request_sequence = 0;  // highest request sequence exported; 0 before the first
  // The pinned central key; needed only to check a KeyRotation a response announces.
  std::optional<crypto::PublicKey> central_key;
  // The satellite's restore id (`outpost restore`), "" if it was never restored: a response must
  // name the same one.
  std::string restore_id;
};

// Whether the satellite may import `response` now. `now` should be the satellite's
// high-water time (DESIGN.md "Clock"), so setting the clock back cannot revive a response.
// Checked in this order; each failure is a refusal that changes nothing:
//   1. satellite_id and account_id are the state's, else kPermissionDenied naming both pairs
//   2. response_number >= 1, else kInvalidArgument
//   3. response_number == last_response_number: kAlreadyExists "already imported"; the caller
//      treats it as an idempotent no-op and says so
//   4. response_number < last_response_number: kFailedPrecondition (rollback refused)
//   4a. restore_id == state.restore_id, else kFailedPrecondition (made for another line of the
//      satellite's history: before its restore from a backup, or for a restored copy)
//   5. 1 <= answers_request_sequence <= last_request_sequence, else kInvalidArgument (< 1) or
//      kFailedPrecondition (answers a request never exported)
//   6. valid_until > issued_at, else kInvalidArgument
//   7. issued_at <= now + clock_tolerance, else kFailedPrecondition (check the clocks)
//   8. now < valid_until, else kFailedPrecondition "expired ...; export a new request" (freeze)
//   9. a key_rotation checks against state.central_key (trust.h CheckKeyRotation; without a
//      pinned key, kFailedPrecondition)
Status CheckResponse(const v1::SyncResponse& response, const SatelliteSyncState& state,
                     TimePoint now, Duration clock_tolerance = kDefaultClockTolerance);

// Central's mirror: whether `request` from a satellite whose highest processed sequence is
// `last_sequence_seen` (0 if none) is new. The caller has already matched the request's
// satellite and account to the key that verified it.
//   kInvalidArgument     sequence < 1, or no satellite id
//   kAlreadyExists       sequence == last_sequence_seen: a replay, or the satellite resending
//                        a request whose answer was lost; central resends its stored response
//   kFailedPrecondition  sequence < last_sequence_seen (replay of an older request)
Status CheckRequest(const v1::SyncRequest& request, int64_t last_sequence_seen);

}  // namespace outpost::sync
