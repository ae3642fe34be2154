#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace outpost::testing {

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Reads a whole file; fails the test (and returns "") if it cannot.
std::string ReadFileOrDie(const std::filesystem::path& path);
void WriteFileOrDie(const std::filesystem::path& path, const std::string& content);

// Records `vas` in a satellite database as the virtual accounts central named in its last sync
// response, as if one had been imported: tokens and moves may then name them.
void SeedKnownVirtualAccounts(const std::filesystem::path& database,
                              const std::vector<std::string>& vas);

}  // namespace outpost::testing

#define ASSERT_OK(expr)                                                       \
  do {                                                                        \
    const ::outpost::Status outpost_s_ = ::outpost::internal::ToStatus(expr); \
    ASSERT_TRUE(outpost_s_.ok()) << #expr << " -> " << outpost_s_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                       \
  do {                                                                        \
    const ::outpost::Status outpost_s_ = ::outpost::internal::ToStatus(expr); \
    EXPECT_TRUE(outpost_s_.ok()) << #expr << " -> " << outpost_s_.ToString(); \
  } while (0)
