#include "server/licensing/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/hash.h"
#include "common/thread_boundary.h"
#include "server/licensing/core/state_codec.h"

namespace outpost::server::licensing {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[24] = "OUTPOST LICENSING STATE";
// Changes whenever what SaveTo writes changes: a file of another version is simply not used.
constexpr uint32_t kVersion = 2;  // 2: the SHA-256 of each section
// Written in host byte order: a file from a machine of the other order does not match.
constexpr uint32_t kByteOrder = 0x01020304;
constexpr size_t kTokenSize = 36;  // a UUID

struct Header {
  char magic[sizeof kMagic];
  uint32_t version;
  uint32_t byte_order;
  char token[kTokenSize];
  uint32_t reserved;
  uint64_t registry_bytes;
  uint64_t book_bytes;
  uint64_t registry_checksum;
  uint64_t book_checksum;
  unsigned char registry_sha256[crypto::kSha256Size];
  unsigned char book_sha256[crypto::kSha256Size];
};
static_assert(sizeof(Header) == 168);

// What the database's licensing_state row holds to bind the file to it.
std::string DigestOf(const Header& h) {
  return crypto::HexEncode(crypto::Sha256({reinterpret_cast<const char*>(&h), sizeof h}));
}

std::string ErrnoText() { return std::error_code(errno, std::generic_category()).message(); }

Status WriteAll(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable("cannot write " + path.string() + ": " + ErrnoText());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

bool ReadExactly(int fd, char* out, size_t size) {
  while (size > 0) {
    const ssize_t n = read(fd, out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool ReadHeader(int fd, Header& h) {
  if (!ReadExactly(fd, reinterpret_cast<char*>(&h), sizeof h)) return false;
  return std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.version == kVersion &&
         h.byte_order == kByteOrder;
}

}  // namespace

Result<std::string> WriteStateFile(const fs::path& path, std::string_view token,
                                   const DeviceRegistry& registry, const PoolBook& book) {
  if (token.size() != kTokenSize) return InvalidArgument("a state file token is a UUID");
  const fs::path temporary = path.string() + ".tmp";
  Fd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Unavailable("cannot create " + temporary.string() + ": " + ErrnoText());
  // The header goes last, at the start, once the sections' sizes and checksums are known.
  Header h{};
  Status s = Status::Ok();
  crypto::Sha256Hasher sha256;
  const auto sink = [&](std::string_view bytes) {
    sha256.Update(bytes);
    s = WriteAll(fd.get(), bytes, temporary);
    return s.ok();
  };
  const auto finish_sha256 = [&](unsigned char* out) {
    const std::string digest = sha256.Finish();
    std::memcpy(out, digest.data(), crypto::kSha256Size);
  };
  if (lseek(fd.get(), sizeof h, SEEK_SET) != static_cast<off_t>(sizeof h)) {
    s = Unavailable("cannot write " + temporary.string() + ": " + ErrnoText());
  }
  if (s.ok()) {
    StateWriter w(sink);
    registry.SaveTo(w);
    if (w.Flush()) {
      h.registry_bytes = w.size();
      h.registry_checksum = w.checksum();
      finish_sha256(h.registry_sha256);
    }
  }
  if (s.ok()) {
    StateWriter w(sink);
    book.SaveDevices(w);
    if (w.Flush()) {
      h.book_bytes = w.size();
      h.book_checksum = w.checksum();
      finish_sha256(h.book_sha256);
    }
  }
  if (s.ok()) {
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.version = kVersion;
    h.byte_order = kByteOrder;
    std::memcpy(h.token, token.data(), kTokenSize);
    if (pwrite(fd.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
      s = Unavailable("cannot write " + temporary.string() + ": " + ErrnoText());
    }
  }
  if (s.ok() && close(fd.release()) != 0) {
    s = Unavailable("cannot write " + temporary.string() + ": " + ErrnoText());
  }
  if (s.ok() && rename(temporary.c_str(), path.c_str()) != 0) {
    s = Unavailable("cannot rename " + temporary.string() + " to " + path.string() + ": " +
                    ErrnoText());
  }
  if (!s.ok()) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return s;
  }
  return DigestOf(h);
}

std::optional<std::string> StateFileToken(const fs::path& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  Header h{};
  if (fd.get() < 0 || !ReadHeader(fd.get(), h)) return std::nullopt;
  return std::string(h.token, kTokenSize);
}

Status ReadStateFile(const fs::path& path, std::string_view token, std::string_view digest,
                     DeviceRegistry& registry, PoolBook::Restorer& restorer) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFound("no state file " + path.string());
    return Unavailable("cannot open " + path.string() + ": " + ErrnoText());
  }
  Header h{};
  if (!ReadHeader(fd.get(), h)) {
    return DataLoss(path.string() + " is not a state file of this version");
  }
  if (std::string_view(h.token, kTokenSize) != token) {
    return FailedPrecondition(path.string() + " was not written with the database as it is");
  }
  if (DigestOf(h) != digest) {
    return FailedPrecondition(path.string() +
                              " carries the database's token but not the digest the database "
                              "holds for it: it was changed after it was written");
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || h.registry_bytes > static_cast<uint64_t>(st.st_size) ||
      h.book_bytes > static_cast<uint64_t>(st.st_size) ||
      sizeof h + h.registry_bytes + h.book_bytes != static_cast<uint64_t>(st.st_size)) {
    return DataLoss(path.string() + " is not whole (its length is not what its header says)");
  }
  // Read in pieces through a small buffer per section, each section on its own thread: loading
  // needs no memory for the file, and fresh memory is slow to touch for the first time on the
  // benchmark's VM (docs/benchmarks.md, "Start-up"). Each section is checked against its checksum
  // once read; what was decoded from a damaged one is dropped with it.
  // Each section's SHA-256 is computed as it is read, by the thread that decodes it.
  const auto source = [&](uint64_t offset, crypto::Sha256Hasher& sha256) {
    return [fd = fd.get(), offset, &sha256](char* out, size_t max) mutable -> size_t {
      ssize_t n;
      do {
        n = pread(fd, out, max, static_cast<off_t>(offset));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return 0;
      sha256.Update({out, static_cast<size_t>(n)});
      offset += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    };
  };
  const auto same = [](const std::string& computed, const unsigned char* expected) {
    return computed.size() == crypto::kSha256Size &&
           std::memcmp(computed.data(), expected, crypto::kSha256Size) == 0;
  };
  const auto damaged = [&](std::string_view what) {
    return DataLoss(path.string() + ": its " + std::string(what) + " is damaged");
  };
  const auto load_registry = [&]() -> Status {
    crypto::Sha256Hasher sha256;
    StateReader r(source(sizeof h, sha256), h.registry_bytes);
    if (!registry.LoadFrom(r) || r.left() != 0 || r.checksum() != h.registry_checksum ||
        !same(sha256.Finish(), h.registry_sha256)) {
      return damaged("registry");
    }
    return Status::Ok();
  };
  const auto load_book = [&]() -> Status {
    crypto::Sha256Hasher sha256;
    StateReader r(source(sizeof h + h.registry_bytes, sha256), h.book_bytes);
    const Status s = restorer.AddSavedDevices(r);
    if (!s.ok() || r.left() != 0 || r.checksum() != h.book_checksum ||
        !same(sha256.Finish(), h.book_sha256)) {
      return damaged("book");
    }
    return Status::Ok();
  };
  Status book_status;
  std::thread book_thread;
  try {
    book_thread = std::thread(
        [&] { book_status = CatchAtBoundary("reading the state file's book", load_book); });
  } catch (const std::system_error&) {
    book_status = CatchAtBoundary("reading the state file's book", load_book);
  }
  Status registry_status = CatchAtBoundary("reading the state file's registry", load_registry);
  if (book_thread.joinable()) book_thread.join();
  OUTPOST_RETURN_IF_ERROR(registry_status);
  return book_status;
}

}  // namespace outpost::server::licensing
