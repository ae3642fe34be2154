#pragma once

// What `outpost bundle inspect FILE [--json]` prints: any bundle, readably, and whether its
// signature verifies. Works on bundles that cannot be opened (wrong key, tampered, another
// satellite's), which is when an operator most needs to look inside one.
//
// Nothing here is trusted: the payload is read without checking the signature (codec.h
// ParseUnverifiedPayload), and the description says whether the signature verified. The
// enrollment secret is never printed.
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <string>

#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/bundle.pb.h"

namespace outpost::sync {

// The envelope, the signature check and the payload of `bundle`. The signature is checked for
// the kind the payload claims, with `key_or_null` if given; without a key an enrollment bundle
// is checked against the central key it carries, and other bundles are not checked.
// `payload` is left empty if it cannot be read.
v1::BundleInspection InspectBundle(const v1::SignedBundle& bundle,
                                   const crypto::PublicKey* key_or_null);

// A readable multi-line description (ends with a newline): kind, format version, key id,
// algorithm, "verified" / "NOT VERIFIED: why" / "not checked", then the payload summary: ids,
// sequence or response numbers, times, counts of entitlements, reports, moves, conversions.
std::string DescribeBundle(const v1::SignedBundle& bundle, const crypto::PublicKey* key_or_null);

// InspectBundle as JSON (common/proto_json.h). kInvalidArgument if the payload cannot be read
// (DescribeBundle still describes the envelope of such a bundle).
Result<std::string> BundleToJson(const v1::SignedBundle& bundle,
                                 const crypto::PublicKey* key_or_null, bool pretty = true);

}  // namespace outpost::sync
