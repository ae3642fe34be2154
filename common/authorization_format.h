#pragma once

// The signed forms of a satellite's authorization answer (devices.proto, SignedAuthorization):
// one definition for the satellite, which signs, and the client library, which verifies.
// - kAuthorizationAlgorithm: the signature covers  kAuthorizationDomain || 0x00 || payload
//   (crypto::PublicKey::Verify);
// - kAuthorizationBatchAlgorithm, what the satellite sends: the signature covers
//   kAuthorizationBatchDomain || 0x00 || crypto::MerkleTreeHead(batch_size, root), where root
//   is the RFC 9162 Merkle root that batch_path leads to from the payload's leaf hash at
//   batch_index (common/crypto/merkle.h).

#include <string_view>

namespace outpost {

inline constexpr std::string_view kAuthorizationDomain = "outpost.v1.authorization";
inline constexpr std::string_view kAuthorizationAlgorithm = "ed25519";
inline constexpr std::string_view kAuthorizationBatchDomain = "outpost.v1.authorization-batch";
inline constexpr std::string_view kAuthorizationBatchAlgorithm = "ed25519-merkle";

}  // namespace outpost
