// `outpost audit ...`: export and verify the audit trail, on a running satellite
// (/v1/admin/audit/...) or, for `verify --db`, on a database file.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/output.h"
#include "common/crypto/encoding.h"
#include "common/crypto/keys.h"
#include "common/crypto/secure_file.h"
#include "common/proto_json.h"
#include "common/sqlite/connection.h"
#include "common/time.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/common.pb.h"
#include "outpost/v1/satellite_sync.pb.h"
#include "outpost/v1/sync.pb.h"
#include "server/audit/archive.h"
#include "server/audit/archive_file.h"
#include "server/audit/audit_proto.h"
#include "server/audit/evidence.h"
#include "server/audit/verify.h"
#include "server/data_dir.h"
#include "server/store/meta.h"

namespace outpost::cli {
namespace {

constexpr int64_t kDefaultPageRecords = 5000;
constexpr int64_t kMaxPageRecords = 10'000;  // the satellite's limit
constexpr size_t kMaxPublicKeyFileBytes = 64 * 1024;

struct AuditFlags {
  ConnectionFlags connection;
  // export
  std::string since;
  std::string until;
  std::string actor;
  std::string action;
  std::string device;
  std::string format = "jsonl";
  std::string output;
  bool force = false;
  int64_t page_records = kDefaultPageRecords;
  // verify, checkpoints, compare-heads
  std::string db;
  std::string public_key;
  std::string heads_file;             // compare-heads
  std::string since_checkpoint;       // verify: a head saved earlier (JSON)
  std::string reason;                 // acknowledge-alarm
  std::vector<std::string> archives;  // verify: archive files or directories
  std::string before;                 // archive
};

// Where an export goes: standard output, or FILE. A file is written under a temporary name in
// the same directory and renamed into place only when the export is complete, so a failed
// export never leaves a truncated file that looks like a whole one (nor clobbers an old one).
class ExportOutput {
 public:
  static Result<std::unique_ptr<ExportOutput>> Open(const std::string& path) {
    if (path.empty() || path == "-") {
      return std::unique_ptr<ExportOutput>(new ExportOutput(STDOUT_FILENO, "", ""));
    }
    std::string temp = path + ".partial-XXXXXX";
    // mkstemp creates the file with mode 0600: audit records say who did what.
    const int fd = mkstemp(temp.data());
    if (fd < 0) {
      return InvalidArgument("cannot create a file beside " + path + ": " + std::strerror(errno));
    }
    return std::unique_ptr<ExportOutput>(new ExportOutput(fd, temp, path));
  }

  ~ExportOutput() {
    if (!temp_path_.empty()) {
      close(fd_);
      std::error_code ignored;
      std::filesystem::remove(temp_path_, ignored);
    }
  }

  Status Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Internal("writing the export to " + Name() + " failed: " + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(n));
      bytes_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  // Makes a file export durable and gives it its name.
  Status Commit() {
    if (temp_path_.empty()) return Status::Ok();
    if (fsync(fd_) != 0 || close(fd_) != 0) {
      return Internal("writing the export to " + final_path_ + " failed: " + std::strerror(errno));
    }
    if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      const std::string error = std::strerror(errno);
      std::filesystem::remove(temp_path_);
      temp_path_.clear();
      return Internal("cannot move the export into place as " + final_path_ + ": " + error);
    }
    temp_path_.clear();
    return Status::Ok();
  }

  uint64_t bytes() const { return bytes_; }

 private:
  ExportOutput(int fd, std::string temp_path, std::string final_path)
      : fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {}
  std::string Name() const { return final_path_.empty() ? "standard output" : final_path_; }

  int fd_;
  std::string temp_path_;  // empty for stdout, and once committed
  std::string final_path_;
  uint64_t bytes_ = 0;
};

// The satellite names its query parameters ("query parameter 'since'"); the operator typed
// flags (--since).
Status InTermsOfFlags(const Status& status) {
  std::string message = status.message();
  const std::string kPrefix = "query parameter '";
  if (size_t at = message.find(kPrefix); at != std::string::npos) {
    const size_t close = message.find('\'', at + kPrefix.size());
    if (close != std::string::npos) {
      const std::string name = message.substr(at + kPrefix.size(), close - at - kPrefix.size());
      message.replace(at, close + 1 - at, "--" + name);
    }
  }
  return Status(status.code(), std::move(message));
}

// The records route answers one page; follow x-outpost-next-after while x-outpost-more says so.
// Each page is written out before the next is asked for, so memory stays at one page.
int RunExport(const GlobalFlags&, const AuditFlags& f) {
  // Checked before anything else, like `sync export -o`: an existing file is refused unless
  // --force, so a typo cannot replace yesterday's export.
  if (!f.output.empty() && f.output != "-" && !f.force) {
    std::error_code ec;
    if (std::filesystem::exists(f.output, ec)) {
      return Fail(AlreadyExists(f.output + " already exists; choose another file, or pass --force "
                                           "to replace it (only once the new export is complete)"));
    }
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  std::string base = "/v1/admin/audit/records?format=" + UrlEncode(f.format) +
                     "&limit=" + std::to_string(f.page_records);
  for (const auto& [name, value] : {std::pair<std::string, std::string>{"since", f.since},
                                    {"until", f.until},
                                    {"actor", f.actor},
                                    {"action", f.action},
                                    {"device", f.device}}) {
    if (!value.empty()) base += "&" + name + "=" + UrlEncode(value);
  }
  const std::string accept = f.format == "csv" ? "text/csv" : "application/x-ndjson";

  auto out = ExportOutput::Open(f.output);
  if (!out.ok()) return Fail(out.status());
  int64_t after = 0;
  for (;;) {
    auto page = (*client)->Get(base + "&after=" + std::to_string(after), accept);
    if (!page.ok()) return Fail(InTermsOfFlags(page.status()));
    if (auto s = (*out)->Write(page->body); !s.ok()) return Fail(s);
    const auto more = page->headers.find("x-outpost-more");
    const auto next = page->headers.find("x-outpost-next-after");
    if (more == page->headers.end() || next == page->headers.end()) {
      return Fail(
          Internal("the satellite's answer lacks the x-outpost-more and "
                   "x-outpost-next-after paging headers; is it an older version?"));
    }
    if (more->second != "true") break;
    char* end = nullptr;
    const long long next_after = std::strtoll(next->second.c_str(), &end, 10);
    if (next->second.empty() || *end != '\0' || next_after <= after) {
      return Fail(Internal("the satellite's paging did not advance (x-outpost-next-after: " +
                           Printable(next->second) + " after " + std::to_string(after) + ")"));
    }
    after = next_after;
  }
  if (auto s = (*out)->Commit(); !s.ok()) return Fail(s);
  if (!f.output.empty() && f.output != "-") {
    std::cout << "Exported the audit trail to " << f.output << " ("
              << Plural(static_cast<int64_t>((*out)->bytes()), "byte") << ", " << f.format << ")\n";
  }
  return kExitOk;
}

// Which key a local verification checked the checkpoints with, and where it came from.
struct KeyNote {
  std::string key;      // "key id ..., fingerprint ..."
  std::string source;   // the flag or file
  std::string warning;  // "" or why the key deserves a second look
};

// The head an auditor saved earlier (`outpost audit head --json > FILE`, or `audit checkpoint
// --json`), which the chain must still hold. Checked here too, so a bad file fails before any
// request.
Result<v1::AuditHead> ReadSavedHead(const std::string& path) {
  constexpr size_t kMaxSavedHeadBytes = 64 * 1024;
  auto text = crypto::ReadSmallFile(path, kMaxSavedHeadBytes);
  if (!text.ok()) return text.status().WithContext("--since-checkpoint");
  v1::AuditHead head;
  if (auto s = FromJson(*text, &head); !s.ok()) {
    return InvalidArgument("--since-checkpoint " + path + " is not a saved audit head (" +
                           s.message() + "); save one with `outpost audit head --json > FILE`");
  }
  OUTPOST_RETURN_IF_ERROR(
      server::audit::SavedHeadFromProto(head, "--since-checkpoint " + path).status());
  return head;
}

// Prints a verification answer; exit status 1 when the trail did not verify.
int ReportVerify(const GlobalFlags& g, const v1::AuditVerifyResponse& report,
                 const std::optional<KeyNote>& key) {
  if (g.json) {
    PrintJson(report);
    if (key) std::cerr << "checkpoint key: " << key->key << " (from " << key->source << ")\n";
  } else {
    std::cout << (report.ok() ? "Audit trail verified: no record changed, missing or reordered"
                              : "Audit trail verification FAILED")
              << "\n";
    std::vector<std::pair<std::string, std::string>> fields = {
        {"records checked", std::to_string(report.records_checked())},
        {"checkpoints checked", std::to_string(report.checkpoints_checked())},
        {"head", "seq " + std::to_string(report.last_seq()) + ", hash " + report.head_hash()},
        {"checkpoint key",
         key ? key->key : "fingerprint " + OrDefault(report.key_fingerprint(), "-")}};
    if (key) fields.emplace_back("key from", key->source);
    if (report.archived_seq() > 0) {
      fields.emplace_back("archived", "records 1 to " + std::to_string(report.archived_seq()) +
                                          " are archived in sealed segments; chain verified "
                                          "from seq " +
                                          std::to_string(report.archived_seq() + 1));
    }
    if (report.archive_files_checked() > 0) {
      fields.emplace_back("archives checked",
                          Plural(report.archive_files_checked(), "file") + ", " +
                              Plural(report.archive_records_checked(), "record"));
    }
    if (report.saved_head_seq() > 0) {
      fields.emplace_back("extends saved head", "seq " + std::to_string(report.saved_head_seq()) +
                                                    " (the record there has the saved hash)");
    }
    if (!report.ok()) {
      fields.emplace_back("first bad record", "seq " + std::to_string(report.first_bad_seq()) +
                                                  " (" + report.problem_kind() + ")");
      fields.emplace_back("problem", report.problem());
      if (!report.problem_file().empty()) fields.emplace_back("in file", report.problem_file());
    }
    PrintFields(std::cout, fields);
  }
  if (key && !key->warning.empty()) std::cerr << "note: " << key->warning << "\n";
  if (report.ok()) return kExitOk;
  return Fail(DataLoss("the audit trail failed verification: first bad record seq " +
                       std::to_string(report.first_bad_seq()) + " (" + report.problem_kind() +
                       "): " + report.problem()));
}

// --archive FILE|DIR...: verified here, with the satellite's key, as one chain.
Result<server::audit::ArchiveChainReport> VerifyArchives(const AuditFlags& f,
                                                         const crypto::PublicKey& key,
                                                         const std::string& satellite_id,
                                                         int64_t probe_seq) {
  OUTPOST_ASSIGN_OR_RETURN(auto paths, server::audit::ExpandArchivePaths(f.archives));
  return server::audit::VerifyArchiveFiles(paths, key, satellite_id, probe_seq);
}

v1::AuditHead ToHead(const server::audit::SavedHead& head) {
  v1::AuditHead out;
  out.set_seq(head.seq);
  out.set_hash(crypto::HexEncode(head.hash));
  return out;
}

struct CheckpointKey {
  std::optional<crypto::PublicKey> key;
  std::string source;
  std::string warning;
};

// The key the checkpoints must be signed with: --public-key, else the signing key of --data-dir
// (or OUTPOST_DATA_DIR), else the public key the database itself records.
Result<CheckpointKey> ChooseCheckpointKey(const AuditFlags& f, sqlite::Connection* db) {
  CheckpointKey out;
  if (!f.public_key.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(std::string pem,
                             crypto::ReadSmallFile(f.public_key, kMaxPublicKeyFileBytes));
    auto key = crypto::PublicKey::FromPem(pem);
    if (!key.ok()) {
      return key.status().WithContext("--public-key " + f.public_key +
                                      " must hold a PEM public key (BEGIN PUBLIC KEY)");
    }
    out.key = std::move(*key);
    out.source = "--public-key " + f.public_key;
    return out;
  }
  std::string data_dir = f.connection.data_dir;
  std::string data_dir_source = "--data-dir";
  if (data_dir.empty()) {
    if (const char* env = std::getenv("OUTPOST_DATA_DIR"); env != nullptr) data_dir = env;
    data_dir_source = "OUTPOST_DATA_DIR";
  }
  if (!data_dir.empty()) {
    const server::DataDir dir(data_dir);
    auto key = crypto::PrivateKey::LoadFile(dir.signing_key());
    if (!key.ok()) {
      return key.status().WithContext("the signing key of " + data_dir_source + " " + data_dir +
                                      " (or pass --public-key FILE)");
    }
    out.key = key->public_key();
    out.source = dir.signing_key().string();
    return out;
  }
  if (db == nullptr) {
    return InvalidArgument(
        "verifying archive files needs the satellite's public signing key: pass --public-key "
        "FILE (e.g. a copy of DIR/keys/signing.pub kept off the appliance) or --data-dir DIR");
  }
  auto stored = server::store::kSatelliteMeta.Get(*db, server::store::kMetaSigningPublicKey);
  if (!stored.ok()) {
    return stored.status().WithContext(
        "reading the signing key the database records (is --db a satellite's outpost.db?)");
  }
  if (!stored->has_value()) {
    return InvalidArgument(
        "the database does not record the satellite's public signing key: pass --public-key "
        "FILE, or --data-dir DIR to use DIR/keys/signing.key");
  }
  auto key = crypto::PublicKey::FromPem(**stored);
  if (!key.ok()) return key.status().WithContext("the public signing key stored in the database");
  out.key = std::move(*key);
  out.source = "the database itself (satellite_meta.signing_public_key)";
  out.warning =
      "the checkpoint key came from the database being verified, and whoever can rewrite the "
      "database can replace it: compare its fingerprint with the signing key fingerprint "
      "`outpost init` printed, or pass --public-key FILE or --data-dir DIR";
  return out;
}

// --db FILE opened read-only, for the commands that work with the satellite stopped.
Result<sqlite::Connection> OpenDatabaseFile(const AuditFlags& f) {
  if (!std::filesystem::is_regular_file(f.db)) {
    return NotFound("--db " + f.db + ": no such database file");
  }
  sqlite::OpenOptions options;
  options.mode = sqlite::OpenMode::kReadOnly;
  auto db = sqlite::Connection::Open(f.db, options);
  if (!db.ok()) return db.status().WithContext("opening --db " + f.db);
  return std::move(*db);
}

int RunVerifyOnline(const GlobalFlags& g, const AuditFlags& f) {
  v1::AuditHead saved;  // seq 0: none
  if (!f.since_checkpoint.empty()) {
    auto read = ReadSavedHead(f.since_checkpoint);
    if (!read.ok()) return Fail(read.status());
    saved = std::move(*read);
  }
  std::optional<server::audit::ArchiveChainReport> archives;
  std::optional<KeyNote> note;
  if (!f.archives.empty()) {
    auto key = ChooseCheckpointKey(f, nullptr);
    if (!key.ok()) return Fail(key.status());
    auto chain = VerifyArchives(f, *key->key, "", 0);
    if (!chain.ok()) return Fail(chain.status());
    archives = std::move(*chain);
    if (auto end = server::audit::ArchivesEnd(*archives); end && saved.seq() == 0) {
      saved = ToHead(*end);
    }
    note = KeyNote{"key id " + key->key->KeyId() + ", fingerprint " + key->key->Fingerprint(),
                   key->source, key->warning};
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::AuditVerifyResponse report;
  if (auto s = (*client)->Call("POST", "/v1/admin/audit/verify", saved, &report); !s.ok()) {
    return Fail(s);
  }
  if (archives) server::audit::CombineWithArchives(report, *archives);
  return ReportVerify(g, report, note);
}

int RunVerifyDatabase(const GlobalFlags& g, const AuditFlags& f) {
  std::optional<server::audit::SavedHead> saved;
  if (!f.since_checkpoint.empty()) {
    auto read = ReadSavedHead(f.since_checkpoint);
    if (!read.ok()) return Fail(read.status());
    auto parsed =
        server::audit::SavedHeadFromProto(*read, "the saved head in " + f.since_checkpoint);
    if (!parsed.ok()) return Fail(parsed.status());
    saved = std::move(*parsed);
  }
  auto db = OpenDatabaseFile(f);
  if (!db.ok()) return Fail(db.status());
  auto key = ChooseCheckpointKey(f, &*db);
  if (!key.ok()) return Fail(key.status());
  std::optional<server::audit::ArchiveChainReport> archives;
  if (!f.archives.empty()) {
    auto satellite_id = server::audit::StoredSatelliteId(*db);
    if (!satellite_id.ok()) return Fail(satellite_id.status().WithContext("reading " + f.db));
    auto archived = server::audit::ReadArchivedHead(*db);
    if (!archived.ok()) return Fail(archived.status().WithContext("reading " + f.db));
    auto chain = VerifyArchives(f, *key->key, *satellite_id, archived->last_seq);
    if (!chain.ok()) return Fail(chain.status());
    archives = std::move(*chain);
    if (!saved) saved = server::audit::ArchivesEnd(*archives);
  }
  auto report = server::audit::Verify(*db, *key->key, saved.has_value() ? &*saved : nullptr);
  if (!report.ok()) return Fail(report.status().WithContext("verifying " + f.db));
  KeyNote note{"key id " + key->key->KeyId() + ", fingerprint " + key->key->Fingerprint(),
               key->source, key->warning};
  v1::AuditVerifyResponse proto = server::audit::ToProto(*report);
  if (archives) server::audit::CombineWithArchives(proto, *archives);
  return ReportVerify(g, proto, note);
}

int RunVerify(const GlobalFlags& g, const AuditFlags& f) {
  return f.db.empty() ? RunVerifyOnline(g, f) : RunVerifyDatabase(g, f);
}

int PrintCheckpoints(const GlobalFlags& g, const v1::AuditCheckpointList& list,
                     const std::string& key_source) {
  int bad = 0;
  for (const auto& c : list.checkpoints()) bad += c.verified() ? 0 : 1;
  if (g.json) {
    PrintJson(list);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : list.checkpoints()) {
      rows.push_back({std::to_string(c.seq()), c.time(), c.hash(), c.key_id(), c.signature(),
                      c.verified() ? "ok" : c.problem()});
    }
    PrintTable(std::cout, {"SEQ", "SIGNED", "HASH", "KEY", "SIGNATURE (Ed25519, hex)", "CHECK"},
               rows);
    std::cout << Plural(list.checkpoints_size(), "checkpoint") << ", checked with key "
              << list.key_id() << " (fingerprint " << list.key_fingerprint() << ")"
              << (key_source.empty() ? "" : " from " + key_source) << "\n";
  }
  if (bad == 0) return kExitOk;
  return Fail(DataLoss(Plural(bad, "checkpoint") + " did not verify; run `outpost audit verify` "
                                                   "to find the first bad record"));
}

int RunCheckpoints(const GlobalFlags& g, const AuditFlags& f) {
  if (!f.db.empty()) {
    auto db = OpenDatabaseFile(f);
    if (!db.ok()) return Fail(db.status());
    auto key = ChooseCheckpointKey(f, &*db);
    if (!key.ok()) return Fail(key.status());
    auto list = server::audit::ListCheckpoints(*db, *key->key);
    if (!list.ok()) return Fail(list.status().WithContext("reading " + f.db));
    if (!key->warning.empty()) std::cerr << "note: " << key->warning << "\n";
    return PrintCheckpoints(g, *list, key->source);
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::AuditCheckpointList list;
  if (auto s = (*client)->Call("GET", "/v1/admin/audit/checkpoints", v1::Empty(), &list); !s.ok()) {
    return Fail(s);
  }
  return PrintCheckpoints(g, list, "");
}

// What `outpost central audit-heads SATELLITE -o FILE` wrote (JSON).
Result<v1::CentralAuditHeadList> ReadHeadsFile(const std::string& path) {
  constexpr size_t kMaxHeadsFileBytes = size_t{64} << 20;
  auto text = crypto::ReadSmallFile(path, kMaxHeadsFileBytes);
  if (!text.ok()) return text.status().WithContext("the heads file");
  v1::CentralAuditHeadList heads;
  if (auto s = FromJson(*text, &heads); !s.ok()) {
    return InvalidArgument(path + " is not a list of audit heads from central (" + s.message() +
                           "); the vendor writes it with `outpost central audit-heads SATELLITE "
                           "-o FILE --data-dir DIR`");
  }
  return heads;
}

int PrintComparison(const GlobalFlags& g, const v1::AuditCompareHeadsResponse& report) {
  if (g.json) {
    PrintJson(report);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : report.heads()) {
      rows.push_back({std::to_string(h.request_sequence()), std::to_string(h.seq()), h.result(),
                      h.central_hash(), OrDefault(h.problem(), "-")});
    }
    PrintTable(std::cout, {"REQUEST", "SEQ", "RESULT", "HASH AT CENTRAL", "PROBLEM"}, rows);
    std::cout << (report.ok() ? "Every head central holds matches the local audit trail"
                              : "The local audit trail does NOT match what central holds")
              << ": " << report.heads_matched() << " of " << Plural(report.heads_compared(), "head")
              << " matched (satellite " << report.satellite_id() << ", local head seq "
              << report.local_last_seq() << ", key fingerprint " << report.key_fingerprint()
              << ")\n";
  }
  if (report.ok()) return kExitOk;
  return Fail(DataLoss(std::to_string(report.heads_compared() - report.heads_matched()) + " of " +
                       Plural(report.heads_compared(), "head") +
                       " central holds do not match the local audit trail: records were removed "
                       "or rewritten after they were sent to central"));
}

int RunCompareHeads(const GlobalFlags& g, const AuditFlags& f) {
  auto heads = ReadHeadsFile(f.heads_file);
  if (!heads.ok()) return Fail(heads.status());
  if (!f.db.empty()) {
    auto db = OpenDatabaseFile(f);
    if (!db.ok()) return Fail(db.status());
    auto key = ChooseCheckpointKey(f, &*db);
    if (!key.ok()) return Fail(key.status());
    if (!key->warning.empty()) std::cerr << "note: " << key->warning << "\n";
    auto report = server::audit::CompareHeads(*db, *heads, *key->key);
    if (!report.ok()) return Fail(report.status());
    return PrintComparison(g, *report);
  }
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::AuditCompareHeadsResponse report;
  if (auto s = (*client)->Call("POST", "/v1/admin/audit/compare-heads", *heads, &report); !s.ok()) {
    return Fail(s);
  }
  return PrintComparison(g, report);
}

// head and checkpoint: one call answered by the chain's head.
int RunHead(const GlobalFlags& g, const AuditFlags& f, std::string_view method,
            const std::string& target, std::string_view title) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::AuditHead head;
  if (auto s = (*client)->Call(method, target, v1::Empty(), &head); !s.ok()) return Fail(s);
  if (g.json) {
    PrintJson(head);
    return kExitOk;
  }
  std::cout << title << "\n";
  PrintFields(std::cout, {{"seq", std::to_string(head.seq())},
                          {"hash", head.hash()},
                          {"time", OrDefault(head.time(), "(empty log)")}});
  return kExitOk;
}

int RunAcknowledgeAlarm(const GlobalFlags& g, const AuditFlags& f) {
  auto client = ConnectToSatellite(f.connection);
  if (!client.ok()) return Fail(client.status());
  v1::AcknowledgeAuditAlarmRequest request;
  request.set_reason(f.reason);
  v1::SyncStatus status;
  if (auto s = (*client)->Call("POST", "/v1/admin/audit/alarm/acknowledge", request, &status);
      !s.ok()) {
    return Fail(s);
  }
  if (g.json) {
    PrintJson(status);
  } else {
    std::cout << "Acknowledged the AUDIT_TRUNCATED alarm; the reason is in the audit trail "
                 "(audit.witness.acknowledge). The same central head will not raise it again.\n";
  }
  return kExitOk;
}

// `audit archive`: seal, write the file (durable under its name), and only then commit, which
// removes the records. Every step may be repeated: a file already holding exactly the sealed
// segment (a run interrupted before its commit) is kept and committed.
int RunArchive(const GlobalFlags& g, const AuditFlags& f) {
  auto before = ParseRfc3339(f.before);
  if (!before.ok()) return Fail(before.status().WithContext("--before"));
  const std::filesystem::path path = f.output;
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (!exists) {
    if (auto s = crypto::CheckWritable(path, crypto::IfExists::kFail); !s.ok()) return Fail(s);
  }
  // Removing millions of records takes a while: the satellite answers once they are gone.
  auto client = ConnectToSatellite(f.connection, std::chrono::minutes(30));
  if (!client.ok()) return Fail(client.status());
  v1::AuditArchiveSealRequest request;
  request.set_before_ms(server::audit::ToUnixMillis(*before));
  v1::AuditArchiveSegment segment;
  if (auto s = (*client)->Call("POST", "/v1/admin/audit/archive/seal", request, &segment);
      !s.ok()) {
    return Fail(s);
  }
  const v1::AuditArchiveHeader& header = segment.header();
  if (header.last_seq() == 0) {
    if (g.json) {
      PrintJson(v1::AuditArchiveCommitResponse());
    } else {
      std::cout << "Nothing to archive: every audit record before " << f.before
                << " is archived already (or there is none)\n";
    }
    return kExitOk;
  }
  bool reused = false;
  if (exists) {
    auto contents = server::audit::ReadArchive(path, nullptr);
    if (!contents.ok() || contents->header.first_seq() != header.first_seq() ||
        contents->header.last_seq() != header.last_seq() ||
        contents->checkpoint.SerializeAsString() != segment.checkpoint().SerializeAsString()) {
      return Fail(AlreadyExists(
          f.output + " already exists and does not hold the segment to archive (records " +
          std::to_string(header.first_seq()) + " to " + std::to_string(header.last_seq()) +
          "); choose another file: an archive is never replaced"));
    }
    reused = true;
  }
  uint64_t bytes = 0;
  if (!reused) {
    auto writer = server::audit::ArchiveWriter::Create(path, header);
    if (!writer.ok()) return Fail(writer.status());
    int64_t after = header.first_seq() - 1;
    while (after < header.last_seq()) {
      v1::AuditArchive page;
      const std::string target = "/v1/admin/audit/archive/records?after=" + std::to_string(after) +
                                 "&through=" + std::to_string(header.last_seq()) +
                                 "&limit=" + std::to_string(f.page_records);
      if (auto s = (*client)->Call("GET", target, v1::Empty(), &page); !s.ok()) return Fail(s);
      if (page.records_size() == 0) {
        return Fail(Internal("the satellite sent no records after seq " + std::to_string(after) +
                             "; nothing was removed, run the command again"));
      }
      for (const auto& record : page.records()) {
        if (record.seq() != after + 1) {
          return Fail(Internal("the satellite sent record " + std::to_string(record.seq()) +
                               " after " + std::to_string(after) + "; nothing was removed"));
        }
        if (auto s = (*writer)->Add(record); !s.ok()) return Fail(s);
        after = record.seq();
      }
    }
    if (auto s = (*writer)->Finish(segment.checkpoint()); !s.ok()) return Fail(s);
    bytes = (*writer)->bytes();
  }
  // The file is durable: now the records may go.
  segment.set_file_name(path.filename().string());
  v1::AuditArchiveCommitResponse committed;
  if (auto s = (*client)->Call("POST", "/v1/admin/audit/archive/commit", segment, &committed);
      !s.ok()) {
    return Fail(s.WithContext(f.output + " is complete, but the records were not removed; run "
                                         "the same command again to finish"));
  }
  if (g.json) {
    PrintJson(committed);
    return kExitOk;
  }
  std::cout << "Archived audit records " << header.first_seq() << " to " << header.last_seq()
            << " into " << f.output
            << (reused ? " (the file was already complete)" : " (" + Plural(bytes, "byte") + ")")
            << "; removed " << Plural(committed.records_removed(), "record")
            << " from the database. Keep the file: `outpost audit verify --archive` checks it.\n";
  return kExitOk;
}

}  // namespace

void AddAuditCommands(CLI::App& app, CommandLine& cli) {
  auto* audit = app.add_subcommand("audit", "Export and verify the tamper-evident audit trail");
  audit->require_subcommand(1);

  auto export_flags = std::make_shared<AuditFlags>();
  auto* exp = AddConnectedCommand(audit, cli, "export",
                                  "Write audit records (JSON lines or CSV) to stdout or a file",
                                  export_flags, RunExport);
  exp->add_option("--since", export_flags->since,
                  "Records at or after this time (RFC 3339, e.g. 2026-05-01T00:00:00Z, or a date)");
  exp->add_option("--until", export_flags->until, "Records before this time (RFC 3339 or a date)");
  // An empty filter value would match every record (it is "no filter"), which is never what a
  // person typing `--device "$ID"` with an unset variable meant.
  const CLI::Validator not_empty(
      [](std::string& value) -> std::string {
        return value.empty() ? "an empty value would match every record; give one, or leave the "
                               "option out to export everything"
                             : "";
      },
      "NOT EMPTY");
  exp->add_option("--actor", export_flags->actor,
                  "Actor, e.g. user:alice (also finds alice's API-key records, "
                  "apikey:<id> (alice)) or apikey:<id>; a value ending in ':' or '*' is a prefix")
      ->check(not_empty);
  exp->add_option("--action", export_flags->action,
                  "Action, e.g. token.create; a value ending in '.' or '*' is a prefix")
      ->check(not_empty);
  exp->add_option("--device", export_flags->device, "Records by or about this device instance")
      ->check(not_empty);
  exp->add_option("--format", export_flags->format, "jsonl (default) or csv (RFC 4180)")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  exp->add_option("-o,--output", export_flags->output,
                  "Write to FILE (mode 0600, complete or not at all) instead of stdout")
      ->type_name("FILE");
  exp->add_flag("--force", export_flags->force,
                "With -o: replace FILE if it exists (only once the new export is complete)");
  exp->add_option("--page-size", export_flags->page_records,
                  "Records asked for per request (memory stays at one page)")
      ->check(CLI::Range(int64_t{1}, kMaxPageRecords));

  auto verify_flags = std::make_shared<AuditFlags>();
  auto* verify = AddConnectedCommand(
      audit, cli, "verify",
      "Recompute the hash chain and check the signed checkpoints; exit 1 naming the first bad "
      "record",
      verify_flags, RunVerify);
  auto* db = verify
                 ->add_option("--db", verify_flags->db,
                              "Verify this database file instead of asking the satellite "
                              "(read-only; the satellite may be stopped)")
                 ->type_name("FILE");
  verify
      ->add_option("--public-key", verify_flags->public_key,
                   "With --db: PEM public key the checkpoints must be signed with (default: the "
                   "signing key of --data-dir, else the key recorded in the database)")
      ->type_name("FILE")
      ->needs(db);
  for (const char* remote : {"--server", "--api-key", "--ca"}) {
    db->excludes(verify->get_option(remote));
  }
  verify
      ->add_option("--since-checkpoint", verify_flags->since_checkpoint,
                   "Also prove the chain extends a head saved earlier and kept off the "
                   "appliance (`outpost audit head --json > FILE`): exit 1 if that record is "
                   "gone or has another hash")
      ->type_name("FILE");

  verify
      ->add_option("--archive", verify_flags->archives,
                   "Also verify these archive files (or every *.outpost-audit file of a "
                   "directory) and that the chain runs from them into the database; repeatable")
      ->type_name("FILE|DIR");

  auto archive_flags = std::make_shared<AuditFlags>();
  auto* archive = AddConnectedCommand(
      audit, cli, "archive",
      "Move the records before a time into a sealed, signed archive file, then remove them "
      "from the database (admin)",
      archive_flags, RunArchive);
  archive
      ->add_option("--before", archive_flags->before,
                   "Archive the records before this time (RFC 3339, or a date: midnight UTC)")
      ->required();
  archive
      ->add_option("-o,--output", archive_flags->output,
                   "The archive file to write (mode 0600; never replaced)")
      ->type_name("FILE")
      ->required();
  archive
      ->add_option("--page-size", archive_flags->page_records,
                   "Records asked for per request while writing the file")
      ->check(CLI::Range(int64_t{1}, kMaxPageRecords));

  auto head_flags = std::make_shared<AuditFlags>();
  AddConnectedCommand(audit, cli, "head", "Show the newest record's sequence number and hash",
                      head_flags, [](const GlobalFlags& g, const AuditFlags& f) {
                        return RunHead(g, f, "GET", "/v1/admin/audit/head", "Audit trail head");
                      });

  // --db FILE (with --public-key or --data-dir for the key) instead of a running satellite.
  auto add_db_options = [](CLI::App* command, AuditFlags* flags) {
    auto* db = command
                   ->add_option("--db", flags->db,
                                "Read this database file instead of asking the satellite "
                                "(read-only; the satellite may be stopped)")
                   ->type_name("FILE");
    command
        ->add_option("--public-key", flags->public_key,
                     "With --db: PEM public key of the satellite's signing key (default: the "
                     "signing key of --data-dir, else the key recorded in the database)")
        ->type_name("FILE")
        ->needs(db);
    for (const char* remote : {"--server", "--api-key", "--ca"}) {
      db->excludes(command->get_option(remote));
    }
  };

  auto checkpoints_flags = std::make_shared<AuditFlags>();
  auto* checkpoints = AddConnectedCommand(
      audit, cli, "checkpoints",
      "List the signed checkpoints with their signatures, each checked; exit 1 if one fails",
      checkpoints_flags, RunCheckpoints);
  add_db_options(checkpoints, checkpoints_flags.get());

  auto compare_flags = std::make_shared<AuditFlags>();
  auto* compare = AddConnectedCommand(
      audit, cli, "compare-heads",
      "Compare the audit heads central holds (a file from `outpost central audit-heads "
      "SATELLITE -o FILE`) with the local chain; exit 1 if one does not match",
      compare_flags, RunCompareHeads);
  compare->add_option("FILE", compare_flags->heads_file, "Heads exported by central (JSON)")
      ->required();
  add_db_options(compare, compare_flags.get());

  auto ack_flags = std::make_shared<AuditFlags>();
  AddConnectedCommand(audit, cli, "acknowledge-alarm",
                      "Clear the AUDIT_TRUNCATED alarm once investigated (admin; the reason is "
                      "kept in the audit trail)",
                      ack_flags, RunAcknowledgeAlarm)
      ->add_option("--reason", ack_flags->reason,
                   "What was found and done, e.g. \"restored from backup of 2026-12-01, ticket "
                   "4711\"")
      ->required();

  auto checkpoint_flags = std::make_shared<AuditFlags>();
  AddConnectedCommand(audit, cli, "checkpoint", "Sign a checkpoint of the current head now",
                      checkpoint_flags, [](const GlobalFlags& g, const AuditFlags& f) {
                        return RunHead(g, f, "POST", "/v1/admin/audit/checkpoint",
                                       "Signed a checkpoint of the audit trail head");
                      });
}

}  // namespace outpost::cli
