#pragma once

// How each side comes to trust the other's key, and how central's key changes.
//
// SATELLITE KEY: the first sync requests carry the satellite's public key and
//   enrollment_proof = Ed25519 signature, by the key whose 32-byte RFC 8032 seed is the
//                      enrollment secret, domain "outpost/enrollment-proof/v1", over the
//                      satellite key's DER SubjectPublicKeyInfo
// which central checks against the verifier it stored when it wrote the enrollment bundle (the
// public half of that key: central never stores the secret, so a copy of its database cannot
// bind a key), then binds the key to the satellite for good (the secret is one-time).
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
inline constexpr std::string_view kEnrollmentProofDomain = "outpost/enrollment-proof/v1";

// The proof that `satellite_key` belongs to the holder of `enrollment_secret` (32 raw bytes):
// see the top of this file. Deterministic (Ed25519). "" if the secret is not 32 bytes, which
// CheckEnrollmentProof refuses.
std::string EnrollmentProof(std::string_view enrollment_secret,
                            const crypto::PublicKey& satellite_key);

// What central stores instead of the enrollment secret: the DER SubjectPublicKeyInfo of the
// Ed25519 key whose seed is the secret. One-way: the secret cannot be computed from it.
// kInvalidArgument if the secret is not 32 bytes.
Result<std::string> EnrollmentVerifier(std::string_view enrollment_secret);

// Ok iff `proof` is EnrollmentProof(secret, satellite_key) for the secret of `verifier_der`
// (EnrollmentVerifier). kInvalidArgument if the verifier cannot be read; kPermissionDenied if
// the proof is missing or wrong ("... was not made with this satellite's enrollment secret").
Status CheckEnrollmentProofWithVerifier(std::string_view proof, std::string_view verifier_der,
                                        const crypto::PublicKey& satellite_key);

// The same check from the secret itself (the satellite's side, and tests). kInvalidArgument if
// the secret is not 32 bytes.
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
