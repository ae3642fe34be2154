#pragma once

// Merkle trees over SHA-256 as RFC 9162 (Certificate Transparency 2.0) section 2.1 defines
// them, for batch signatures: one signature over the root of a tree whose leaves are many
// messages, and per message an inclusion path that proves it is one of those leaves (the
// technique of Roughtime and of Certificate Transparency's signed tree heads).
//
//   leaf hash  = SHA-256(0x00 || message)
//   node hash  = SHA-256(0x01 || left || right)
//   tree of n  = the leaf hash when n = 1; otherwise, with k the largest power of two below n,
//                the node hash of the tree of the first k leaves and the tree of the rest.
//
// The 0x00/0x01 prefixes keep a leaf from ever being taken for an inner node (second-preimage
// resistance); MerkleRootFromPath follows RFC 9162 section 2.1.3.2, which binds the path to the
// leaf's index and the tree's size, so neither can be changed without the path failing.
//
// Thread-safety: the functions are pure and may be called concurrently.
// Errors: MerkleRootFromPath and VerifyMerkleInclusion report a malformed or non-matching path as
// kUnauthenticated with a message saying what did not hold; the others cannot fail.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace outpost::crypto {

// Leaf and inner-node hashes (32 raw bytes).
std::string MerkleLeafHash(std::string_view message);
std::string MerkleNodeHash(std::string_view left, std::string_view right);

// A tree over leaf hashes, with the root and every leaf's inclusion path.
struct MerkleTree {
  std::string root;  // 32 bytes; empty for a tree without leaves
  // paths[i]: the sibling hashes from leaf i up to the root (empty when there is one leaf).
  std::vector<std::vector<std::string>> paths;
};

// Builds the tree over `leaf_hashes` (each 32 bytes, in order). O(n log n) hashing.
MerkleTree BuildMerkleTree(const std::vector<std::string>& leaf_hashes);

// Ok iff `path` proves that `leaf_hash` is leaf `index` of a tree of `tree_size` leaves whose
// root is `root`.
Status VerifyMerkleInclusion(std::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                             const std::vector<std::string>& path, std::string_view root);

// The bytes a batch signature covers: `tree_size` as 8 bytes, big-endian, then `root`. Signing
// the size with the root binds a proof to the size it was made for (the same path can lead to
// the same root in trees of two sizes).
std::string MerkleTreeHead(uint64_t tree_size, std::string_view root);

// Recomputes the root that `path` leads to from `leaf_hash` at `index` in a tree of
// `tree_size` leaves (the first half of VerifyMerkleInclusion, for a root that is then checked
// by a signature rather than compared).
Result<std::string> MerkleRootFromPath(std::string_view leaf_hash, uint64_t index,
                                       uint64_t tree_size, const std::vector<std::string>& path);

}  // namespace outpost::crypto
