#include "server/backup/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/crypto/secure_file.h"
#include "common/file_lock.h"
#include "common/ids.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/migrations.h"
#include "common/time.h"
#include "server/audit/audit_log.h"
#include "server/store/meta.h"

namespace outpost::server::backup {
namespace fs = std::filesystem;
namespace {

using store::kSatelliteMeta;

// Removes a scratch directory or file unless the operation committed it.
class Scratch {
 public:
  explicit Scratch(fs::path path) : path_(std::move(path)) {}
  ~Scratch() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Result<fs::path> MakeScratchDir(const fs::path& beside, std::string_view what) {
  std::string pattern = (beside.parent_path() /
                         ("." + beside.filename().string() + "." + std::string(what) + "-XXXXXX"))
                            .string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Unavailable("cannot create a scratch directory beside " + beside.string() + ": " +
                       std::strerror(errno) + "; check that its directory is writable");
  }
  return fs::path(pattern);
}

Status SyncPath(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open " + path.string() + ": " + std::strerror(errno));
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Internal("cannot fsync " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

Status CheckSatelliteDir(const DataDir& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir.root, ec)) {
    return NotFound(dir.root.string() +
                    " is not a directory; give the satellite's data "
                    "directory (--data-dir)");
  }
  if (fs::exists(dir.root / "central.db", ec)) {
    return FailedPrecondition(dir.root.string() +
                              " is a central's data directory; `outpost backup` backs up a "
                              "satellite (stop central and copy its directory instead)");
  }
  if (!fs::exists(dir.config(), ec) || !fs::exists(dir.database(), ec)) {
    return FailedPrecondition(dir.root.string() +
                              " is not a satellite data directory (it has no outpost.toml and "
                              "outpost.db); give the directory `outpost init` created");
  }
  return Status::Ok();
}

// What the backup's database says about itself; tables missing in old schemas leave defaults.
void Describe(sqlite::Connection& db, v1::BackupManifest& m) {
  if (auto v = sqlite::SchemaVersion(db); v.ok()) m.set_schema_version(*v);
  if (auto meta = kSatelliteMeta.GetAll(db); meta.ok()) {
    const auto get = [&](std::string_view key) {
      auto it = meta->find(std::string(key));
      return it == meta->end() ? std::string() : it->second;
    };
    m.set_satellite_id(get(store::kMetaSatelliteId));
    m.set_last_request_sequence(std::atoll(get("sync_last_request_sequence").c_str()));
    m.set_last_response_number(std::atoll(get("sync_last_response_number").c_str()));
  }
  if (auto stmt = db.Query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
      stmt.ok()) {
    if (auto row = (*stmt)->Step(); row.ok() && *row) {
      m.set_audit_head_seq((*stmt)->ColumnInt64(0));
      m.set_audit_head_hash(crypto::HexEncode((*stmt)->ColumnBlob(1)));
    }
  }
}

// Files of the data directory that go into a backup besides the database: everything the
// directory holds (configuration, certificates, keys, the admin API key, central's CA), except
// the live database and its WAL files, the lock, the licensing state cache (valid only with the
// database it was saved with) and hidden scratch files.
Result<std::vector<SourceFile>> CollectFiles(const DataDir& dir) {
  std::vector<SourceFile> files;
  std::error_code ec;
  auto it = fs::recursive_directory_iterator(dir.root, ec);
  if (ec) return Internal("cannot list " + dir.root.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Internal("cannot list " + dir.root.string() + ": " + ec.message());
    const fs::path rel = it->path().lexically_relative(dir.root);
    const std::string name = rel.generic_string();
    if (rel.filename().string().starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink() || !it->is_regular_file()) continue;
    if (name == "outpost.db" || name.starts_with("outpost.db-") || name == "outpost.lock" ||
        name == "licensing.state") {
      continue;
    }
    if (!IsSafeRelativePath(name)) continue;
    struct stat st {};
    if (stat(it->path().c_str(), &st) != 0) {
      return Internal("cannot read " + it->path().string() + ": " + std::strerror(errno));
    }
    files.push_back({name, it->path(), static_cast<uint32_t>(st.st_mode & 0777),
                     static_cast<uint64_t>(st.st_size)});
  }
  return files;
}

bool IsSecretPath(std::string_view path) {
  return path.starts_with("keys/") || path == "admin.apikey";
}

// Writes a restore's files into the scratch directory.
class DirectorySink final : public FileSink {
 public:
  explicit DirectorySink(fs::path root) : root_(std::move(root)) {}
  ~DirectorySink() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Begin(const v1::BackupFileEntry& entry) override {
    const fs::path path = root_ / entry.path();
    std::error_code ec;
    for (fs::path parent = path.parent_path(); parent != root_; parent = parent.parent_path()) {
      fs::create_directories(parent, ec);
      if (ec) return Internal("cannot create " + parent.string() + ": " + ec.message());
      const std::string rel = parent.lexically_relative(root_).generic_string();
      fs::permissions(parent, rel == "keys" ? fs::perms::owner_all : fs::perms(0755), ec);
    }
    const mode_t mode = IsSecretPath(entry.path()) ? 0600 : (entry.mode() & 0644);
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd_ < 0) {
      return Internal("cannot create " + path.string() + ": " + std::strerror(errno));
    }
    if (fchmod(fd_, mode) != 0) return Internal("cannot chmod " + path.string());
    current_ = path;
    paths_.push_back(entry.path());
    return Status::Ok();
  }

  Status Write(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Internal("cannot write " + current_.string() + ": " + std::strerror(errno) +
                        "; check the free space");
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status End() override {
    const int rc = fsync(fd_);
    close(fd_);
    fd_ = -1;
    if (rc != 0) return Internal("cannot fsync " + current_.string());
    return Status::Ok();
  }

  const std::vector<std::string>& paths() const { return paths_; }

 private:
  fs::path root_;
  fs::path current_;
  int fd_ = -1;
  std::vector<std::string> paths_;
};

std::string ListNames(const fs::path& dir) {
  std::string names;
  std::error_code ec;
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (++count > 4) {
      names += ", ...";
      break;
    }
    names += (names.empty() ? "" : ", ") + entry.path().filename().string();
  }
  return names;
}

bool IsEmptyDir(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != "outpost.lock") return false;
  }
  return !ec;
}

// Marks the restored database: a new restore id and its notice for central, no licensing
// state token (the cache file is not restored), and an audit record that continues the chain.
Result<std::string> MarkRestored(const fs::path& database, const v1::BackupManifest& manifest,
                                 const Clock& clock) {
  OUTPOST_ASSIGN_OR_RETURN(sqlite::Connection db, sqlite::Connection::Open(database));
  {
    OUTPOST_ASSIGN_OR_RETURN(auto check, db.Query("PRAGMA quick_check"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, check->Step());
    if (!row || check->ColumnText(0) != "ok") {
      return DataLoss("the backup's database fails SQLite's integrity check (" +
                      (row ? check->ColumnText(0) : std::string("no answer")) +
                      "); use another backup");
    }
  }
  const TimePoint now = clock.Now();
  const std::string restore_id = NewUuid();
  v1::RestoreNotice notice;
  notice.set_restore_id(restore_id);
  notice.set_backup_id(manifest.backup_id());
  notice.set_backup_created_at(manifest.created_at());
  notice.set_restored_at(ToUnixSeconds(now));
  notice.set_backup_last_request_sequence(manifest.last_request_sequence());
  notice.set_backup_audit_head_seq(manifest.audit_head_seq());
  OUTPOST_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status status = [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, store::kMetaRestoreId, restore_id));
    OUTPOST_RETURN_IF_ERROR(kSatelliteMeta.Set(db, store::kMetaRestoreNotice,
                                               crypto::HexEncode(notice.SerializeAsString())));
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t tables,
        db.QueryInt64("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                      "('licensing_state', 'audit_log')"));
    OUTPOST_ASSIGN_OR_RETURN(
        int64_t has_state,
        db.QueryInt64("SELECT count(*) FROM sqlite_master WHERE name = 'licensing_state'"));
    if (has_state != 0) OUTPOST_RETURN_IF_ERROR(db.Exec("DELETE FROM licensing_state"));
    if (tables - has_state == 0) return Status::Ok();  // schema before the audit trail
    audit::AuditEvent event;
    event.actor = audit::Actor::System();
    event.action = "backup.restore";
    event.object = "backup:" + manifest.backup_id();
    event.details =
        "{\"restore_id\":\"" + restore_id + "\",\"backup_created_at\":\"" +
        FormatRfc3339Seconds(manifest.created_at()) +
        "\",\"backup_audit_head_seq\":" + std::to_string(manifest.audit_head_seq()) +
        ",\"backup_last_request_sequence\":" + std::to_string(manifest.last_request_sequence()) +
        "}";
    return audit::Append(db, event, now);
  }();
  if (status.ok()) status = db.Exec("COMMIT");
  if (!status.ok()) {
    db.ResetActiveStatements();
    (void)db.Exec("ROLLBACK");
    return status.WithContext("marking the restored database");
  }
  return restore_id;
}

}  // namespace

Result<v1::BackupResult> CreateBackup(const DataDir& dir, const fs::path& output,
                                      std::string_view passphrase, const BackupOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  OUTPOST_RETURN_IF_ERROR(CheckSatelliteDir(dir));
  const fs::path out = fs::absolute(output);
  OUTPOST_RETURN_IF_ERROR(crypto::CheckWritable(
      out, options.replace_output ? crypto::IfExists::kReplace : crypto::IfExists::kFail));
  if (passphrase.size() < kMinPassphraseBytes) {
    return InvalidArgument("the passphrase has " + std::to_string(passphrase.size()) +
                           " characters; use at least " + std::to_string(kMinPassphraseBytes));
  }

  // 1. A consistent snapshot of the database: one read transaction on a connection of our own.
  OUTPOST_ASSIGN_OR_RETURN(fs::path scratch_path, MakeScratchDir(out, "backup"));
  Scratch scratch(scratch_path);
  const fs::path snapshot = scratch_path / "outpost.db";
  v1::BackupManifest manifest;
  {
    sqlite::OpenOptions ro;
    ro.mode = sqlite::OpenMode::kReadOnly;
    OUTPOST_ASSIGN_OR_RETURN(sqlite::Connection live, sqlite::Connection::Open(dir.database(), ro));
    Status s = live.ExecPrepared("VACUUM INTO ?", snapshot.string()).status();
    if (!s.ok()) return s.WithContext("copying the database " + dir.database().string());
    OUTPOST_ASSIGN_OR_RETURN(sqlite::Connection copy, sqlite::Connection::Open(snapshot, ro));
    Describe(copy, manifest);
  }
  if (manifest.satellite_id().empty()) {
    return FailedPrecondition(dir.database().string() +
                              " has no satellite identity; it is not a satellite's database");
  }
  manifest.set_backup_id(NewUuid());
  manifest.set_created_at(ToUnixSeconds(options.clock->Now()));
  manifest.set_software_version(options.software_version);
  manifest.set_database_bytes(static_cast<int64_t>(fs::file_size(snapshot)));

  // 2. The other files, then the database.
  OUTPOST_ASSIGN_OR_RETURN(std::vector<SourceFile> files, CollectFiles(dir));
  files.push_back({"outpost.db", snapshot, 0600, static_cast<uint64_t>(manifest.database_bytes())});

  // 3. Encrypt into a temporary file beside the output, then put it in place.
  std::string temp = (scratch_path / "backup.tmp").string();
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + temp + ": " + std::strerror(errno));
  Status written = WriteBackup(fd, passphrase, options.kdf, manifest, files);
  if (written.ok() && fsync(fd) != 0) written = Internal("cannot fsync " + temp);
  close(fd);
  OUTPOST_RETURN_IF_ERROR(written);
  manifest.set_files(static_cast<int32_t>(files.size()));
  if (options.replace_output) {
    if (rename(temp.c_str(), out.c_str()) != 0) {
      return Internal("cannot move the backup to " + out.string() + ": " + std::strerror(errno));
    }
  } else if (link(temp.c_str(), out.c_str()) != 0) {
    if (errno == EEXIST) {
      return AlreadyExists(out.string() +
                           " appeared while the backup was written; nothing was "
                           "replaced (pass --force to replace it)");
    }
    return Internal("cannot move the backup to " + out.string() + ": " + std::strerror(errno));
  }
  OUTPOST_RETURN_IF_ERROR(SyncPath(out.parent_path()));

  v1::BackupResult result;
  result.set_file(output.string());
  *result.mutable_manifest() = manifest;
  result.set_file_bytes(fs::file_size(out));
  result.set_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return result;
}

Result<v1::RestoreResult> RestoreBackup(const fs::path& file, const DataDir& target,
                                        std::string_view passphrase,
                                        const RestoreOptions& options) {
  const fs::path root = fs::absolute(target.root).lexically_normal();
  const fs::path dir_path = root.has_filename() ? root : root.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir_path.parent_path(), ec)) {
    return NotFound("the parent directory of " + target.root.string() +
                    " does not exist; create it first");
  }
  // 1. The target: not held by a running satellite, and empty unless told.
  const bool exists = fs::exists(dir_path, ec);
  std::optional<FileLock> held;
  bool replace = false;
  if (exists) {
    if (!fs::is_directory(dir_path, ec)) {
      return FailedPrecondition(target.root.string() +
                                " exists and is not a directory; give a new directory");
    }
    const DataDir existing(dir_path);
    if (fs::exists(existing.lock(), ec)) {
      auto lock = FileLock::Acquire(existing.lock(), "data directory " + target.root.string());
      if (!lock.ok()) {
        return lock.status().WithContext("cannot restore into " + target.root.string() +
                                         " while a satellite runs there");
      }
      held.emplace(std::move(*lock));
    }
    if (!IsEmptyDir(dir_path)) {
      if (!options.force) {
        return FailedPrecondition(
            target.root.string() + " is not empty (it holds " + ListNames(dir_path) +
            "); restore into a new or empty directory, or pass --force to replace its contents "
            "(they are moved aside to " +
            dir_path.filename().string() + ".before-restore-<time>, not deleted)");
      }
      replace = true;
    }
  }
  // 2. The whole file, before anything is written.
  OUTPOST_ASSIGN_OR_RETURN(v1::BackupManifest manifest, ReadBackup(file, passphrase, nullptr));
  if (manifest.schema_version() > options.newest_schema_version) {
    return FailedPrecondition(
        file.string() + " holds a database of schema version " +
        std::to_string(manifest.schema_version()) + " (written by outpost " +
        manifest.software_version() + "), but this outpost knows only up to version " +
        std::to_string(options.newest_schema_version) + "; restore it with outpost " +
        manifest.software_version() + " or newer");
  }
  // 3. Into a scratch directory beside the target, checked again as it is written.
  OUTPOST_ASSIGN_OR_RETURN(fs::path scratch_path, MakeScratchDir(dir_path, "restore"));
  Scratch scratch(scratch_path);
  fs::permissions(scratch_path, fs::perms(0750), ec);
  DirectorySink sink(scratch_path);
  OUTPOST_ASSIGN_OR_RETURN(v1::BackupManifest again, ReadBackup(file, passphrase, &sink));
  if (again.backup_id() != manifest.backup_id()) {
    return FailedPrecondition(file.string() + " changed while it was being restored; try again");
  }
  const DataDir restored(scratch_path);
  if (!fs::exists(restored.database(), ec) || !fs::exists(restored.config(), ec)) {
    return DataLoss(file.string() +
                    " holds no outpost.db or outpost.toml; it is not a backup of "
                    "a satellite data directory");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string restore_id,
                           MarkRestored(restored.database(), manifest, *options.clock));
  fs::permissions(restored.database(), fs::perms(0600), ec);
  OUTPOST_RETURN_IF_ERROR(SyncPath(scratch_path));

  // 4. Into place.
  v1::RestoreResult result;
  if (replace) {
    const fs::path aside =
        dir_path.parent_path() / (dir_path.filename().string() + ".before-restore-" +
                                  std::to_string(ToUnixSeconds(options.clock->Now())));
    if (rename(dir_path.c_str(), aside.c_str()) != 0) {
      return Internal("cannot move " + dir_path.string() + " aside to " + aside.string() + ": " +
                      std::strerror(errno) + "; nothing was changed");
    }
    result.set_previous_contents(aside.string());
  }
  // rename(2) replaces an empty directory atomically; a lock file left by a stopped satellite
  // (the only thing an "empty" directory may hold) goes with what it locked.
  if (exists && !replace) fs::remove(DataDir(dir_path).lock(), ec);
  if (rename(scratch_path.c_str(), dir_path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    if (replace) rename(result.previous_contents().c_str(), dir_path.c_str());
    return Internal("cannot move the restored directory into place at " + dir_path.string() + ": " +
                    error + "; nothing was changed");
  }
  scratch.Release();
  OUTPOST_RETURN_IF_ERROR(SyncPath(dir_path.parent_path()));
  result.set_data_dir(target.root.string());
  *result.mutable_manifest() = manifest;
  result.set_restore_id(restore_id);
  return result;
}

}  // namespace outpost::server::backup
