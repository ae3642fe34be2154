#pragma once

// The signed bundle envelope (proto/outpost/v1/bundle.proto): how a payload is signed, and how
// bytes from a file or a request body become a payload the caller may trust.
//
// SIGNATURE
//   signature = Sign(key, domain || 0x00 || payload)  (crypto::PrivateKey::Sign), where payload
//   is the serialized BundlePayload exactly as carried in SignedBundle.payload and domain is
//   chosen by kind: "outpost/enrollment/v1", "outpost/sync-request/v1",
//   "outpost/sync-response/v1". OpenBundle verifies against the domain of the kind the caller
//   EXPECTS, so a request can never be accepted where a response is expected, whatever its
//   payload claims.
//
// LIMITS
//   Sizes are checked before anything is parsed: a serialized SignedBundle above `max_bytes`
//   (default kMaxBundleBytes) is refused with kPayloadTooLarge naming the size and the limit.
//
// Thread-safety: all functions are pure and may be called concurrently.
// Errors (messages say what was wrong and what to do):
//   kPayloadTooLarge     above the size limit
//   kInvalidArgument     not a bundle (truncated or garbled), a signature that does not
//                        verify, the wrong kind of bundle, an unknown algorithm
//   kPermissionDenied    signed by a key other than the trusted one (names both key ids)
//   kFailedPrecondition  a format version newer than this outpost reads
//   kInternal            signing failed (OpenSSL)

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/bundle.pb.h"

namespace outpost::sync {

using v1::BundleKind;
using v1::BundlePayload;
using v1::SignedBundle;

// The payload format version this outpost writes and the highest it reads.
inline constexpr uint32_t kBundleFormatVersion = 1;
// Largest serialized SignedBundle accepted (64 MiB). Armored text may be about 4/3 larger.
inline constexpr size_t kMaxBundleBytes = size_t{64} << 20;

inline constexpr std::string_view kEnrollmentDomain = "outpost/enrollment/v1";
inline constexpr std::string_view kSyncRequestDomain = "outpost/sync-request/v1";
inline constexpr std::string_view kSyncResponseDomain = "outpost/sync-response/v1";

// The signature domain of `kind`; "" for BUNDLE_KIND_UNSPECIFIED and unknown values.
std::string_view DomainFor(BundleKind kind);
// "enrollment bundle", "sync request", "sync response" (messages and `bundle inspect`);
// "unknown bundle kind N" otherwise.
std::string KindDisplayName(BundleKind kind);

// Deterministic serialization (same message, same bytes, on one protobuf version).
std::string SerializeBundle(const SignedBundle& bundle);

// Signs `payload` with `key`. A format_version of 0 is written as kBundleFormatVersion; any
// other value must equal it. The kind must be set and agree with the body that is set
// (kInvalidArgument otherwise). kPayloadTooLarge if the result would exceed kMaxBundleBytes.
Result<SignedBundle> SignBundle(const BundlePayload& payload, const crypto::PrivateKey& key);

// Parses a serialized SignedBundle: the size limit first, then the envelope, which must have
// all four fields and no unknown ones. `source` names the input in messages ("request body",
// a file name). Does NOT check the signature: use OpenBundle.
Result<SignedBundle> ParseBundleBytes(std::string_view bytes, std::string_view source = "input",
                                      size_t max_bytes = kMaxBundleBytes);

// The payload of `bundle` checked in this order: the bundle is of `expected_kind` (a clear
// "this is a sync request, not a sync response" when the unverified payload says otherwise);
// it was signed by `trusted` (algorithm, then key id: "signed by key X but ... trusts Y");
// the signature verifies for the domain of `expected_kind`; the payload parses, its
// format_version is known (a higher one: "made by a newer outpost; upgrade") and its kind and
// body are `expected_kind`. Only the result of this function may be trusted.
Result<BundlePayload> OpenBundle(const SignedBundle& bundle, BundleKind expected_kind,
                                 const crypto::PublicKey& trusted);

// An enrollment bundle checked against the central key it carries (trust on first use): the
// envelope's key id must be that key's, and the signature must verify. The caller pins
// `central_key` only after the operator has compared its Fingerprint() with central's.
struct OpenedEnrollment {
  BundlePayload payload;  // kind BUNDLE_KIND_ENROLLMENT, body enrollment
  crypto::PublicKey central_key;
};
Result<OpenedEnrollment> OpenEnrollmentBundle(const SignedBundle& bundle);

// The payload parsed WITHOUT checking the signature, for `bundle inspect`, for better error
// messages, and for central to find which satellite (and so which key) a request claims to
// come from before it calls OpenBundle. Nothing read here may be trusted or acted upon.
Result<BundlePayload> ParseUnverifiedPayload(const SignedBundle& bundle);

}  // namespace outpost::sync
