#pragma once

// An exclusive, advisory lock on a file (flock(2)), held for the life of the object: one process
// per data directory. The lock file records the holder's process id, so that a refused second
// process can name the one in the way. The kernel releases the lock when the process dies,
// including by kill -9, so no stale lock outlives its holder.
//
// Thread-safety: a FileLock is not shared between threads; flock locks belong to the open file,
// so two FileLocks on one path in one process also exclude each other.

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost {

class FileLock {
 public:
  // Creates `path` (mode 0600) if needed and locks it without waiting. When another process holds
  // it: kFailedPrecondition naming `what` (e.g. "data directory /var/lib/outpost") and the
  // holder's process id.
  static Result<FileLock> Acquire(const std::filesystem::path& path, std::string_view what);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  FileLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace outpost
