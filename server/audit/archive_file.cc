#include "server/audit/archive_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/crypto/encoding.h"
#include "common/time.h"
#include "server/audit/chain.h"

namespace outpost::server::audit {
namespace {

// Protobuf wire format: a length-delimited field is varint(field << 3 | 2), varint(length), bytes.
constexpr int kHeaderField = 1;
constexpr int kRecordField = 2;
constexpr int kCheckpointField = 3;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::string Errno() { return std::strerror(errno); }

Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Internal("cannot open directory " + dir.string() + ": " + Errno());
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Internal("cannot fsync directory " + dir.string() + ": " + Errno());
  return Status::Ok();
}

// Buffered reading of the fields of one archive file.
class FieldReader {
 public:
  FieldReader(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}

  // Reads the next field's number and length; false at a clean end of file.
  Result<bool> Next(int& field, uint64_t& length) {
    const int first = std::fgetc(file_);
    if (first == EOF) {
      if (std::ferror(file_)) return Internal("reading " + name_ + " failed: " + Errno());
      return false;
    }
    std::ungetc(first, file_);
    OUTPOST_ASSIGN_OR_RETURN(uint64_t tag, Varint());
    if ((tag & 7) != 2 || (tag >> 3) < 1 || (tag >> 3) > 3) {
      return Bad("an unexpected field (tag " + std::to_string(tag) + ")");
    }
    field = static_cast<int>(tag >> 3);
    OUTPOST_ASSIGN_OR_RETURN(length, Varint());
    return true;
  }

  Status Read(uint64_t length, std::string& out) {
    out.resize(length);
    if (length > 0 && std::fread(out.data(), 1, length, file_) != length) {
      return Bad("a field of " + std::to_string(length) + " bytes that the file ends inside " +
                 "(truncated)");
    }
    offset_ += length;
    return Status::Ok();
  }

  Status Skip(uint64_t length) {
    if (std::fseek(file_, static_cast<long>(length), SEEK_CUR) != 0) {
      return Internal("reading " + name_ + " failed: " + Errno());
    }
    offset_ += length;
    return Status::Ok();
  }

  Status Bad(const std::string& what) const {
    return InvalidArgument(name_ + " is not a whole audit archive: at byte " +
                           std::to_string(offset_) + " it has " + what +
                           "; use the file `outpost audit archive` wrote");
  }

 private:
  Result<uint64_t> Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const int c = std::fgetc(file_);
      if (c == EOF) return Bad("a field cut off (truncated)");
      ++offset_;
      value |= static_cast<uint64_t>(c & 0x7f) << shift;
      if ((c & 0x80) == 0) return value;
    }
    return Bad("a malformed length");
  }

  std::FILE* file_;
  std::string name_;
  uint64_t offset_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Result<std::unique_ptr<std::FILE, FileCloser>> OpenForReading(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) return NotFound("no such audit archive: " + path.string());
    return Internal("cannot open the audit archive " + path.string() + ": " + Errno());
  }
  std::unique_ptr<std::FILE, FileCloser> owned(file);
  if (std::setvbuf(file, nullptr, _IOFBF, 1 << 16) != 0) return owned;
  return owned;
}

}  // namespace

// --- Writing ------------------------------------------------------------------------------------

ArchiveWriter::ArchiveWriter(std::FILE* file, std::filesystem::path temp,
                             std::filesystem::path path)
    : file_(file), temp_path_(std::move(temp)), path_(std::move(path)) {}

ArchiveWriter::~ArchiveWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(temp_path_, ignored);
  }
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Create(const std::filesystem::path& path,
                                                             const v1::AuditArchiveHeader& header) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return AlreadyExists("the audit archive " + path.string() +
                         " already exists; choose another file (an archive is never replaced)");
  }
  std::string temp = path.string() + ".partial-XXXXXX";
  const int fd = mkstemp(temp.data());  // mode 0600
  if (fd < 0) {
    return Internal("cannot create the audit archive beside " + path.string() + ": " + Errno() +
                    " (does the directory exist, and may this user write it?)");
  }
  std::FILE* file = fdopen(fd, "wb");
  if (file == nullptr) {
    close(fd);
    std::filesystem::remove(temp, ec);
    return Internal("cannot write " + temp + ": " + Errno());
  }
  std::unique_ptr<ArchiveWriter> writer(new ArchiveWriter(file, temp, path));
  OUTPOST_RETURN_IF_ERROR(writer->WriteField(kHeaderField, header));
  return writer;
}

Status ArchiveWriter::WriteField(int field, const google::protobuf::MessageLite& message) {
  std::string bytes;
  AppendVarint(static_cast<uint64_t>(field) << 3 | 2, bytes);
  const size_t size = message.ByteSizeLong();
  AppendVarint(size, bytes);
  if (!message.AppendToString(&bytes)) return Internal("cannot encode an audit archive field");
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Internal("writing the audit archive " + path_.string() + " failed: " + Errno());
  }
  bytes_ += bytes.size();
  return Status::Ok();
}

Status ArchiveWriter::Add(const v1::AuditArchiveRecord& record) {
  return WriteField(kRecordField, record);
}

Status ArchiveWriter::Finish(const v1::AuditArchiveSeal& checkpoint) {
  OUTPOST_RETURN_IF_ERROR(WriteField(kCheckpointField, checkpoint));
  const std::string what = "writing the audit archive " + path_.string() + " failed: ";
  if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) return Internal(what + Errno());
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return Internal(what + Errno());
  // link() never replaces: an archive that appeared meanwhile is kept.
  if (link(temp_path_.c_str(), path_.c_str()) != 0) {
    if (errno == EEXIST) {
      return AlreadyExists("the audit archive " + path_.string() +
                           " appeared while it was being written; it was left as it is");
    }
    return Internal("cannot move the audit archive into place as " + path_.string() + ": " +
                    Errno());
  }
  std::error_code ignored;
  std::filesystem::remove(temp_path_, ignored);
  temp_path_.clear();
  return SyncDirectory(path_.parent_path());
}

// --- Reading ------------------------------------------------------------------------------------

Result<ArchiveContents> ReadArchive(
    const std::filesystem::path& path,
    const std::function<Status(const v1::AuditArchiveRecord&)>& on_record) {
  OUTPOST_ASSIGN_OR_RETURN(auto file, OpenForReading(path));
  FieldReader reader(file.get(), path.string());
  ArchiveContents out;
  bool have_header = false;
  bool have_checkpoint = false;
  std::string bytes;
  v1::AuditArchiveRecord record;
  while (true) {
    int field = 0;
    uint64_t length = 0;
    OUTPOST_ASSIGN_OR_RETURN(bool more, reader.Next(field, length));
    if (!more) break;
    if (have_checkpoint) return reader.Bad("data after the closing checkpoint");
    if (field == kHeaderField) {
      if (have_header) return reader.Bad("a second header");
      if (length > kMaxHeaderBytes) return reader.Bad("an oversized header");
      OUTPOST_RETURN_IF_ERROR(reader.Read(length, bytes));
      if (!out.header.ParseFromString(bytes)) return reader.Bad("a garbled header");
      if (out.header.format() != kArchiveFormat) {
        return reader.Bad("the format '" + out.header.format().substr(0, 64) + "', not '" +
                          std::string(kArchiveFormat) + "'");
      }
      have_header = true;
      continue;
    }
    if (!have_header) return reader.Bad("no header first");
    if (field == kRecordField) {
      if (length > kMaxArchiveRecordBytes) return reader.Bad("an oversized record");
      ++out.records;
      if (!on_record) {
        OUTPOST_RETURN_IF_ERROR(reader.Skip(length));
        continue;
      }
      OUTPOST_RETURN_IF_ERROR(reader.Read(length, bytes));
      if (!record.ParseFromString(bytes)) return reader.Bad("a garbled record");
      OUTPOST_RETURN_IF_ERROR(on_record(record));
      continue;
    }
    if (length > kMaxHeaderBytes) return reader.Bad("an oversized checkpoint");
    OUTPOST_RETURN_IF_ERROR(reader.Read(length, bytes));
    if (!out.checkpoint.ParseFromString(bytes)) return reader.Bad("a garbled checkpoint");
    have_checkpoint = true;
  }
  if (!have_header) return reader.Bad("no header (an empty file)");
  if (!have_checkpoint) return reader.Bad("no closing checkpoint at its end (truncated)");
  return out;
}

Result<v1::AuditArchiveHeader> ReadArchiveHeader(const std::filesystem::path& path) {
  OUTPOST_ASSIGN_OR_RETURN(auto file, OpenForReading(path));
  FieldReader reader(file.get(), path.string());
  int field = 0;
  uint64_t length = 0;
  OUTPOST_ASSIGN_OR_RETURN(bool more, reader.Next(field, length));
  if (!more || field != kHeaderField) return reader.Bad("no header first");
  if (length > kMaxHeaderBytes) return reader.Bad("an oversized header");
  std::string bytes;
  OUTPOST_RETURN_IF_ERROR(reader.Read(length, bytes));
  v1::AuditArchiveHeader header;
  if (!header.ParseFromString(bytes) || header.format() != kArchiveFormat) {
    return reader.Bad("a header that is not an audit archive's");
  }
  return header;
}

Result<std::vector<std::filesystem::path>> ExpandArchivePaths(
    const std::vector<std::string>& args) {
  std::vector<std::filesystem::path> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == kArchiveExtension) {
          found.push_back(entry.path());
        }
      }
      if (ec) return Internal("cannot list " + arg + ": " + ec.message());
      if (found.empty()) {
        return NotFound("the directory " + arg + " holds no audit archive (*" +
                        std::string(kArchiveExtension) + ")");
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      out.emplace_back(arg);
    } else {
      return NotFound("no such audit archive: " + arg);
    }
  }
  return out;
}

// --- Verifying ----------------------------------------------------------------------------------

namespace {

std::string Hex(std::string_view bytes) { return crypto::HexEncode(bytes); }

class ChainCheck {
 public:
  ChainCheck(const crypto::PublicKey& key, std::string_view satellite_id, int64_t probe_seq)
      : key_(key), key_id_(key.KeyId()), satellite_id_(satellite_id), probe_seq_(probe_seq) {}

  bool File(const std::filesystem::path& path, const v1::AuditArchiveHeader& expected) {
    file_ = path.string();
    const v1::AuditArchiveHeader& h = expected;
    if (!satellite_id_.empty() && h.satellite_id() != satellite_id_) {
      return Fail(VerifyProblem::kArchive, h.first_seq(),
                  file_ + " is an archive of satellite '" + h.satellite_id().substr(0, 64) +
                      "', not of this satellite " + std::string(satellite_id_) +
                      ": it does not belong to this audit trail");
    }
    if (h.first_seq() < 1 || h.last_seq() < h.first_seq()) {
      return Fail(VerifyProblem::kArchive, h.first_seq(),
                  file_ + " has a header naming records " + std::to_string(h.first_seq()) + " to " +
                      std::to_string(h.last_seq()) + ", which is no segment");
    }
    const int64_t expected_first = report_.files == 0 ? 1 : report_.last_seq + 1;
    if (h.first_seq() > expected_first) {
      return Fail(VerifyProblem::kMissing, expected_first,
                  "records " + std::to_string(expected_first) + " to " +
                      std::to_string(h.first_seq() - 1) + " are in none of the archives given (" +
                      file_ + " starts at " + std::to_string(h.first_seq()) +
                      "): an archive is missing");
    }
    if (h.first_seq() < expected_first) {
      return Fail(VerifyProblem::kArchive, h.first_seq(),
                  file_ + " starts at record " + std::to_string(h.first_seq()) +
                      ", which the previous archive " + previous_file_ +
                      " already holds: the same segment was given twice, or the archives "
                      "overlap");
    }
    if (report_.files == 0) {
      prev_hash_ = GenesisHash();
      report_.first_seq = h.first_seq();
    }
    if (h.prev_hash() != prev_hash_) {
      return Fail(VerifyProblem::kReordered, h.first_seq(),
                  file_ + " does not continue the chain: its first record (seq " +
                      std::to_string(h.first_seq()) + ") follows a record with hash " +
                      Hex(h.prev_hash()) + ", but record " + std::to_string(h.first_seq() - 1) +
                      " has hash " + Hex(prev_hash_));
    }
    next_seq_ = h.first_seq();
    return true;
  }

  Status Record(const v1::AuditArchiveRecord& r) {
    audit::Record record;
    record.seq = r.seq();
    record.time_ms = r.time_ms();
    record.actor = r.actor();
    record.action = r.action();
    record.object = r.object();
    record.details = r.details();
    record.prev_hash = prev_hash_;
    record.hash = r.hash();
    if (r.seq() != next_seq_) {
      return Stop(
          Fail(r.seq() > next_seq_ ? VerifyProblem::kMissing : VerifyProblem::kReordered, next_seq_,
               file_ + ": record " + std::to_string(next_seq_) + " is " +
                   (r.seq() > next_seq_ ? "missing" : "out of order") +
                   " (the next record in the file has seq " + std::to_string(r.seq()) + ")"));
    }
    if (ComputeRecordHash(record) != r.hash()) {
      return Stop(Fail(VerifyProblem::kChanged, r.seq(),
                       file_ + ": record " + std::to_string(r.seq()) +
                           " was changed: its contents do not hash to its stored hash " +
                           Hex(r.hash()) + " (or it does not follow the record before it)"));
    }
    if (r.seq() == probe_seq_) report_.probe_hash = r.hash();
    prev_hash_ = r.hash();
    ++next_seq_;
    ++file_records_;
    return Status::Ok();
  }

  bool Close(const ArchiveContents& contents) {
    const v1::AuditArchiveHeader& h = contents.header;
    const v1::AuditArchiveSeal& c = contents.checkpoint;
    if (next_seq_ != h.last_seq() + 1) {
      return Fail(VerifyProblem::kTruncated, next_seq_,
                  file_ + " ends at record " + std::to_string(next_seq_ - 1) +
                      " but its header says it holds records up to " +
                      std::to_string(h.last_seq()) + ": records were removed from it");
    }
    const std::string what =
        file_ + ": the closing checkpoint (signed " + FormatRfc3339Millis(c.time_ms()) + ")";
    if (c.seq() != h.last_seq()) {
      return Fail(VerifyProblem::kCheckpointMismatch, h.last_seq(),
                  what + " is of record " + std::to_string(c.seq()) + ", not of the last record " +
                      std::to_string(h.last_seq()));
    }
    if (c.key_id() != key_id_) {
      return Fail(VerifyProblem::kCheckpointKey, c.seq(),
                  what + " was signed by key " + c.key_id().substr(0, 64) +
                      ", not by this satellite's key " + key_id_ +
                      ": the archive is another satellite's, or verify with the key that signed "
                      "it");
    }
    if (!key_.Verify(kCheckpointDomain, CheckpointMessage(c.seq(), c.hash(), c.time_ms()),
                     c.signature())
             .ok()) {
      return Fail(VerifyProblem::kCheckpointSignature, c.seq(),
                  what + " has a signature that does not verify with key " + key_id_ +
                      ": it was forged or altered");
    }
    if (c.hash() != prev_hash_) {
      return Fail(VerifyProblem::kCheckpointMismatch, c.seq(),
                  what + " signs hash " + Hex(c.hash()) + " but record " + std::to_string(c.seq()) +
                      " has hash " + Hex(prev_hash_) +
                      ": the records were rewritten after they were sealed");
    }
    ++report_.files;
    report_.records += file_records_;
    file_records_ = 0;
    report_.last_seq = h.last_seq();
    report_.last_hash = prev_hash_;
    report_.segment_ends[h.last_seq()] = prev_hash_;
    previous_file_ = file_;
    return true;
  }

  bool Unreadable(const std::filesystem::path& path, const Status& status) {
    file_ = path.string();
    return Fail(VerifyProblem::kArchive, next_seq_, status.message());
  }

  // After a failure inside ReadArchive: the failure is already in the report.
  bool failed() const { return report_.problem_kind != VerifyProblem::kNone; }

  ArchiveChainReport Finish() && {
    report_.ok = !failed() && report_.files > 0;
    if (report_.files == 0 && !failed()) {
      report_.problem_kind = VerifyProblem::kArchive;
      report_.problem = "no audit archive was given";
    }
    return std::move(report_);
  }

 private:
  bool Fail(VerifyProblem kind, int64_t seq, std::string problem) {
    if (failed()) return false;
    report_.problem_kind = kind;
    report_.first_bad_seq = seq;
    report_.problem = std::move(problem);
    report_.problem_file = file_;
    return false;
  }
  static Status Stop(bool) { return DataLoss("stopped at the first problem"); }

  const crypto::PublicKey& key_;
  const std::string key_id_;
  std::string_view satellite_id_;
  int64_t probe_seq_;
  ArchiveChainReport report_;
  std::string file_;
  std::string previous_file_;
  std::string prev_hash_ = GenesisHash();
  int64_t next_seq_ = 1;
  int64_t file_records_ = 0;
};

}  // namespace

ArchiveChainReport VerifyArchiveFiles(const std::vector<std::filesystem::path>& files,
                                      const crypto::PublicKey& key, std::string_view satellite_id,
                                      int64_t probe_seq) {
  ChainCheck check(key, satellite_id, probe_seq);
  // Sorted by their first record, so the order given (or a directory's) does not matter.
  std::vector<std::pair<v1::AuditArchiveHeader, std::filesystem::path>> sorted;
  for (const auto& path : files) {
    auto header = ReadArchiveHeader(path);
    if (!header.ok()) {
      check.Unreadable(path, header.status());
      return std::move(check).Finish();
    }
    sorted.emplace_back(std::move(*header), path);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first.first_seq() < b.first.first_seq();
  });
  for (const auto& [header, path] : sorted) {
    if (!check.File(path, header)) break;
    auto contents =
        ReadArchive(path, [&](const v1::AuditArchiveRecord& r) { return check.Record(r); });
    if (check.failed()) break;
    if (!contents.ok()) {
      check.Unreadable(path, contents.status());
      break;
    }
    if (contents->header.SerializeAsString() != header.SerializeAsString()) {
      check.Unreadable(path, InvalidArgument(path.string() + " changed while it was verified"));
      break;
    }
    if (!check.Close(*contents)) break;
  }
  return std::move(check).Finish();
}

}  // namespace outpost::server::audit
