#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

#include "common/names.h"

namespace outpost {
namespace {

// "é" is 2 bytes, "€" 3, "😀" 4.
TEST(Utf8PrefixTest, NeverSplitsAMultiByteCharacter) {
  const std::string text =
      "ab\xC3\xA9"
      "c\xE2\x82\xAC"
      "d\xF0\x9F\x98\x80";  // ab é c € d 😀
  EXPECT_EQ(Utf8Prefix(text, 100), text);
  EXPECT_EQ(Utf8Prefix(text, 2), "ab");
  EXPECT_EQ(Utf8Prefix(text, 3), "ab");  // inside é
  EXPECT_EQ(Utf8Prefix(text, 4), "ab\xC3\xA9");
  EXPECT_EQ(Utf8Prefix(text, 6),
            "ab\xC3\xA9"
            "c");  // inside €
  EXPECT_EQ(Utf8Prefix(text, 7),
            "ab\xC3\xA9"
            "c");
  EXPECT_EQ(Utf8Prefix(text, 8),
            "ab\xC3\xA9"
            "c\xE2\x82\xAC");
  for (size_t cut = 10; cut < 13; ++cut) {
    EXPECT_EQ(Utf8Prefix(text, cut),
              "ab\xC3\xA9"
              "c\xE2\x82\xAC"
              "d")
        << cut;  // inside 😀
  }
  EXPECT_EQ(Utf8Prefix(text, 13), text);
  EXPECT_EQ(Utf8Prefix(text, 0), "");
}

TEST(Utf8PrefixTest, BytesThatAreNotUtf8AreCutLikeSingleBytes) {
  EXPECT_EQ(Utf8Prefix("ab\x80\x80\x80\x80\x80", 4), "ab\x80\x80");  // stray continuations
  EXPECT_EQ(Utf8Prefix("a\xC3\xA9\x80\x80", 3), "a\xC3\xA9");        // é then strays
  EXPECT_EQ(Utf8Prefix("\xFF\xFE\xFD", 2), "\xFF\xFE");
}

// Names quoted in error answers (licensing, sync) are cut at 64 bytes: between characters.
TEST(QuoteForMessageTest, CutsLongTextBetweenCharacters) {
  std::string name(63, 'a');
  name += "\xC3\xA9\xC3\xA9";  // é straddles byte 64
  EXPECT_EQ(QuoteForMessage(name), "'" + std::string(63, 'a') + "...'");
  name = std::string(62, 'a') + "\xC3\xA9\xC3\xA9";
  EXPECT_EQ(QuoteForMessage(name), "'" + std::string(62, 'a') + "\xC3\xA9...'");
}

}  // namespace
}  // namespace outpost
