#pragma once

// The encrypted backup file (outpost/v1/backup.proto has the layout): scrypt derives a key from
// the operator's passphrase, AES-256-GCM encrypts the payload and authenticates the whole file.
// This file knows the format only; which files of a data directory go in, and how a restore
// writes them, is backup.h.
//
// Thread-safety: the functions share no state and may run concurrently.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "outpost/v1/backup.pb.h"

namespace outpost::server::backup {

inline constexpr std::string_view kMagic = "OPBACKUP";
inline constexpr uint32_t kFormatVersion = 1;

// scrypt cost. The default costs ~128 MiB and a fraction of a second, once per backup and once
// per restore. Reading accepts N from 2^10 to 2^22 (power of two), r 1..32, p 1..16, and at most
// 1 GiB of scrypt memory, so a crafted header cannot make a restore run for hours.
struct KdfParams {
  uint64_t n = uint64_t{1} << 17;
  uint32_t r = 8;
  uint32_t p = 1;
};

// One file to put in a backup: its content is read from `source` when the backup is written,
// and must still be `size` bytes then (a file that changes size meanwhile fails the backup).
struct SourceFile {
  std::string path;  // relative, '/'-separated, e.g. "keys/ca.key"
  std::filesystem::path source;
  uint32_t mode = 0600;
  uint64_t size = 0;
};

// Shortest passphrase accepted for a new backup.
inline constexpr size_t kMinPassphraseBytes = 8;

// Writes the backup of `files` with `manifest` (its `files` count is set here) to `out`, a new,
// empty file the caller opened for writing (it fsyncs and renames it). Errors: kInvalidArgument
// (passphrase too short, bad path), kFailedPrecondition (a file changed size while it was read),
// kInternal (I/O or OpenSSL).
Status WriteBackup(int out_fd, std::string_view passphrase, const KdfParams& kdf,
                   v1::BackupManifest manifest, const std::vector<SourceFile>& files);

// Receives the files of a backup as ReadBackup decrypts them. Nothing it receives is
// authenticated until ReadBackup returns Ok: a sink writes to a scratch place that the caller
// discards unless ReadBackup succeeds.
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual Status Begin(const v1::BackupFileEntry& entry) = 0;
  virtual Status Write(std::string_view bytes) = 0;
  virtual Status End() = 0;
};

// Reads `file`, decrypts it with `passphrase` and checks all of it: the format, the passphrase
// (a key check in the header), the length, the GCM tag over every byte, and the payload's
// structure (manifest first, safe relative paths, sizes and counts that add up). `sink`, when
// not null, gets each file's content as it is decrypted. Returns the manifest only when every
// check passed. Errors, each naming the file and what to do:
//   kNotFound        no such file;
//   kInvalidArgument not an Outpost backup (another kind of file);
//   kFailedPrecondition written by a newer outpost (unknown format, KDF or cipher);
//   kUnauthenticated the passphrase is wrong;
//   kDataLoss        truncated, or altered/damaged (the tag does not match), or a bad payload;
//   kInternal        I/O or OpenSSL failure; or the sink's own error.
Result<v1::BackupManifest> ReadBackup(const std::filesystem::path& file,
                                      std::string_view passphrase, FileSink* sink);

// A path a backup may hold: relative, '/'-separated, 1 to 3 components of [A-Za-z0-9._-], none
// of them "." or "..". Restores never write outside the directory they restore into.
bool IsSafeRelativePath(std::string_view path);

}  // namespace outpost::server::backup
