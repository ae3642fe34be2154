#include "common/sqlite/meta_table.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "tests/testing/test_util.h"

namespace outpost::sqlite {
namespace {

constexpr MetaTable kMeta("test_meta");

class MetaTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Connection::Open(dir_ / "meta.db");
    ASSERT_OK(db);
    db_.emplace(std::move(*db));
    ASSERT_OK(db_->Exec("CREATE TABLE test_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  }

  std::optional<std::string> Get(std::string_view key) {
    auto value = kMeta.Get(*db_, key);
    EXPECT_OK(value);
    return value.ok() ? *value : std::nullopt;
  }

  outpost::testing::TempDir dir_;
  std::optional<Connection> db_;
};

TEST_F(MetaTableTest, UnsetKeyIsNulloptAndSetReplaces) {
  EXPECT_EQ(Get("satellite_id"), std::nullopt);
  ASSERT_OK(kMeta.Set(*db_, "satellite_id", "sat-1"));
  EXPECT_EQ(Get("satellite_id"), "sat-1");
  ASSERT_OK(kMeta.Set(*db_, "satellite_id", "sat-2"));
  EXPECT_EQ(Get("satellite_id"), "sat-2");
  ASSERT_OK(kMeta.Set(*db_, "empty", ""));
  EXPECT_EQ(Get("empty"), "");  // set to "" is not unset
}

TEST_F(MetaTableTest, InsertRefusesAKeyThatIsSetAndChangesNothing) {
  ASSERT_OK(kMeta.Insert(*db_, "key_rotation", "first"));
  EXPECT_FALSE(kMeta.Insert(*db_, "key_rotation", "second").ok());
  EXPECT_EQ(Get("key_rotation"), "first");
}

TEST_F(MetaTableTest, EraseRemovesAndIgnoresWhatIsNotSet) {
  ASSERT_OK(kMeta.Set(*db_, "metrics_token_sha256", "abc"));
  ASSERT_OK(kMeta.Erase(*db_, "metrics_token_sha256"));
  EXPECT_EQ(Get("metrics_token_sha256"), std::nullopt);
  EXPECT_OK(kMeta.Erase(*db_, "metrics_token_sha256"));
}

TEST_F(MetaTableTest, GetAllReturnsEveryKey) {
  auto empty = kMeta.GetAll(*db_);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
  ASSERT_OK(kMeta.Set(*db_, "a", "1"));
  ASSERT_OK(kMeta.Set(*db_, "b", "2"));
  auto all = kMeta.GetAll(*db_);
  ASSERT_OK(all);
  EXPECT_EQ(*all, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

TEST_F(MetaTableTest, MissingTableIsAnError) {
  constexpr MetaTable kMissing("no_such_table");
  EXPECT_FALSE(kMissing.Get(*db_, "a").ok());
  EXPECT_FALSE(kMissing.Set(*db_, "a", "1").ok());
}

}  // namespace
}  // namespace outpost::sqlite
