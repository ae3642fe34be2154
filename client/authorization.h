#pragma once

// Offline verification of the satellite's signed authorizations (DESIGN.md section 2,
// "Authorization"): a device keeps the last SignedAuthorization and can prove, without the
// satellite, what it was granted and until when.
//
// Thread-safety: the functions are pure and may be called concurrently.
// Errors: every verification failure is kUnauthenticated with a message naming what did not
// match; nothing in the answer is trusted unless verification succeeds.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/authorization_format.h"
#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/devices.pb.h"

namespace outpost::client {

// The satellite's authorization key is an Ed25519 key; an answer is signed in one of the two
// forms of common/authorization_format.h.
using outpost::kAuthorizationAlgorithm;
using outpost::kAuthorizationBatchAlgorithm;
using outpost::kAuthorizationBatchDomain;
using outpost::kAuthorizationDomain;
// The largest batch a proof may claim (the satellite's writer commits at most 256 units at once;
// the bound only keeps a forged proof from costing much to refuse).
inline constexpr uint64_t kMaxAuthorizationBatch = uint64_t{1} << 20;
// The largest signed payload a device accepts. A satellite answers at most 1,000 tags of at most
// 128 characters with a reason each, far below this; anything larger is not an answer, and the
// stored form (payload, signature, proof) must fit the state directory's 1 MiB file bound.
inline constexpr size_t kMaxAuthorizationPayloadBytes = 768 * 1024;
// How far the device's clock and the satellite's may disagree before an answer counts as issued
// in the future or as already expired (docs/client.md, "What is verified").
inline constexpr std::chrono::seconds kDefaultClockSkew{300};

// What a device pinned at registration and expects every authorization to be bound to.
struct ExpectedSigner {
  const crypto::PublicKey* signing_key = nullptr;  // the satellite's Ed25519 key; not owned
  std::string key_id;                              // its key id, as registration sent it
  std::string satellite_id;
  std::string instance_id;  // this device
};

// Verifies `signed_authorization` and returns its decoded payload: the algorithm is one of the
// two above, key_id is the pinned key's id, the signature verifies under the pinned key (over
// the payload, or over the batch root its proof leads to), the payload parses as an
// Authorization, and it names `expected`'s satellite and instance. Only the signed payload is
// used: the `authorization` field (a readable copy) is ignored, so an altered copy can never be
// believed.
Result<v1::Authorization> VerifyAuthorization(const v1::SignedAuthorization& signed_authorization,
                                              const ExpectedSigner& expected);

// Ok iff `authorization` answers `request`: one TagAuthorization per requested tag, in request
// order (the device contract), each stating the count asked as `requested` and granting between
// 0 and that count, so an answer to another request (an older answer replayed, or one granting
// more than was asked) is not taken for this one. kUnauthenticated otherwise.
Status CheckAnswersRequest(const v1::Authorization& authorization,
                           const std::vector<v1::TagUse>& request);

// Ok iff `authorization` can be the device's current answer at `now`: issued no later than
// now + `skew`, valid until no earlier than now - `skew`, its validity not ending before it
// starts, and issued no earlier than `previous` (the answer it replaces), so an older signed
// answer cannot be replayed in place of a newer one. A `previous` issued after now + `skew`
// cannot be trusted for the comparison and is ignored. kUnauthenticated otherwise, naming the
// times and, for the clock checks, saying to check the device's clock.
Status CheckCurrent(const v1::Authorization& authorization,
                    const std::optional<v1::Authorization>& previous, TimePoint now,
                    std::chrono::seconds skew);

// What a device stores of a verified answer: only the signed parts (payload, key id, algorithm,
// signature and batch proof), without the unsigned readable copy or any unknown field, so that
// nothing the signature does not cover can grow or damage the state.
v1::SignedAuthorization CanonicalSignedForm(const v1::SignedAuthorization& signed_authorization);

}  // namespace outpost::client
