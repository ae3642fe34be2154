#pragma once

#include <gtest/gtest.h>

#include <cstdint>
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

// A port on 127.0.0.1 that was free a moment ago, for a server that must come back on the same
// address after a restart (a device's state stores the URL). Picked below the kernel's
// ephemeral range, so that no other test's port-0 server or outgoing connection can take it in
// the meantime.
uint16_t FreeLoopbackPort();

// The wall clock in whole Unix seconds.
int64_t UnixNow();

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
