#pragma once

// How each side comes to trust the other's key, and how central's key changes.
//
// SATELLITE KEY: the first sync requests carry the satellite's public key and
//   enrollment_proof = HMAC-SHA256(key = enrollment secret, data = DER SubjectPublicKeyInfo)
// which central checks against the secret it wrote into the enrollment bundle, then binds the
// key to the satellite for good (the secret is one-time).
//
// CENTRAL KEY ROTATION (The Update Framework's root rotation, adapted to the air gap): central
// announces a new key in a KeyRotation inside a response signed by the key the satellite
// trusts. The announcement carries the new key's own signature, domain
// "outpost/key-rotation/v1", over
//   previous_key_id || 0x00 || new_key_id || 0x00 || i64be(effective_from)
// (key ids as their ASCII hex, effective_from as a big-endian two's-complement 64-bit
// integer), which proves central holds the new private key. The satellite pins the new key in
// the same transaction that imports the response; requests name the key the satellite trusts
// (SyncRequest.central_key_id), so central knows which key to sign its next answer with and
// whether to announce the rotation again.
//
// Thread-safety: all functions are pure and may be called concurrently.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/sync.pb.h"

namespace outpost::sync {

inline constexpr size_t kEnrollmentSecretSize = 32;
inline constexpr std::string_view kKeyRotationDomain = "outpost/key-rotation/v1";

// HMAC-SHA256 of `satellite_key`'s DER under `enrollment_secret` (32 raw bytes).
std::string EnrollmentProof(std::string_view enrollment_secret,
                            const crypto::PublicKey& satellite_key);

// Ok iff `proof` is EnrollmentProof(enrollment_secret, satellite_key), compared in constant
// time. kInvalidArgument if the secret is not 32 bytes; kPermissionDenied if the proof is
// missing or wrong ("... was not made with this satellite's enrollment secret").
Status CheckEnrollmentProof(std::string_view proof, std::string_view enrollment_secret,
                            const crypto::PublicKey& satellite_key);

// The bytes the new key signs in a KeyRotation (without the domain, which Sign adds).
std::string KeyRotationMessage(std::string_view previous_key_id, std::string_view new_key_id,
                               int64_t effective_from);

// A KeyRotation from the key satellites trust now to `next`, signed by `next`.
// kInternal if signing fails; kInvalidArgument if `next` is the current key.
Result<v1::KeyRotation> MakeKeyRotation(const crypto::PublicKey& current,
                                        const crypto::PrivateKey& next, TimePoint effective_from);

// The new key announced by `rotation`, if it is a valid rotation away from `current`:
//   kPermissionDenied  previous_key_id is not `current` (names both ids)
//   kInvalidArgument   the new key cannot be read, new_key_id is not its id, it is the current
//                      key, or new_key_signature does not verify
Result<crypto::PublicKey> CheckKeyRotation(const v1::KeyRotation& rotation,
                                           const crypto::PublicKey& current);

}  // namespace outpost::sync
