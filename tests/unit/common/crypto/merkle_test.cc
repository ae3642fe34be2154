#include "common/crypto/merkle.h"

#include <gtest/gtest.h>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"

namespace outpost::crypto {
namespace {

std::string Hex(std::string_view bytes) { return HexEncode(bytes); }

std::vector<std::string> LeafHashes(size_t n) {
  std::vector<std::string> leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back(MerkleLeafHash("message " + std::to_string(i)));
  return leaves;
}

// The eight leaves of Certificate Transparency's reference tests (RFC 6962 trees are the same as
// RFC 9162's) and the root of the tree over the first n of them.
TEST(MerkleTest, RootsMatchTheCertificateTransparencyReferenceVectors) {
  const std::vector<std::string> inputs = {
      std::string(""),
      std::string("\x00", 1),
      std::string("\x10"),
      std::string("\x20\x21"),
      std::string("\x30\x31"),
      std::string("\x40\x41\x42\x43"),
      std::string("\x50\x51\x52\x53\x54\x55\x56\x57"),
      std::string("\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"),
  };
  const std::vector<std::string> roots = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  for (size_t n = 1; n <= inputs.size(); ++n) {
    std::vector<std::string> leaves;
    for (size_t i = 0; i < n; ++i) leaves.push_back(MerkleLeafHash(inputs[i]));
    EXPECT_EQ(Hex(BuildMerkleTree(leaves).root), roots[n - 1]) << "tree of " << n;
  }
}

TEST(MerkleTest, HashesAreDomainSeparated) {
  EXPECT_EQ(MerkleLeafHash("abc"), Sha256(std::string("\x00", 1) + "abc"));
  EXPECT_EQ(MerkleNodeHash("ab", "c"), Sha256("\x01"
                                              "abc"));
  EXPECT_NE(MerkleLeafHash("abc"), Sha256("abc"));
}

TEST(MerkleTest, TreeHeadIsTheBigEndianSizeThenTheRoot) {
  const std::string root(32, 'r');
  EXPECT_EQ(MerkleTreeHead(0x0102, root), std::string("\0\0\0\0\0\0\x01\x02", 8) + root);
  EXPECT_NE(MerkleTreeHead(3, root), MerkleTreeHead(4, root));
}

TEST(MerkleTest, EmptyTreeHasNoRoot) {
  MerkleTree tree = BuildMerkleTree({});
  EXPECT_TRUE(tree.root.empty());
  EXPECT_TRUE(tree.paths.empty());
}

TEST(MerkleTest, SingleLeafIsItsOwnRoot) {
  const std::vector<std::string> leaves = LeafHashes(1);
  MerkleTree tree = BuildMerkleTree(leaves);
  EXPECT_EQ(tree.root, leaves[0]);
  ASSERT_EQ(tree.paths.size(), 1u);
  EXPECT_TRUE(tree.paths[0].empty());
  EXPECT_TRUE(VerifyMerkleInclusion(leaves[0], 0, 1, {}, tree.root).ok());
}

TEST(MerkleTest, EveryLeafOfEverySizeVerifies) {
  for (size_t n = 1; n <= 70; ++n) {
    const std::vector<std::string> leaves = LeafHashes(n);
    const MerkleTree tree = BuildMerkleTree(leaves);
    ASSERT_EQ(tree.paths.size(), n);
    for (size_t i = 0; i < n; ++i) {
      Status s = VerifyMerkleInclusion(leaves[i], i, n, tree.paths[i], tree.root);
      EXPECT_TRUE(s.ok()) << "leaf " << i << " of " << n << ": " << s.message();
    }
  }
}

TEST(MerkleTest, PathsAreLogarithmic) {
  const MerkleTree tree = BuildMerkleTree(LeafHashes(256));
  for (const auto& path : tree.paths) EXPECT_EQ(path.size(), 8u);
  const MerkleTree odd = BuildMerkleTree(LeafHashes(257));
  EXPECT_EQ(odd.paths[256].size(), 1u);  // the last leaf hangs directly below the root
  EXPECT_EQ(odd.paths[0].size(), 9u);
}

TEST(MerkleTest, AnotherLeafOrIndexDoesNotVerify) {
  for (size_t n = 2; n <= 20; ++n) {
    const std::vector<std::string> leaves = LeafHashes(n);
    const MerkleTree tree = BuildMerkleTree(leaves);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        if (j == i) continue;
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[j], i, n, tree.paths[i], tree.root).ok())
            << "leaf " << j << " with the path of " << i << " of " << n;
        EXPECT_FALSE(VerifyMerkleInclusion(leaves[i], j, n, tree.paths[i], tree.root).ok())
            << "leaf " << i << " claimed at index " << j << " of " << n;
      }
    }
  }
}

TEST(MerkleTest, AlteredPathsAreRefusedWithAReason) {
  const std::vector<std::string> leaves = LeafHashes(13);
  const MerkleTree tree = BuildMerkleTree(leaves);
  const std::vector<std::string>& path = tree.paths[5];
  ASSERT_TRUE(VerifyMerkleInclusion(leaves[5], 5, 13, path, tree.root).ok());

  std::vector<std::string> flipped = path;
  flipped[1][7] ^= 0x01;
  Status s = VerifyMerkleInclusion(leaves[5], 5, 13, flipped, tree.root);
  EXPECT_EQ(s.code(), Errc::kUnauthenticated);
  EXPECT_NE(s.message().find("does not lead to the signed root"), std::string::npos);

  std::vector<std::string> shorter(path.begin(), path.end() - 1);
  s = VerifyMerkleInclusion(leaves[5], 5, 13, shorter, tree.root);
  EXPECT_NE(s.message().find("shorter"), std::string::npos) << s.message();

  std::vector<std::string> longer = path;
  longer.push_back(leaves[0]);
  s = VerifyMerkleInclusion(leaves[5], 5, 13, longer, tree.root);
  EXPECT_NE(s.message().find("longer"), std::string::npos) << s.message();

  std::vector<std::string> truncated_hash = path;
  truncated_hash[0].resize(31);
  s = VerifyMerkleInclusion(leaves[5], 5, 13, truncated_hash, tree.root);
  EXPECT_NE(s.message().find("not 32 bytes"), std::string::npos) << s.message();

  s = VerifyMerkleInclusion(leaves[5], 13, 13, path, tree.root);
  EXPECT_NE(s.message().find("leaf 13 of a batch of 13"), std::string::npos) << s.message();
  s = VerifyMerkleInclusion(leaves[5], 0, 0, {}, tree.root);
  EXPECT_NE(s.message().find("empty batch"), std::string::npos) << s.message();
  EXPECT_FALSE(VerifyMerkleInclusion(leaves[5], 5, 13, path, leaves[5]).ok());
}

TEST(MerkleTest, RootFromPathMatchesTheTree) {
  const std::vector<std::string> leaves = LeafHashes(9);
  const MerkleTree tree = BuildMerkleTree(leaves);
  for (size_t i = 0; i < leaves.size(); ++i) {
    Result<std::string> root = MerkleRootFromPath(leaves[i], i, leaves.size(), tree.paths[i]);
    ASSERT_TRUE(root.ok()) << root.status().message();
    EXPECT_EQ(*root, tree.root);
  }
}

}  // namespace
}  // namespace outpost::crypto
