#include "common/created_files.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace outpost {
namespace {

namespace fs = std::filesystem;

TEST(CreatedFilesTest, RemovesWhatWasAddedNewestFirstUnlessCommitted) {
  testing::TempDir tmp;
  const fs::path dir = tmp / "data";
  const fs::path kept = tmp / "kept.txt";
  testing::WriteFileOrDie(kept, "not ours");
  {
    CreatedFiles created;
    ASSERT_OK(created.MakeDirectory(dir, fs::perms::owner_all));
    ASSERT_OK(created.MakeDirectory(dir / "keys", fs::perms::owner_all));
    testing::WriteFileOrDie(dir / "keys" / "a.key", "k");
    created.Add(dir / "keys" / "a.key");
    created.Add(dir / "never-made.db-wal");  // added before it exists: nothing to remove
    EXPECT_EQ(created.paths().size(), 4u);
  }
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(fs::exists(kept));
}

TEST(CreatedFilesTest, CommittedFilesStay) {
  testing::TempDir tmp;
  {
    CreatedFiles created;
    ASSERT_OK(created.MakeDirectory(tmp / "data", fs::perms::owner_all));
    testing::WriteFileOrDie(tmp / "data" / "outpost.toml", "x");
    created.Add(tmp / "data" / "outpost.toml");
    created.Commit();
  }
  EXPECT_TRUE(fs::exists(tmp / "data" / "outpost.toml"));
}

TEST(CreatedFilesTest, ExistingDirectoryIsNeitherAddedNorRemoved) {
  testing::TempDir tmp;
  const fs::path dir = tmp / "existing";
  fs::create_directory(dir);
  {
    CreatedFiles created;
    ASSERT_OK(created.MakeDirectory(dir, fs::perms::owner_all));
    EXPECT_TRUE(created.paths().empty());
  }
  EXPECT_TRUE(fs::exists(dir));
}

TEST(CreatedFilesTest, DirectoryThatCannotBeCreatedIsNamed) {
  testing::TempDir tmp;
  testing::WriteFileOrDie(tmp / "file", "x");
  CreatedFiles created;
  Status s = created.MakeDirectory(tmp / "file" / "sub", fs::perms::owner_all);
  EXPECT_EQ(s.code(), Errc::kUnavailable);
  EXPECT_NE(s.message().find("cannot create directory " + (tmp / "file" / "sub").string()),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(created.paths().empty());
}

TEST(CreatedFilesTest, DirectoryGetsThePermissionsAsked) {
  testing::TempDir tmp;
  CreatedFiles created;
  ASSERT_OK(created.MakeDirectory(tmp / "keys", fs::perms::owner_all));
  EXPECT_EQ(fs::status(tmp / "keys").permissions() & fs::perms::all, fs::perms::owner_all);
  created.Commit();
}

}  // namespace
}  // namespace outpost
