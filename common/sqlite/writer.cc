#include "common/sqlite/writer.h"

#include <sqlite3.h>
#include <sys/statvfs.h>

#include <future>
#include <string>
#include <utility>

#include "common/sqlite/error.h"
#include "common/thread_boundary.h"
#include "spdlog/spdlog.h"

namespace outpost::sqlite {
namespace {

// Savepoint that brackets each unit inside the batch transaction. The name is ours; Work must
// not release or roll back to it (see the class comment). Run as cached prepared statements:
// they bracket every unit, and preparing them each time cost more than the savepoint itself.
constexpr std::string_view kSavepoint = "SAVEPOINT outpost_unit";
constexpr std::string_view kRelease = "RELEASE outpost_unit";
constexpr std::string_view kRollbackTo = "ROLLBACK TO outpost_unit";

// The writer checkpoints the WAL itself once it holds this many times wal_checkpoint_pages.
constexpr int kInlineWalCheckpointFactor = 4;

// The probe a writer in a storage fault commits while idle: it rewrites the schema's version
// number with itself, so one page goes through the WAL and nothing changes.
class Probe final : public Unit {
 public:
  Status Run(Connection& db) override {
    OUTPOST_ASSIGN_OR_RETURN(int64_t version, db.QueryInt64("PRAGMA user_version"));
    return db.Exec("PRAGMA user_version = " + std::to_string(version));
  }
  void Done(const Status&, Batch&) override {}
};

}  // namespace

Result<std::unique_ptr<Writer>> Writer::Create(const std::filesystem::path& path,
                                               const WriterOptions& options,
                                               std::span<const Migration> migrations) {
  if (options.max_batch == 0) return InvalidArgument("WriterOptions.max_batch must be at least 1");
  OpenOptions open_options;
  open_options.mode = OpenMode::kReadWrite;
  open_options.synchronous = options.synchronous;
  open_options.busy_timeout = options.busy_timeout;
  OUTPOST_ASSIGN_OR_RETURN(Connection connection, Connection::Open(path, open_options));
  OUTPOST_RETURN_IF_ERROR(Migrate(connection, migrations));
  std::optional<Connection> wal_checkpoint_connection;
  if (options.wal_checkpoint_pages > 0) {
    OUTPOST_ASSIGN_OR_RETURN(wal_checkpoint_connection, Connection::Open(path, open_options));
  }
  return std::unique_ptr<Writer>(
      new Writer(std::move(connection), std::move(wal_checkpoint_connection), options));
}

Writer::Writer(Connection connection, std::optional<Connection> wal_checkpoint_connection,
               const WriterOptions& options)
    : connection_(std::move(connection)),
      path_(connection_.path()),
      max_batch_(options.max_batch),
      fault_probe_interval_(options.fault_probe_interval),
      fault_clear_free_bytes_(options.fault_clear_free_bytes),
      wal_checkpoint_connection_(std::move(wal_checkpoint_connection)),
      wal_checkpoint_pages_(options.wal_checkpoint_pages),
      thread_([this] { Loop(); }) {
  if (wal_checkpoint_connection_) {
    // Replaces SQLite's automatic WAL checkpoint (which is itself a WAL hook) on this connection.
    sqlite3_wal_hook(connection_.handle(), &Writer::OnWalCommit, this);
    wal_checkpoint_thread_ = std::thread([this] { WalCheckpointLoop(); });
  }
}

Writer::~Writer() { Stop(); }

int Writer::OnWalCommit(void* self, sqlite3* db, const char* name, int pages) {
  auto* writer = static_cast<Writer*>(self);
  if (pages < writer->wal_checkpoint_pages_) return SQLITE_OK;
  if (pages >= kInlineWalCheckpointFactor * writer->wal_checkpoint_pages_) {
    // Under a steady stream of batches the background WAL checkpoint never finds the WAL idle, so
    // SQLite never restarts it from the beginning and it would grow without bound. Catching up
    // here is cheap (the background thread copied most pages already) and lets the next
    // transaction restart the WAL. SQLite runs one WAL checkpoint at a time (another gets BUSY), so
    // this waits for a background one to finish first. Failure is harmless: the next commit
    // tries again.
    std::lock_guard running(writer->wal_checkpoint_run_mu_);
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  {
    std::lock_guard lock(writer->wal_checkpoint_mu_);
    writer->wal_checkpoint_requested_ = true;
  }
  writer->wal_checkpoint_wanted_.notify_one();
  return SQLITE_OK;
}

void Writer::WalCheckpointLoop() {
  std::unique_lock lock(wal_checkpoint_mu_);
  while (true) {
    wal_checkpoint_wanted_.wait(
        lock, [this] { return wal_checkpoint_requested_ || wal_checkpoint_stopping_; });
    if (wal_checkpoint_stopping_) break;
    wal_checkpoint_requested_ = false;
    lock.unlock();
    int rc = SQLITE_OK;
    {
      std::lock_guard running(wal_checkpoint_run_mu_);
      rc = sqlite3_wal_checkpoint_v2(wal_checkpoint_connection_->handle(), "main",
                                     SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    // BUSY means another WAL checkpoint is running; anything else is retried at the next request
    // and, at worst, the WAL grows until the final WAL checkpoint at Stop().
    if (rc == SQLITE_OK) wal_checkpoints_.fetch_add(1);
    lock.lock();
  }
}

void Writer::Submit(Work work, Done done) {
  if (!work) {
    if (done) done(InvalidArgument("Writer::Submit called with empty work"));
    return;
  }
  Submit(std::move(work), [done = std::move(done)](const Status& s) {
    if (done) done(s);
  });
}

void Writer::Submit(std::unique_ptr<Unit> unit) {
  if (!unit) return;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(unit));
      queue_depth_.store(queue_.size());
    }
  }
  if (!unit) {  // moved into the queue
    work_available_.notify_one();
    return;
  }
  Batch alone;
  unit->Done(Unavailable("writer for " + path_.string() +
                         " is shutting down; the work was not run, retry after restart"),
             alone);
  for (auto& entry : alone.finishers_) entry.finisher->Finish();
}

Status Writer::Run(Work work) {
  if (OnWriterThread()) {
    return Internal("Writer::Run called on the writer thread of " + path_.string() +
                    " (inside a Work or Done); it would wait for itself, use Submit instead");
  }
  // Shared, not on this stack: the writer thread may still be inside set_value() when get()
  // returns here and this frame unwinds.
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> outcome = promise->get_future();
  Submit(std::move(work), [promise](const Status& status) { promise->set_value(status); });
  return outcome.get();
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_available_.notify_all();
  if (OnWriterThread()) return;
  std::lock_guard join_lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

WriterStats Writer::Stats() const {
  WriterStats stats;
  stats.queue_depth = queue_depth_.load();
  stats.batches = batches_.load();
  stats.units = units_.load();
  stats.last_batch_size = last_batch_size_.load();
  stats.max_batch_size = max_batch_size_.load();
  stats.failed_commits = failed_commits_.load();
  stats.wal_checkpoints = wal_checkpoints_.load();
  stats.storage_errors = storage_errors_.load();
  return stats;
}

std::optional<StorageFault> Writer::storage_fault() const {
  std::lock_guard lock(fault_mu_);
  return fault_;
}

bool Writer::OnWriterThread() const {
  return writer_thread_id_.load() == std::this_thread::get_id();
}

void Writer::Loop() {
  writer_thread_id_.store(std::this_thread::get_id());
  std::vector<std::unique_ptr<Unit>> batch;
  while (true) {
    // In a storage fault nobody may write for a while; the probe finds out when writes succeed.
    const bool may_probe = fault_probe_interval_.count() > 0 && storage_fault().has_value();
    {
      std::unique_lock lock(mu_);
      const auto ready = [this] { return !queue_.empty() || stopping_; };
      if (may_probe && !work_available_.wait_for(lock, fault_probe_interval_, ready)) {
        batch.push_back(std::make_unique<Probe>());
      } else {
        work_available_.wait(lock, ready);
      }
      if (queue_.empty() && batch.empty()) break;  // stopping, everything queued is written
      // Group commit: everything that queued up while the previous batch was committing goes
      // into this one transaction, so one fsync serves many units.
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queue_depth_.store(queue_.size());
    }
    CommitBatch(batch);
    batch.clear();
  }
  // The WAL checkpoint connection closes first, so that the writer's is the last one and
  // SQLite's final WAL checkpoint at its close can remove the WAL.
  {
    std::lock_guard lock(wal_checkpoint_mu_);
    wal_checkpoint_stopping_ = true;
  }
  wal_checkpoint_wanted_.notify_all();
  if (wal_checkpoint_thread_.joinable()) wal_checkpoint_thread_.join();
  wal_checkpoint_connection_.reset();
  CloseConnection();
}

void Writer::CommitBatch(std::vector<std::unique_ptr<Unit>>& batch) {
  std::vector<Status> outcomes(batch.size());
  // Only a commit that wrote proves the storage takes writes again (one that only read does not).
  const int64_t changes_before = sqlite3_total_changes64(connection_.handle());
  const bool probe = batch.size() == 1 && dynamic_cast<Probe*>(batch[0].get()) != nullptr;
  bool open = false;  // a transaction holding units [first, i) is open
  size_t first = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!open) {
      if (!broken_.ok()) AbandonTransaction();  // try the rollback again
      Status begin = broken_.ok() ? NoteFailure(connection_.Exec("BEGIN IMMEDIATE")) : broken_;
      if (!begin.ok()) {
        failed_commits_.fetch_add(1);
        for (size_t j = i; j < batch.size(); ++j) {
          outcomes[j] = begin.WithContext("starting a write transaction");
        }
        break;
      }
      if (Status guard = RunGuard(); !guard.ok()) {
        AbandonTransaction();
        failed_commits_.fetch_add(1);
        for (size_t j = i; j < batch.size(); ++j) outcomes[j] = guard;
        break;
      }
      open = true;
      first = i;
      {
        std::lock_guard lock(guard_mu_);
        observing_ = observer_;
      }
      if (observing_) observing_->TransactionBegun(connection_);
    }
    bool intact = true;
    outcomes[i] = RunUnit(*batch[i], intact);
    if (!intact) {
      // The transaction no longer holds exactly the work of the units that succeeded (SQLite
      // rolled it back after, say, SQLITE_FULL, or a unit's changes could not be undone alone).
      // Drop it: the earlier units fail too, and later ones start a new transaction.
      Status cause = outcomes[i].ok() ? Internal("the write transaction on " + path_.string() +
                                                 " ended inside a unit of work")
                                      : NoteFailure(outcomes[i]);
      AbandonTransaction();
      Status lost(cause.code(),
                  "rolled back because another unit in the same batch aborted the "
                  "transaction: " +
                      cause.message());
      for (size_t j = first; j < i; ++j) {
        if (outcomes[j].ok()) outcomes[j] = lost;
      }
      outcomes[i] = cause;
      open = false;
    }
  }
  if (open) {
    Status commit = connection_.Exec("COMMIT");
    if (commit.ok() && (probe || sqlite3_total_changes64(connection_.handle()) != changes_before)) {
      NoteCommitted();
    }
    if (commit.ok()) EndObserved(true);
    if (!commit.ok()) {
      failed_commits_.fetch_add(1);
      Status fault = NoteFailure(commit);
      AbandonTransaction();
      Status error =
          fault.message() != commit.message()
              ? fault
              : commit.WithContext("committing a batch of " + std::to_string(batch.size()) +
                                   " units; none of them was applied");
      // Units that failed on their own keep their own, more specific error.
      for (size_t j = first; j < batch.size(); ++j) {
        if (outcomes[j].ok()) outcomes[j] = error;
      }
    } else if (Status guard = RunGuard(); !guard.ok()) {
      spdlog::error("writer for {}: after a commit: {}", path_.string(), guard.message());
    }
  }
  FinishBatch(batch, outcomes);
}

Status Writer::RunUnit(Unit& unit, bool& transaction_intact) {
  Status savepoint = connection_.ExecPrepared(kSavepoint).status();
  if (!savepoint.ok()) {
    transaction_intact = connection_.InTransaction();
    return savepoint.WithContext("starting a unit of work");
  }
  if (observing_) observing_->UnitBegun();
  Status outcome = CatchAtBoundary("a unit of work", [&] { return unit.Run(connection_); });
  // A unit may stop reading halfway through a query; that statement must not stay active across
  // the other units' work and the COMMIT.
  connection_.ResetActiveStatements();
  if (!connection_.InTransaction()) {
    transaction_intact = false;
    return outcome;
  }
  if (outcome.ok()) {
    Status release = connection_.ExecPrepared(kRelease).status();
    if (release.ok()) {
      if (observing_) observing_->UnitEnded(true);
      return outcome;
    }
    outcome = release.WithContext("finishing a unit of work");
  }
  Status undo = connection_.ExecPrepared(kRollbackTo).status();
  if (undo.ok() && observing_) observing_->UnitEnded(false);
  if (undo.ok()) undo = connection_.ExecPrepared(kRelease).status();
  if (!undo.ok()) transaction_intact = false;
  return outcome;
}

void Writer::AbandonTransaction() {
  // Whatever happens to the rollback below, nothing of the transaction will commit.
  EndObserved(false);
  connection_.ResetActiveStatements();
  Status rollback = connection_.InTransaction() ? connection_.Exec("ROLLBACK") : Status::Ok();
  if (!connection_.InTransaction()) {
    if (!broken_.ok()) {
      spdlog::warn("writer for {}: the failed transaction is rolled back now; writes resume",
                   path_.string());
    }
    broken_ = Status::Ok();
    return;
  }
  // Nothing of it can commit while it stays open (every batch tries the rollback again first),
  // so a transient failure (a full disk) does not stop writes for good.
  if (broken_.ok()) {
    spdlog::error("writer for {}: ROLLBACK failed: {}", path_.string(), rollback.message());
  }
  broken_ = Unavailable("writer for " + path_.string() +
                        " could not roll back a failed transaction (" + rollback.message() +
                        "); writes are refused until a rollback succeeds (tried before each "
                        "batch); if this lasts, restart outpost");
}

void Writer::EndObserved(bool committed) {
  if (!observing_) return;
  std::shared_ptr<TransactionObserver> observer = std::move(observing_);
  observing_.reset();
  observer->TransactionEnded(committed);
}

Status Writer::NoteFailure(const Status& status) {
  const int rc = sqlite3_extended_errcode(connection_.handle());
  if (status.ok() || !IsStorageFault(rc)) return status;
  const bool full = (rc & 0xff) == SQLITE_FULL;
  const std::string dir = path_.parent_path().string();
  Status unit_status = Unavailable(
      std::string(full ? "the database disk is full" : "the database disk failed a write") +
      ": writing " + path_.string() + " failed (" + sqlite3_errstr(rc) + ", sqlite code " +
      std::to_string(rc) + "); nothing of this request was applied; " +
      (full ? "free space on the file system holding "
            : "check the disk and the file system holding ") +
      dir + " — service resumes by itself once writes succeed again");
  storage_errors_.fetch_add(1);
  std::lock_guard lock(fault_mu_);
  if (!fault_) {
    fault_.emplace(StorageFault{unit_status, std::chrono::steady_clock::now(), 0, full});
    // Once per episode: the requests it fails are answered 503, not logged one by one.
    spdlog::error("writer for {}: {}; writes are answered 503 until one succeeds ({})",
                  path_.string(), status.message(),
                  fault_probe_interval_.count() > 0
                      ? "tried again every " + std::to_string(fault_probe_interval_.count()) +
                            " ms while idle"
                      : "tried again with the next write");
  }
  fault_->error = unit_status;
  ++fault_->failed_transactions;
  return unit_status;
}

void Writer::NoteCommitted() {
  std::lock_guard lock(fault_mu_);
  if (!fault_) return;
  struct statvfs st {};
  if (fault_->disk_full && statvfs(path_.parent_path().c_str(), &st) == 0 &&
      static_cast<uint64_t>(st.f_bavail) * st.f_frsize < fault_clear_free_bytes_) {
    return;
  }
  const std::chrono::duration<double> lasted = std::chrono::steady_clock::now() - fault_->since;
  spdlog::warn("writer for {}: writes succeed again after {:.1f} s ({} failed transactions)",
               path_.string(), lasted.count(), fault_->failed_transactions);
  fault_.reset();
}

void Writer::FinishBatch(std::vector<std::unique_ptr<Unit>>& batch,
                         const std::vector<Status>& outcomes) {
  // Counters first, so that a caller woken by its Done already sees its batch counted.
  const uint64_t size = batch.size();
  batches_.fetch_add(1);
  units_.fetch_add(size);
  last_batch_size_.store(size);
  if (size > max_batch_size_.load()) max_batch_size_.store(size);
  Batch shared;
  for (size_t i = 0; i < batch.size(); ++i) {
    Status s = CatchAtBoundary("a unit's completion", [&] { batch[i]->Done(outcomes[i], shared); });
    if (!s.ok()) spdlog::error("writer for {}: {}", path_.string(), s.message());
  }
  for (auto& entry : shared.finishers_) {
    Status s = CatchAtBoundary("a batch finisher", [&] { entry.finisher->Finish(); });
    if (!s.ok()) spdlog::error("writer for {}: {}", path_.string(), s.message());
  }
}

Status Writer::RunGuard() {
  std::lock_guard lock(guard_mu_);
  if (!transaction_guard_) return Status::Ok();
  Status s =
      CatchAtBoundary("the transaction guard", [&] { return transaction_guard_(connection_); });
  connection_.ResetActiveStatements();
  return s;
}

void Writer::SetTransactionGuard(std::function<Status(Connection&)> guard) {
  std::lock_guard lock(guard_mu_);
  transaction_guard_ = std::move(guard);
}

void Writer::SetTransactionObserver(std::shared_ptr<TransactionObserver> observer) {
  std::lock_guard lock(guard_mu_);
  observer_ = std::move(observer);
}

void Writer::CloseConnection() {
  // Best effort: the data is committed already. PASSIVE never waits for readers, so shutdown
  // is not held up by a long read; the last connection to close checkpoints the WAL fully anyway.
  (void)connection_.Exec("PRAGMA optimize");
  (void)connection_.Exec("PRAGMA wal_checkpoint(PASSIVE)");
  Connection closing = std::move(connection_);
}

}  // namespace outpost::sqlite
