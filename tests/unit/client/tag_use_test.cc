#include "client/tag_use.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace outpost::client {
namespace {

void ExpectUse(std::string_view text, const std::string& tag, int64_t count) {
  auto use = ParseTagUse(text);
  ASSERT_OK(use);
  EXPECT_EQ(use->tag(), tag);
  EXPECT_EQ(use->count(), count);
}

void ExpectBad(std::string_view text, const std::string& message_part) {
  auto use = ParseTagUse(text);
  ASSERT_FALSE(use.ok()) << text;
  EXPECT_EQ(use.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(use.status().message().find(message_part), std::string::npos) << use.status().message();
}

TEST(ParseTagUseTest, TagAloneMeansOneUnit) {
  ExpectUse("regid.2026-01.com.example.fw.base", "regid.2026-01.com.example.fw.base", 1);
}

TEST(ParseTagUseTest, CountFollowsTheLastColon) {
  ExpectUse("regid.2026-01.com.example.fw.base:5", "regid.2026-01.com.example.fw.base", 5);
  ExpectUse("a:b:7", "a:b", 7);
  ExpectUse("t:1000000000", "t", kMaxTagCount);
}

TEST(ParseTagUseTest, BadCountsAreRefused) {
  for (const char* text : {"t:", "t:0", "t:-1", "t:+1", "t:abc", "t:1x", "t: 1", "t:1.5",
                           "t:1000000001", "t:99999999999999999999999"}) {
    ExpectBad(text, "COUNT must be a whole number from 1 to");
  }
}

TEST(ParseTagUseTest, BadTagsAreRefused) {
  ExpectBad("", "has no license tag");
  ExpectBad(":3", "has no license tag");
  ExpectBad("two words:3", "no spaces or control characters");
  ExpectBad("tab\there", "no spaces or control characters");
}

TEST(ParseTagUsesTest, KeepsOrderAndRefusesTheSameTagTwice) {
  auto uses = ParseTagUses({"b:2", "a"});
  ASSERT_OK(uses);
  ASSERT_EQ(uses->size(), 2u);
  EXPECT_EQ((*uses)[0].tag(), "b");
  EXPECT_EQ((*uses)[1].tag(), "a");

  auto twice = ParseTagUses({"a:1", "b", "a:2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("'a' is given twice"), std::string::npos);
  EXPECT_FALSE(ParseTagUses({"ok", "bad:0"}).ok());
}

}  // namespace
}  // namespace outpost::client
