#include "common/crypto/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto/encoding.h"

namespace outpost::crypto {
namespace {

std::string Hex(const std::string& bytes) { return HexEncode(bytes); }

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, DigestIsThirtyTwoRawBytes) {
  EXPECT_EQ(Sha256("abc").size(), kSha256Size);
  EXPECT_EQ(Sha256Hex("abc").size(), 2 * kSha256Size);
}

TEST(Sha256Test, HasherGivesTheSameDigestForAnySplitOfTheInput) {
  const std::string data = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (size_t split = 0; split <= data.size(); split += 7) {
    Sha256Hasher hasher;
    hasher.Update(std::string_view(data).substr(0, split));
    hasher.Update(std::string_view(data).substr(split));
    EXPECT_EQ(hasher.Finish(), Sha256(data)) << "split at " << split;
  }
}

TEST(Sha256Test, HasherIsReusableAfterFinish) {
  Sha256Hasher hasher;
  hasher.Update("something else");
  (void)hasher.Finish();
  hasher.Update("abc");
  EXPECT_EQ(hasher.Finish(), Sha256("abc"));
  EXPECT_EQ(hasher.Finish(), Sha256(""));
}

TEST(Sha256Test, FingerprintIsColonSeparatedUppercasePairs) {
  EXPECT_EQ(Sha256Fingerprint("abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:"
            "61:F2:00:15:AD");
}

TEST(HmacSha256Test, MatchesRfc4231TestCase1) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, MatchesRfc4231TestCase2) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256Test, MatchesRfc4231TestCase6KeyLongerThanBlock) {
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'),
                           "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256Test, EmptyKeyIsAccepted) {
  EXPECT_EQ(HmacSha256("", "data").size(), kSha256Size);
  EXPECT_NE(HmacSha256("", "data"), HmacSha256("k", "data"));
}

TEST(ConstantTimeEqualsTest, EqualInputsCompareEqual) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
}

TEST(ConstantTimeEqualsTest, AnyDifferenceCompareUnequal) {
  EXPECT_FALSE(ConstantTimeEquals("token", "tokeN"));
  EXPECT_FALSE(ConstantTimeEquals("token", "Token"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(ConstantTimeEqualsTest, DifferentLengthsCompareUnequal) {
  EXPECT_FALSE(ConstantTimeEquals("token", "token2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("ab\0", 3), "ab"));
}

}  // namespace
}  // namespace outpost::crypto
