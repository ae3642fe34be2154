#include "common/crypto/merkle.h"

#include "common/crypto/hash.h"

namespace outpost::crypto {
namespace {

// The largest power of two strictly below n (n >= 2).
size_t SplitPoint(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Returns the hash of the subtree over leaves [lo, hi) and appends, to the path of each leaf in
// it, the sibling at every level below that subtree's root. Children finish before their
// parent, so each path comes out ordered from the leaf upwards.
std::string Build(const std::vector<std::string>& leaves, size_t lo, size_t hi,
                  std::vector<std::vector<std::string>>& paths) {
  if (hi - lo == 1) return leaves[lo];
  const size_t mid = lo + SplitPoint(hi - lo);
  std::string left = Build(leaves, lo, mid, paths);
  std::string right = Build(leaves, mid, hi, paths);
  for (size_t i = lo; i < mid; ++i) paths[i].push_back(right);
  for (size_t i = mid; i < hi; ++i) paths[i].push_back(left);
  return MerkleNodeHash(left, right);
}

}  // namespace

std::string MerkleLeafHash(std::string_view message) {
  Sha256Hasher hasher;
  const char prefix = 0x00;
  hasher.Update(std::string_view(&prefix, 1));
  hasher.Update(message);
  return hasher.Finish();
}

std::string MerkleNodeHash(std::string_view left, std::string_view right) {
  Sha256Hasher hasher;
  const char prefix = 0x01;
  hasher.Update(std::string_view(&prefix, 1));
  hasher.Update(left);
  hasher.Update(right);
  return hasher.Finish();
}

std::string MerkleTreeHead(uint64_t tree_size, std::string_view root) {
  std::string head(8, '\0');
  for (int b = 0; b < 8; ++b) head[7 - b] = static_cast<char>((tree_size >> (8 * b)) & 0xff);
  head += root;
  return head;
}

MerkleTree BuildMerkleTree(const std::vector<std::string>& leaf_hashes) {
  MerkleTree tree;
  if (leaf_hashes.empty()) return tree;
  tree.paths.resize(leaf_hashes.size());
  tree.root = Build(leaf_hashes, 0, leaf_hashes.size(), tree.paths);
  return tree;
}

Result<std::string> MerkleRootFromPath(std::string_view leaf_hash, uint64_t index,
                                       uint64_t tree_size, const std::vector<std::string>& path) {
  if (tree_size == 0) return Unauthenticated("batch proof names an empty batch");
  if (index >= tree_size) {
    return Unauthenticated("batch proof names leaf " + std::to_string(index) + " of a batch of " +
                           std::to_string(tree_size));
  }
  if (leaf_hash.size() != kSha256Size) return Unauthenticated("leaf hash is not 32 bytes");
  // RFC 9162 section 2.1.3.2.
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : path) {
    if (p.size() != kSha256Size)
      return Unauthenticated("batch proof has a hash that is not 32 bytes");
    if (sn == 0) return Unauthenticated("batch proof is longer than its batch allows");
    if ((fn & 1) != 0 || fn == sn) {
      r = MerkleNodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Unauthenticated("batch proof is shorter than its batch needs");
  return r;
}

Status VerifyMerkleInclusion(std::string_view leaf_hash, uint64_t index, uint64_t tree_size,
                             const std::vector<std::string>& path, std::string_view root) {
  OUTPOST_ASSIGN_OR_RETURN(std::string computed,
                           MerkleRootFromPath(leaf_hash, index, tree_size, path));
  if (!ConstantTimeEquals(computed, root)) {
    return Unauthenticated("batch proof does not lead to the signed root");
  }
  return Status::Ok();
}

}  // namespace outpost::crypto
