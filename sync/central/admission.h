#pragma once

// The first half of processing a sync request (central.h, "SYNC REQUESTS"): everything that
// needs no write, done on a read-only connection OUTSIDE the database writer, so that no
// unauthenticated or malformed request ever holds the writer (issue 17, finding 1). In order:
//   the envelope's key id names a bound satellite -> the signature verifies with that key, and
//   the payload names that satellite; otherwise the satellite the payload names must be enrolled
//   and not bound yet (first contact) -> the signature verifies with the key it introduces AND
//   the enrollment proof verifies against the stored verifier. Only then: not revoked, the
//   account is the satellite's, the central key is ours, and the contents pass
//   CheckRequestContents plus the account's VAs and tags.
// Messages before the signature verified disclose nothing of the satellite (its key id, its
// account) beyond whether the id is enrolled.
//
// Thread-safety: pure apart from reading `db`.

#include <map>
#include <string>

#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/status.h"
#include "sync/bundle/codec.h"

namespace outpost::central {

// A request whose signature, binding and contents have been checked.
struct VerifiedRequest {
  sync::BundlePayload payload;  // kind sync request, verified
  std::string satellite_id;
  std::string account_id;
  std::string key_pem;         // the key it verified with: the bound one, or the introduced one
  bool first_contact = false;  // the satellite had no bound key yet
  std::string request_sha256;  // of the request's bytes as received
};

struct AdmissionContext {
  const crypto::PublicKey* central_key = nullptr;
  const crypto::PublicKey* next_central_key = nullptr;  // after a rotation; may be null
  // Keys `central key retire` retired (key id -> unix seconds); may be null.
  const std::map<std::string, int64_t>* retired_keys = nullptr;
  int64_t now = 0;  // unix seconds
};

Result<VerifiedRequest> AdmitSyncRequest(sqlite::Connection& db, const sync::SignedBundle& bundle,
                                         std::string request_sha256,
                                         const AdmissionContext& context);

// The refusal for a revoked satellite, which its operator can act on. `revoked_at` unix seconds.
Status RevokedSatellite(std::string_view satellite_id, int64_t revoked_at, std::string_view reason);

}  // namespace outpost::central
