#include "common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace outpost {
namespace {

// The holder's process id as it wrote it, or "" when the file holds none (it may be between
// its lock and its write).
std::string ReadHolder(int fd) {
  char buffer[32] = {};
  const ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return "";
  std::string text(buffer, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char c : text) {
    if (c < '0' || c > '9') return "";
  }
  return text;
}

}  // namespace

Result<FileLock> FileLock::Acquire(const std::filesystem::path& path, std::string_view what) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Unavailable("cannot open the lock file " + path.string() + ": " + std::strerror(errno) +
                       "; check that the directory exists and is writable by this user");
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = ReadHolder(fd);
    close(fd);
    if (error == EWOULDBLOCK) {
      return FailedPrecondition(
          std::string(what) + " is in use by " +
          (holder.empty() ? std::string("another process") : "process " + holder) + " (lock " +
          path.string() +
          "); only one process may use a data directory at a time: stop that process first, "
          "or talk to it through its API (e.g. --data-dir with a running `outpost serve`)");
    }
    return Unavailable("cannot lock " + path.string() + ": " + std::strerror(error));
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int error = errno;
    close(fd);
    return Unavailable("cannot write the lock file " + path.string() + ": " + std::strerror(error));
  }
  return FileLock(path, fd);
}

FileLock::FileLock(FileLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// The file stays: removing it would let a process that opened it before the removal and one
// that creates it anew each hold "the" lock.
FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace outpost
