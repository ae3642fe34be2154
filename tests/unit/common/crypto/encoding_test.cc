#include "common/crypto/encoding.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/test_util.h"

namespace outpost::crypto {
namespace {

std::string AllBytes() {
  std::string out;
  for (int i = 0; i < 256; ++i) out += static_cast<char>(i);
  return out;
}

TEST(HexTest, EncodesLowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(HexTest, RoundTripsEveryByte) {
  Result<std::string> decoded = HexDecode(HexEncode(AllBytes()));
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, AllBytes());
}

TEST(HexTest, DecodesUppercase) {
  Result<std::string> decoded = HexDecode("ABff");
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, "\xab\xff");
}

TEST(HexTest, RejectsOddLengthAndNonHex) {
  for (const char* bad : {"a", "abc", "zz", "0g", " 00", "00 ", "0x00"}) {
    Result<std::string> r = HexDecode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.status().message().find("invalid hex"), std::string::npos);
  }
  EXPECT_NE(HexDecode("00zz").status().message().find("offset 2"), std::string::npos);
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    Result<std::string> decoded = Base64Decode(encoded);
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, RoundTripsEveryByteAndLength) {
  const std::string all = AllBytes();
  for (size_t n = 0; n <= all.size(); n += 17) {
    const std::string data = all.substr(0, n);
    Result<std::string> decoded = Base64Decode(Base64Encode(data));
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, data);
  }
}

TEST(Base64Test, RejectsGarbage) {
  for (const char* bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zg===",     // too much padding
           "====",      // padding only
           "Z===",      // impossible length
           "Zm9v\n",    // whitespace
           " Zm9v",     // whitespace
           "Zm-v",      // base64url alphabet
           "Zm9v!!==",  // not in the alphabet
           "Zh==",      // non-zero trailing bits (not canonical)
           "Zm9=Zm9v",  // padding in the middle
       }) {
    Result<std::string> r = Base64Decode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument) << bad;
  }
}

TEST(Base64UrlTest, UsesTheUrlAlphabetWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  Result<std::string> decoded = Base64UrlDecode("-_8");
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, "\xfb\xff");
}

TEST(Base64UrlTest, RoundTripsEveryByteAndLength) {
  const std::string all = AllBytes();
  for (size_t n = 0; n <= all.size(); n += 13) {
    const std::string data = all.substr(0, n);
    Result<std::string> decoded = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, data);
  }
}

TEST(Base64UrlTest, RejectsPaddingStandardAlphabetAndGarbage) {
  for (const char* bad : {"Zg==", "+/8", "Zm9v.", "Z", "Zh", "Zm 9v"}) {
    Result<std::string> r = Base64UrlDecode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace outpost::crypto
