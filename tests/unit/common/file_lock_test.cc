#include "common/file_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "tests/testing/test_util.h"

namespace outpost {
namespace {

TEST(FileLockTest, SecondHolderIsRefusedWithTheFirstHoldersPid) {
  testing::TempDir tmp;
  const auto path = tmp.path() / "outpost.lock";
  std::optional<FileLock> first;
  {
    auto lock = FileLock::Acquire(path, "data directory D");
    ASSERT_OK(lock);
    first.emplace(std::move(*lock));
  }
  auto second = FileLock::Acquire(path, "data directory D");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("data directory D is in use by process " +
                                           std::to_string(getpid())),
            std::string::npos)
      << second.status().message();

  first.reset();  // released: the next one gets it
  EXPECT_OK(FileLock::Acquire(path, "data directory D").status());
}

TEST(FileLockTest, LockFileIsPrivate) {
  testing::TempDir tmp;
  const auto path = tmp.path() / "outpost.lock";
  auto lock = FileLock::Acquire(path, "x");
  ASSERT_OK(lock);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileLockTest, MissingDirectoryIsAClearError) {
  testing::TempDir tmp;
  auto lock = FileLock::Acquire(tmp.path() / "nosuch" / "outpost.lock", "x");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("check that the directory exists"), std::string::npos);
}

}  // namespace
}  // namespace outpost
