#include "common/crypto/random.h"

#include <gtest/gtest.h>

#include <array>
#include <set>

#include "common/crypto/encoding.h"
#include "tests/testing/test_util.h"

namespace outpost::crypto {
namespace {

TEST(RandomBytesTest, ReturnsTheRequestedNumberOfBytes) {
  for (size_t n : {0u, 1u, 16u, 32u, 1000u}) {
    Result<std::string> bytes = RandomBytes(n);
    ASSERT_OK(bytes);
    EXPECT_EQ(bytes->size(), n);
  }
}

TEST(RandomBytesTest, SuccessiveCallsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    Result<std::string> bytes = RandomBytes(16);
    ASSERT_OK(bytes);
    EXPECT_TRUE(seen.insert(*bytes).second) << "repeated 128-bit random value";
  }
}

TEST(RandomBytesTest, FillsASpan) {
  std::array<uint8_t, 64> buf{};
  ASSERT_OK(RandomBytes(std::span<uint8_t>(buf)));
  int zeros = 0;
  for (uint8_t b : buf) zeros += b == 0;
  EXPECT_LT(zeros, 16);  // 64 zero-initialised bytes were overwritten
}

TEST(RandomTokenTest, IsBase64UrlOfThirtyTwoBytesByDefault) {
  Result<std::string> token = RandomToken();
  ASSERT_OK(token);
  EXPECT_EQ(token->size(), 43u);  // ceil(32 * 4 / 3), no padding
  Result<std::string> raw = Base64UrlDecode(*token);
  ASSERT_OK(raw);
  EXPECT_EQ(raw->size(), 32u);
  Result<std::string> other = RandomToken();
  ASSERT_OK(other);
  EXPECT_NE(*token, *other);
}

}  // namespace
}  // namespace outpost::crypto
