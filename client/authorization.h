#pragma once

// Offline verification of the satellite's signed authorizations (DESIGN.md section 2,
// "Authorization"): a device keeps the last SignedAuthorization and can prove, without the
// satellite, what it was granted and until when.
//
// Thread-safety: the functions are pure and may be called concurrently.
// Errors: every verification failure is kUnauthenticated with a message naming what did not
// match; nothing in the answer is trusted unless verification succeeds.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/authorization_format.h"
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
// order (the device contract), so an answer to another request is not taken for this one.
Status CheckAnswersRequest(const v1::Authorization& authorization,
                           const std::vector<v1::TagUse>& request);

}  // namespace outpost::client
