#pragma once

// Archive files of the audit trail: sealed segments of the chain written by `outpost audit
// archive` and by the retention policy (archive.h), and their verification. The format is the
// AuditArchive message of proto/outpost/v1/audit.proto, written field by field (header, records,
// closing checkpoint) so that neither writing nor reading holds the segment in memory.
//
// Thread-safety: an ArchiveWriter is used by one thread; the functions may run concurrently.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.h"
#include "common/status.h"
#include "outpost/v1/audit.pb.h"
#include "server/audit/verify.h"

namespace outpost::server::audit {

inline constexpr std::string_view kArchiveFormat = "outpost/audit-archive/v1";
// The extension of archive files; `audit verify --archive DIR` reads the files with it.
inline constexpr std::string_view kArchiveExtension = ".outpost-audit";
// Largest encoded record accepted when reading (four fields of at most kMaxFieldBytes, hashes).
inline constexpr size_t kMaxArchiveRecordBytes = (size_t{4} << 20) + 4096;

// Writes one archive file: under a temporary name beside `path` (mode 0600: the records say who
// did what), fsynced, then linked into place (never replacing an existing file) and the directory
// fsynced. A writer destroyed before Finish() removes its temporary file and leaves no `path`.
class ArchiveWriter {
 public:
  // Errors: kAlreadyExists if `path` exists; kInternal (naming the path) if the temporary file
  // cannot be created, e.g. a missing or read-only directory.
  static Result<std::unique_ptr<ArchiveWriter>> Create(const std::filesystem::path& path,
                                                       const v1::AuditArchiveHeader& header);
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  Status Add(const v1::AuditArchiveRecord& record);
  // Writes the closing checkpoint and makes the file durable under its name.
  Status Finish(const v1::AuditArchiveSeal& checkpoint);
  uint64_t bytes() const { return bytes_; }

 private:
  ArchiveWriter(std::FILE* file, std::filesystem::path temp, std::filesystem::path path);
  Status WriteField(int field, const google::protobuf::MessageLite& message);

  std::FILE* file_;
  std::filesystem::path temp_path_;  // empty once finished
  std::filesystem::path path_;
  uint64_t bytes_ = 0;
};

// Reads an archive file in order, in constant memory. `on_record` may be empty (header and
// checkpoint only are then parsed, records skipped unparsed); returning an error stops the read.
// Errors: kNotFound; kInvalidArgument naming the file and byte offset when it is not an archive
// (truncated, garbled, fields out of order, a header or checkpoint missing or repeated).
struct ArchiveContents {
  v1::AuditArchiveHeader header;
  v1::AuditArchiveSeal checkpoint;
  int64_t records = 0;
};
Result<ArchiveContents> ReadArchive(
    const std::filesystem::path& path,
    const std::function<Status(const v1::AuditArchiveRecord&)>& on_record);

// Just the header (the first field), for sorting and listing.
Result<v1::AuditArchiveHeader> ReadArchiveHeader(const std::filesystem::path& path);

// The archive files named by `args`: a file as it is, a directory as every *.outpost-audit file
// in it. Errors: kNotFound naming a missing path or a directory without archives.
Result<std::vector<std::filesystem::path>> ExpandArchivePaths(const std::vector<std::string>& args);

// The outcome of verifying a set of archive files as one chain.
struct ArchiveChainReport {
  bool ok = false;
  int64_t files = 0;
  int64_t records = 0;  // records whose hash and link verified
  int64_t first_seq = 0;
  int64_t last_seq = 0;   // of the last file that verified
  std::string last_hash;  // raw; the hash of last_seq
  // The hash the chain holds at the seq asked for with `probe_seq`, if the files cover it.
  std::optional<std::string> probe_hash;
  // The last seq of each file that verified, with its hash (where a database's archived head
  // can be, when the database archived these very segments).
  std::map<int64_t, std::string> segment_ends;
  VerifyProblem problem_kind = VerifyProblem::kNone;
  int64_t first_bad_seq = 0;
  std::string problem;
  std::string problem_file;
};

// Verifies `files` (in any order: they are sorted by their first seq) as consecutive segments of
// one chain that starts at seq 1: every file readable; every record's seq, link and hash
// (chain.h); each file's closing checkpoint signed by `key` over its last record; each file's
// first record following the previous file's last (no segment missing, none repeated or
// overlapping); and, when `satellite_id` is not empty, every header naming it (else the file is
// another satellite's). Stops at the first problem, naming the file and the record.
ArchiveChainReport VerifyArchiveFiles(const std::vector<std::filesystem::path>& files,
                                      const crypto::PublicKey& key, std::string_view satellite_id,
                                      int64_t probe_seq = 0);

}  // namespace outpost::server::audit
