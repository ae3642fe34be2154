#include "common/crypto/secure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace outpost::crypto {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText(int err) { return std::strerror(err); }

std::string OctalMode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Closes the descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error; close can surface delayed write errors.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view content, const fs::path& path) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("cannot write " + path.string() + ": " + ErrnoText(errno));
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return Internal("cannot sync directory " + dir.string() + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const fs::path& path, size_t max_bytes, bool secret) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    std::string message = "cannot open " + path.string() + ": " + ErrnoText(err);
    if (err == ENOENT) return NotFound(message + "; check the path in the configuration");
    if (err == EACCES) {
      return FailedPrecondition(message + "; the server's user must be able to read it");
    }
    return Internal(message);
  }
  // fstat on the open descriptor, so the checks apply to the file actually read.
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return Internal("cannot stat " + path.string() + ": " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return FailedPrecondition(path.string() + " is not a regular file");
  }
  if (secret && (st.st_mode & 077) != 0) {
    return FailedPrecondition(
        path.string() + " holds a private key but is accessible by group or " + "others (mode " +
        OctalMode(st.st_mode) + "); run `chmod 600 " + path.string() + "` and retry");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return InvalidArgument(path.string() + " is " + std::to_string(st.st_size) +
                           " bytes, more than the " + std::to_string(max_bytes) +
                           " expected; is it the right file?");
  }
  std::string out;
  // One spare byte detects growth after fstat without a second read; sizing from st_size
  // means no reallocation (and no stray copy of a secret) in the usual case.
  out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("cannot read " + path.string() + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  // The file may have grown between fstat and read.
  if (used > max_bytes) {
    return InvalidArgument(path.string() + " is more than the " + std::to_string(max_bytes) +
                           " bytes expected; is it the right file?");
  }
  out.resize(used);
  return out;
}

}  // namespace

Status CheckWritable(const fs::path& path, IfExists if_exists, std::string_view force_flag) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (fs::is_directory(st)) {
    return InvalidArgument(path.string() + " is a directory; name a file to write");
  }
  if (fs::exists(st) && if_exists == IfExists::kFail) {
    return AlreadyExists(path.string() + " already exists; choose another file name, or pass " +
                         std::string(force_flag) + " to replace it");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    return NotFound("cannot write " + path.string() + ": the directory " + dir.string() +
                    " does not exist; create it first");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return FailedPrecondition("cannot write " + path.string() + ": " + ErrnoText(errno) +
                              "; check the permissions of " + dir.string());
  }
  return Status::Ok();
}

Status WriteFileAtomically(const fs::path& path, std::string_view content, fs::perms permissions,
                           IfExists if_exists) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  // mkostemp creates the file with mode 0600, so content is never readable by others even
  // when `permissions` is wider; fchmod below sets the final mode.
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    std::string message = "cannot create a file in " + dir.string() + ": " + ErrnoText(err);
    if (err == ENOENT) return NotFound(message + "; create the directory first");
    if (err == EACCES) return FailedPrecondition(message + "; check the directory's permissions");
    return Internal(message);
  }
  auto fail = [&](Status status) {
    ::unlink(temp.c_str());
    return status;
  };
  if (::fchmod(fd.get(), static_cast<mode_t>(permissions) & 0777) != 0) {
    return fail(Internal("cannot set the mode of " + temp + ": " + ErrnoText(errno)));
  }
  if (Status s = WriteAll(fd.get(), content, temp); !s.ok()) return fail(s);
  if (::fsync(fd.get()) != 0) {
    return fail(Internal("cannot sync " + temp + ": " + ErrnoText(errno)));
  }
  if (fd.Close() != 0) return fail(Internal("cannot close " + temp + ": " + ErrnoText(errno)));

  if (if_exists == IfExists::kFail) {
    // link(2) fails with EEXIST instead of replacing, atomically; rename(2) would overwrite.
    if (::link(temp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST) {
        return fail(AlreadyExists("refusing to overwrite existing file " + path.string() +
                                  "; move it away first if you really mean to replace it"));
      }
      return fail(Internal("cannot create " + path.string() + ": " + ErrnoText(err)));
    }
    ::unlink(temp.c_str());
  } else if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail(Internal("cannot replace " + path.string() + ": " + ErrnoText(errno)));
  }
  return SyncDirectory(dir);
}

Result<std::string> ReadSmallFile(const fs::path& path, size_t max_bytes) {
  return ReadFile(path, max_bytes, /*secret=*/false);
}

Result<std::string> ReadSecretFile(const fs::path& path, size_t max_bytes) {
  return ReadFile(path, max_bytes, /*secret=*/true);
}

}  // namespace outpost::crypto
