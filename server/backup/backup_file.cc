#include "server/backup/backup_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"

namespace outpost::server::backup {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr uint32_t kMaxRecordBytes = 64 * 1024;
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kMaxScryptMemory = uint64_t{1} << 30;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// Overwrites key material when it goes out of scope.
struct Secret {
  std::array<unsigned char, 2 * kKeyBytes> bytes{};
  ~Secret() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  const unsigned char* key() const { return bytes.data(); }
  std::string_view check() const {
    return {reinterpret_cast<const char*>(bytes.data()) + kKeyBytes, kKeyBytes};
  }
};

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

uint32_t ReadBigEndian32(std::string_view b) {
  return (uint32_t{static_cast<unsigned char>(b[0])} << 24) |
         (uint32_t{static_cast<unsigned char>(b[1])} << 16) |
         (uint32_t{static_cast<unsigned char>(b[2])} << 8) |
         uint32_t{static_cast<unsigned char>(b[3])};
}

Status CheckKdf(const KdfParams& k) {
  const bool power_of_two = k.n != 0 && (k.n & (k.n - 1)) == 0;
  if (!power_of_two || k.n < (1u << 10) || k.n > (1u << 22) || k.r < 1 || k.r > 32 || k.p < 1 ||
      k.p > 16 || 128 * k.n * k.r > kMaxScryptMemory) {
    return FailedPrecondition("scrypt parameters N=" + std::to_string(k.n) +
                              " r=" + std::to_string(k.r) + " p=" + std::to_string(k.p) +
                              " are outside what this outpost accepts");
  }
  return Status::Ok();
}

Status DeriveKey(std::string_view passphrase, std::string_view salt, const KdfParams& k,
                 Secret& out) {
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), k.n, k.r,
                     k.p, 128 * k.n * k.r + (1 << 20), out.bytes.data(), out.bytes.size()) != 1) {
    return Internal("scrypt failed (out of memory?)");
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal(std::string("cannot write the backup file: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Encrypts what it is given and writes it to the file.
class Encryptor {
 public:
  Encryptor(int fd, EVP_CIPHER_CTX* ctx) : fd_(fd), ctx_(ctx) {}
  Status Put(std::string_view plain) {
    while (!plain.empty()) {
      const size_t n = std::min(plain.size(), kChunk);
      out_.resize(n + 32);
      int len = 0;
      if (EVP_EncryptUpdate(ctx_, reinterpret_cast<unsigned char*>(out_.data()), &len,
                            reinterpret_cast<const unsigned char*>(plain.data()),
                            static_cast<int>(n)) != 1) {
        return Internal("AES-256-GCM encryption failed");
      }
      OUTPOST_RETURN_IF_ERROR(WriteAll(fd_, std::string_view(out_.data(), len)));
      written_ += n;
      plain.remove_prefix(n);
    }
    return Status::Ok();
  }
  uint64_t written() const { return written_; }

 private:
  int fd_;
  EVP_CIPHER_CTX* ctx_;
  std::string out_;
  uint64_t written_ = 0;
};

std::string Framed(const v1::BackupRecord& record) {
  const std::string bytes = record.SerializeAsString();
  return BigEndian32(static_cast<uint32_t>(bytes.size())) + bytes;
}

// The payload's structure, checked as it is decrypted.
class PayloadParser {
 public:
  PayloadParser(FileSink* sink, uint64_t payload_bytes) : sink_(sink), limit_(payload_bytes) {}

  Status Feed(std::string_view bytes) {
    while (!bytes.empty()) {
      if (state_ == State::kDone) {
        return DataLoss("there are bytes after the end record");
      }
      if (state_ == State::kContent) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        if (sink_ != nullptr) OUTPOST_RETURN_IF_ERROR(sink_->Write(bytes.substr(0, n)));
        remaining_ -= n;
        bytes.remove_prefix(n);
        if (remaining_ == 0) {
          if (sink_ != nullptr) OUTPOST_RETURN_IF_ERROR(sink_->End());
          state_ = State::kLength;
        }
        continue;
      }
      const size_t want = state_ == State::kLength ? 4 : record_length_;
      const size_t n = std::min(want - pending_.size(), bytes.size());
      pending_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (pending_.size() < want) continue;
      if (state_ == State::kLength) {
        record_length_ = ReadBigEndian32(pending_);
        pending_.clear();
        if (record_length_ == 0 || record_length_ > kMaxRecordBytes) {
          return DataLoss("a record length of " + std::to_string(record_length_) + " bytes");
        }
        state_ = State::kRecord;
      } else {
        v1::BackupRecord record;
        if (!record.ParseFromString(pending_)) return DataLoss("a record does not parse");
        pending_.clear();
        OUTPOST_RETURN_IF_ERROR(OnRecord(record));
      }
    }
    return Status::Ok();
  }

  Status Finish() const {
    if (state_ != State::kDone) return DataLoss("the payload ends before its end record");
    return Status::Ok();
  }
  const v1::BackupManifest& manifest() const { return manifest_; }

 private:
  enum class State { kLength, kRecord, kContent, kDone };

  Status OnRecord(const v1::BackupRecord& record) {
    const bool first = !have_manifest_;
    switch (record.kind_case()) {
      case v1::BackupRecord::kManifest:
        if (!first) return DataLoss("a second manifest");
        manifest_ = record.manifest();
        have_manifest_ = true;
        if (manifest_.files() < 1 || manifest_.files() > 1000) {
          return DataLoss("the manifest names " + std::to_string(manifest_.files()) + " files");
        }
        state_ = State::kLength;
        return Status::Ok();
      case v1::BackupRecord::kFile: {
        if (first) return DataLoss("a file before the manifest");
        const v1::BackupFileEntry& f = record.file();
        if (!IsSafeRelativePath(f.path())) {
          return DataLoss("a file with the unsafe path '" + f.path().substr(0, 80) + "'");
        }
        if ((f.mode() & ~0777u) != 0) return DataLoss("file " + f.path() + " has a bad mode");
        if (f.size() > limit_ || ++files_ > manifest_.files()) {
          return DataLoss("more or larger files than the manifest says");
        }
        file_bytes_ += f.size();
        if (sink_ != nullptr) OUTPOST_RETURN_IF_ERROR(sink_->Begin(f));
        remaining_ = f.size();
        state_ = State::kContent;
        if (remaining_ == 0) {
          if (sink_ != nullptr) OUTPOST_RETURN_IF_ERROR(sink_->End());
          state_ = State::kLength;
        }
        return Status::Ok();
      }
      case v1::BackupRecord::kEnd:
        if (first) return DataLoss("an end record before the manifest");
        if (record.end().files() != files_ || files_ != manifest_.files() ||
            record.end().file_bytes() != file_bytes_) {
          return DataLoss("the end record's counts do not match the files");
        }
        state_ = State::kDone;
        return Status::Ok();
      default:
        return DataLoss("a record of an unknown kind");
    }
  }

  FileSink* sink_;
  uint64_t limit_;
  State state_ = State::kLength;
  std::string pending_;
  uint32_t record_length_ = 0;
  uint64_t remaining_ = 0;
  bool have_manifest_ = false;
  v1::BackupManifest manifest_;
  int files_ = 0;
  uint64_t file_bytes_ = 0;
};

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

Status ReadExact(int fd, std::string& buffer, size_t n) {
  buffer.resize(n);
  size_t done = 0;
  while (done < n) {
    const ssize_t r = read(fd, buffer.data() + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Internal(std::string("read failed: ") + std::strerror(errno));
    if (r == 0) return DataLoss("the file ended early");
    done += static_cast<size_t>(r);
  }
  return Status::Ok();
}

}  // namespace

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 255) return false;
  int components = 0;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || ++components > 3) return false;
    for (char c : part) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

Status WriteBackup(int out_fd, std::string_view passphrase, const KdfParams& kdf,
                   v1::BackupManifest manifest, const std::vector<SourceFile>& files) {
  if (passphrase.size() < kMinPassphraseBytes) {
    return InvalidArgument("the passphrase has " + std::to_string(passphrase.size()) +
                           " characters; use at least " + std::to_string(kMinPassphraseBytes) +
                           " (a restore needs it: keep it apart from the backup)");
  }
  OUTPOST_RETURN_IF_ERROR(CheckKdf(kdf));
  manifest.set_files(static_cast<int32_t>(files.size()));

  // The payload's length goes into the (authenticated) header, so it is computed first.
  v1::BackupRecord manifest_record;
  *manifest_record.mutable_manifest() = manifest;
  std::vector<std::string> file_records;
  uint64_t payload = Framed(manifest_record).size();
  uint64_t file_bytes = 0;
  for (const SourceFile& f : files) {
    if (!IsSafeRelativePath(f.path)) return InvalidArgument("cannot back up path " + f.path);
    v1::BackupRecord r;
    r.mutable_file()->set_path(f.path);
    r.mutable_file()->set_mode(f.mode & 0777);
    r.mutable_file()->set_size(f.size);
    file_records.push_back(Framed(r));
    payload += file_records.back().size() + f.size;
    file_bytes += f.size;
  }
  v1::BackupRecord end;
  end.mutable_end()->set_files(static_cast<int32_t>(files.size()));
  end.mutable_end()->set_file_bytes(file_bytes);
  const std::string end_record = Framed(end);
  payload += end_record.size();

  v1::BackupHeader header;
  header.set_format_version(kFormatVersion);
  header.set_kdf("scrypt");
  header.set_scrypt_n(kdf.n);
  header.set_scrypt_r(kdf.r);
  header.set_scrypt_p(kdf.p);
  OUTPOST_ASSIGN_OR_RETURN(*header.mutable_salt(), crypto::RandomBytes(kSaltBytes));
  header.set_cipher("aes-256-gcm");
  OUTPOST_ASSIGN_OR_RETURN(*header.mutable_nonce(), crypto::RandomBytes(kNonceBytes));
  Secret secret;
  OUTPOST_RETURN_IF_ERROR(DeriveKey(passphrase, header.salt(), kdf, secret));
  header.set_key_check(crypto::Sha256(secret.check()));
  header.set_payload_bytes(payload);
  const std::string header_bytes = header.SerializeAsString();
  const std::string prefix =
      std::string(kMagic) + BigEndian32(static_cast<uint32_t>(header_bytes.size())) + header_bytes;
  OUTPOST_RETURN_IF_ERROR(WriteAll(out_fd, prefix));

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, secret.key(),
                         reinterpret_cast<const unsigned char*>(header.nonce().data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(prefix.data()),
                        static_cast<int>(prefix.size())) != 1) {
    return Internal("cannot set up AES-256-GCM");
  }
  Encryptor enc(out_fd, ctx.get());
  OUTPOST_RETURN_IF_ERROR(enc.Put(Framed(manifest_record)));
  std::string buffer;
  for (size_t i = 0; i < files.size(); ++i) {
    const SourceFile& f = files[i];
    OUTPOST_RETURN_IF_ERROR(enc.Put(file_records[i]));
    const int fd = open(f.source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Internal("cannot read " + f.source.string() + ": " + std::strerror(errno));
    }
    FdCloser closer{fd};
    uint64_t left = f.size;
    while (left > 0) {
      Status s = ReadExact(fd, buffer, static_cast<size_t>(std::min<uint64_t>(left, kChunk)));
      if (!s.ok()) {
        return FailedPrecondition(f.source.string() +
                                  " became shorter while it was being backed up; run the backup "
                                  "again");
      }
      OUTPOST_RETURN_IF_ERROR(enc.Put(buffer));
      left -= buffer.size();
    }
    char extra;
    if (read(fd, &extra, 1) != 0) {
      return FailedPrecondition(f.source.string() +
                                " changed while it was being backed up; run the backup again");
    }
  }
  OUTPOST_RETURN_IF_ERROR(enc.Put(end_record));
  if (enc.written() != payload) return Internal("backup payload length mismatch");
  unsigned char tag[kTagBytes];
  if (EVP_EncryptFinal_ex(ctx.get(), tag, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return Internal("AES-256-GCM finalisation failed");
  }
  return WriteAll(out_fd, std::string_view(reinterpret_cast<const char*>(tag), kTagBytes));
}

Result<v1::BackupManifest> ReadBackup(const std::filesystem::path& file,
                                      std::string_view passphrase, FileSink* sink) {
  const std::string name = file.string();
  const std::string again = "; take another copy of the backup from where it was stored";
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(name + ": no such file; give the backup file's path");
    return Internal("cannot open " + name + ": " + std::strerror(errno));
  }
  FdCloser closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument(name + " is not a regular file; give the backup file's path");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::string head;
  const size_t head_len = static_cast<size_t>(std::min<uint64_t>(size, kMagic.size() + 4));
  if (Status s = ReadExact(fd, head, head_len); !s.ok()) return s.WithContext(name);
  if (head.substr(0, std::min(head.size(), kMagic.size())) !=
      kMagic.substr(0, std::min(head.size(), kMagic.size()))) {
    std::string kind = "it does not begin with the backup marker";
    if (head.rfind("SQLite f", 0) == 0) kind = "it is an SQLite database";
    if (head.rfind("-----BEG", 0) == 0) kind = "it is an armored Outpost bundle or PEM file";
    return InvalidArgument(name + " is not an Outpost backup (" + kind +
                           "); give the file `outpost backup -o FILE` wrote");
  }
  if (head.size() < kMagic.size() + 4) {
    return DataLoss(name + " is truncated: it has only " + std::to_string(size) + " bytes" + again);
  }
  const uint32_t header_len = ReadBigEndian32(std::string_view(head).substr(kMagic.size()));
  if (header_len == 0 || header_len > kMaxHeaderBytes) {
    return DataLoss(name + " has a damaged header (length " + std::to_string(header_len) + ")" +
                    again);
  }
  if (size < kMagic.size() + 4 + header_len) {
    return DataLoss(name + " is truncated: it has " + std::to_string(size) +
                    " bytes, less than its header" + again);
  }
  std::string header_bytes;
  OUTPOST_RETURN_IF_ERROR(ReadExact(fd, header_bytes, header_len));
  v1::BackupHeader header;
  if (!header.ParseFromString(header_bytes)) {
    return DataLoss(name + " has a damaged header (it does not parse)" + again);
  }
  if (header.format_version() != kFormatVersion || header.kdf() != "scrypt" ||
      header.cipher() != "aes-256-gcm") {
    return FailedPrecondition(
        name + " was written by a newer outpost (backup format " +
        std::to_string(header.format_version()) + ", " + header.kdf() + ", " + header.cipher() +
        "; this outpost reads format 1 with scrypt and aes-256-gcm); restore it with that version");
  }
  const KdfParams kdf{header.scrypt_n(), header.scrypt_r(), header.scrypt_p()};
  if (Status s = CheckKdf(kdf); !s.ok()) {
    return DataLoss(name + " has a damaged header: " + s.message() + again);
  }
  if (header.salt().size() != kSaltBytes || header.nonce().size() != kNonceBytes ||
      header.key_check().size() != 32) {
    return DataLoss(name + " has a damaged header (salt, nonce or key check)" + again);
  }
  const uint64_t expected = kMagic.size() + 4 + header_len + header.payload_bytes() + kTagBytes;
  if (size < expected) {
    return DataLoss(name + " is truncated: it has " + std::to_string(size) +
                    " bytes, its header says " + std::to_string(expected) + again);
  }
  if (size > expected) {
    return DataLoss(name + " has " + std::to_string(size - expected) +
                    " bytes more than its header says: it was altered or appended to" + again);
  }
  Secret secret;
  OUTPOST_RETURN_IF_ERROR(DeriveKey(passphrase, header.salt(), kdf, secret));
  if (!crypto::ConstantTimeEquals(crypto::Sha256(secret.check()), header.key_check())) {
    return Unauthenticated("the passphrase is wrong for " + name +
                           " (or the file's header was altered); give the passphrase that was "
                           "used with `outpost backup`");
  }

  const std::string aad = head + header_bytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, secret.key(),
                         reinterpret_cast<const unsigned char*>(header.nonce().data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1) {
    return Internal("cannot set up AES-256-GCM");
  }
  PayloadParser parser(sink, header.payload_bytes());
  Status structure = Status::Ok();
  std::string in, plain;
  uint64_t left = header.payload_bytes();
  while (left > 0) {
    OUTPOST_RETURN_IF_ERROR(
        ReadExact(fd, in, static_cast<size_t>(std::min<uint64_t>(left, kChunk))));
    left -= in.size();
    plain.resize(in.size() + 32);
    if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size())) != 1) {
      return Internal("AES-256-GCM decryption failed");
    }
    // After a structural error keep decrypting: the tag decides whether it was tampering.
    if (structure.ok()) structure = parser.Feed(std::string_view(plain.data(), len));
    if (!structure.ok() && structure.code() != Errc::kDataLoss) return structure;  // the sink's
  }
  std::string tag;
  OUTPOST_RETURN_IF_ERROR(ReadExact(fd, tag, kTagBytes));
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len) != 1) {
    return DataLoss(name +
                    " was altered or damaged (its authentication tag does not match its "
                    "content); do not use it" +
                    again);
  }
  if (structure.ok()) structure = parser.Finish();
  if (!structure.ok()) {
    return DataLoss(name + " decrypts but its content is not a valid backup (" +
                    structure.message() + "); it was not written by `outpost backup`");
  }
  return parser.manifest();
}

}  // namespace outpost::server::backup
