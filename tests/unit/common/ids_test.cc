#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace outpost {
namespace {

TEST(IdsTest, NewUuidIsCanonicalVersion4) {
  const std::string id = NewUuid();
  EXPECT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id[14], '4');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
}

TEST(IdsTest, NewUuidsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(NewUuid()).second);
}

TEST(IdsTest, IsUuidRejectsMalformed) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("0123456789abcdef0123456789abcdef0123"));
  EXPECT_FALSE(IsUuid("01234567-89AB-4def-8123-456789abcdef"));  // upper case
  EXPECT_TRUE(IsUuid("01234567-89ab-4def-8123-456789abcdef"));
}

}  // namespace
}  // namespace outpost
