#include "common/sqlite/migrations.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

using outpost::testing::TempDir;

constexpr Migration kSchema[] = {
    {1, "create_products", "CREATE TABLE products(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
    {2, "create_seats",
     "CREATE TABLE seats(id INTEGER PRIMARY KEY,"
     "                   product INTEGER NOT NULL REFERENCES products(id));"
     "INSERT INTO products(name) VALUES ('default');"},
    {3, "index_seats", "CREATE INDEX seats_by_product ON seats(product);"},
};

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Connection::Open(dir_ / "outpost.db");
    ASSERT_OK(opened);
    db_.emplace(std::move(opened).value());
  }

  int Version() {
    auto version = SchemaVersion(*db_);
    EXPECT_OK(version);
    return version.ok() ? *version : -1;
  }

  bool TableExists(std::string_view name) {
    auto count = db_->QueryInt64(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", name);
    EXPECT_OK(count);
    return count.ok() && *count == 1;
  }

  TempDir dir_;
  std::optional<Connection> db_;
};

TEST_F(MigrationsTest, FreshDatabaseGetsEveryMigrationAndTheNewestVersion) {
  EXPECT_EQ(Version(), 0);
  ASSERT_OK(Migrate(*db_, kSchema));
  EXPECT_EQ(Version(), 3);
  EXPECT_TRUE(TableExists("products"));
  EXPECT_TRUE(TableExists("seats"));
}

TEST_F(MigrationsTest, ApplyingTwiceIsANoOp) {
  ASSERT_OK(Migrate(*db_, kSchema));
  // Re-running any migration would fail (CREATE TABLE of an existing table) or add a second
  // 'default' product.
  ASSERT_OK(Migrate(*db_, kSchema));
  EXPECT_EQ(Version(), 3);
  auto products = db_->QueryInt64("SELECT count(*) FROM products");
  ASSERT_OK(products);
  EXPECT_EQ(*products, 1);
}

TEST_F(MigrationsTest, OnlyMigrationsNewerThanTheDatabaseRun) {
  ASSERT_OK(Migrate(*db_, std::span(kSchema).first(2)));
  EXPECT_EQ(Version(), 2);
  constexpr std::string_view kIndexCount =
      "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'seats_by_product'";
  auto before = db_->QueryInt64(kIndexCount);
  ASSERT_OK(before);
  EXPECT_EQ(*before, 0);
  ASSERT_OK(Migrate(*db_, kSchema));
  EXPECT_EQ(Version(), 3);
  auto after = db_->QueryInt64(kIndexCount);
  ASSERT_OK(after);
  EXPECT_EQ(*after, 1);
}

TEST_F(MigrationsTest, NewerDatabaseIsRefusedWithAdviceAndLeftAlone) {
  ASSERT_OK(db_->Exec("CREATE TABLE future(x); PRAGMA user_version = 7;"));
  Status status = Migrate(*db_, kSchema);
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition);
  const std::string expected = "database " + (dir_ / "outpost.db").string() +
                               " has schema version 7 but this outpost binary knows only up to "
                               "3; upgrade outpost or restore a backup";
  EXPECT_EQ(status.message(), expected);
  EXPECT_EQ(Version(), 7);
  EXPECT_FALSE(TableExists("products"));
}

TEST_F(MigrationsTest, FailingMigrationKeepsThePreviousVersionAndUndoesItsPartialChanges) {
  const Migration broken[] = {
      kSchema[0],
      {2, "half_done",
       "CREATE TABLE seats(id INTEGER PRIMARY KEY);"
       "INSERT INTO products(name) VALUES ('half');"
       "INSERT INTO no_such_table VALUES (1);"},
  };
  Status status = Migrate(*db_, broken);
  EXPECT_EQ(status.code(), Errc::kInternal) << status.ToString();
  EXPECT_NE(status.message().find("applying schema migration 2 (half_done)"), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("no such table: no_such_table"), std::string::npos)
      << status.ToString();
  EXPECT_EQ(Version(), 1);
  EXPECT_TRUE(TableExists("products"));
  EXPECT_FALSE(TableExists("seats"));
  auto products = db_->QueryInt64("SELECT count(*) FROM products");
  ASSERT_OK(products);
  EXPECT_EQ(*products, 0);
  EXPECT_FALSE(db_->InTransaction());
}

TEST_F(MigrationsTest, VersionsThatAreNotOneToNAreRejectedBeforeAnythingRuns) {
  const Migration gap[] = {kSchema[0], {3, "index_seats", kSchema[2].sql}};
  Status status = Migrate(*db_, gap);
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_NE(status.message().find("has version 3, expected 2"), std::string::npos)
      << status.ToString();
  EXPECT_EQ(Version(), 0);
  EXPECT_FALSE(TableExists("products"));
}

}  // namespace
}  // namespace outpost::sqlite
