#pragma once

// The single writer: one thread owns the read-write connection and commits queued units of work
// in groups (group commit), one BEGIN IMMEDIATE ... COMMIT per batch.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/sqlite/connection.h"
#include "common/sqlite/migrations.h"
#include "common/status.h"

namespace outpost::sqlite {

struct WriterOptions {
  size_t max_batch = 256;                        // units per transaction; at least 1
  Synchronous synchronous = Synchronous::kFull;  // see config::Durability (database.synchronous)
  std::chrono::milliseconds busy_timeout{5000};
  // WAL checkpoints run on a thread of their own, with their own connection, once the WAL holds
  // this many pages after a commit (SQLite's own automatic WAL checkpoint would run inside the
  // committing writer and stall every unit queued behind it while it copies and fsyncs pages).
  // Should the WAL reach 4 times this, the writer catches up itself (only the pages the
  // background WAL checkpoint has not copied yet), so that the WAL restarts and stays bounded.
  // 0: leave WAL checkpoints to SQLite (wal_autocheckpoint, on the writer thread).
  int wal_checkpoint_pages = 1000;
  // While writes fail for want of space or on an I/O error (see StorageFault), the idle writer
  // commits a one-page probe this often, so the fault clears by itself once writes succeed
  // again. 0: only queued work finds out.
  std::chrono::milliseconds fault_probe_interval{1000};
  // A disk-full fault ends only with a successful write *and* this much free space where the
  // database lives: a small write that fits proves little, and the fault would flap.
  uint64_t fault_clear_free_bytes = 1 << 20;
};

// Counters for monitoring. Each field is read atomically, but the struct is not one snapshot:
// fields may come from slightly different moments.
struct WriterStats {
  uint64_t queue_depth = 0;      // units waiting, not counting the batch being committed
  uint64_t batches = 0;          // transactions finished (committed or failed)
  uint64_t units = 0;            // units finished (their Done called)
  uint64_t last_batch_size = 0;  // units in the most recent batch
  uint64_t max_batch_size = 0;   // largest batch so far
  uint64_t failed_commits = 0;   // batches whose BEGIN or COMMIT failed
  uint64_t wal_checkpoints = 0;  // background WAL checkpoints run (see wal_checkpoint_pages)
  uint64_t storage_errors = 0;   // transactions failed by a full disk or an I/O error
};

// The storage under the database refuses writes: from the first transaction that failed with
// SQLITE_FULL or SQLITE_IOERR until one that wrote commits again (for a full disk, with
// fault_clear_free_bytes free). Units failed by it get kUnavailable.
struct StorageFault {
  Status error;                                 // the latest failure, as the units got it
  std::chrono::steady_clock::time_point since;  // the first failure of this episode
  uint64_t failed_transactions = 0;             // in this episode, probes included
  bool disk_full = false;                       // SQLITE_FULL (else SQLITE_IOERR)
};

class Batch;

// Memory kept beside the database that must follow the writer's transaction through its units'
// savepoints, e.g. the audit chain's head (server/audit/audit_log.h, HeadCache), so that
// appending a record needs no query. SQLite tells nobody when a savepoint is rolled back, so the
// writer does: on the writer thread, in this order for each transaction it opens —
// TransactionBegun, then for each unit UnitBegun and UnitEnded (kept: released; or not: rolled
// back to its savepoint, its changes undone), then TransactionEnded (committed, or rolled back or
// abandoned: everything since TransactionBegun is undone). When a unit ends the transaction with
// it (SQLite aborted it, or the rollback to the unit's savepoint failed), that unit's UnitEnded
// is skipped and TransactionEnded(false) follows. Calls must be quick, must not throw, and must
// not use the database.
class TransactionObserver {
 public:
  virtual ~TransactionObserver() = default;
  // After BEGIN IMMEDIATE and the transaction guard passed, before the first unit. `db` is the
  // writer's connection, for the observer to recognise (not to use here).
  virtual void TransactionBegun(Connection& db) = 0;
  // After the unit's SAVEPOINT, before its work runs.
  virtual void UnitBegun() = 0;
  // After RELEASE of the unit's savepoint (kept) or ROLLBACK TO it (not kept).
  virtual void UnitEnded(bool kept) = 0;
  // After COMMIT returned (committed), or once the transaction was rolled back or given up.
  virtual void TransactionEnded(bool committed) = 0;
};

// One unit of work (see Writer). Most callers pass two functions to Writer::Submit, which wraps
// them in a Unit; a caller whose work and completion share state subclasses it instead and keeps
// that state in the unit, not in a shared_ptr both functions hold.
class Unit {
 public:
  virtual ~Unit() = default;
  // On the writer thread, inside the batch's transaction, under the unit's own SAVEPOINT.
  virtual Status Run(Connection& db) = 0;
  // On the writer thread after the batch's COMMIT returned: the unit's own error, or the
  // commit's. `batch` is what the batch's units share (Batch::Finisher).
  virtual void Done(const Status& outcome, Batch& batch) = 0;
};

// Work that costs less once per batch than once per unit, such as one signature over every
// answer a batch committed: units reach the batch's finisher from their Done, and the writer
// calls Finish() once, after the Done of every unit of the batch, then destroys it.
class BatchFinisher {
 public:
  virtual ~BatchFinisher() = default;
  virtual void Finish() = 0;
};

// What the units of one batch share. Writer thread only; lives until the batch is finished.
class Batch {
 public:
  // The batch's finisher of type F for `owner` (e.g. the service whose answers it signs), made
  // with `args` the first time a unit of this batch asks. Finishers run in the order made.
  template <typename F, typename... Args>
  F& Finisher(const void* owner, Args&&... args) {
    static_assert(std::is_base_of_v<BatchFinisher, F>, "F must derive from BatchFinisher");
    const void* type = &kTypeKey<F>;
    for (Entry& e : finishers_) {
      if (e.type == type && e.owner == owner) return static_cast<F&>(*e.finisher);
    }
    finishers_.push_back({type, owner, std::make_unique<F>(std::forward<Args>(args)...)});
    return static_cast<F&>(*finishers_.back().finisher);
  }

 private:
  friend class Writer;
  template <typename F>
  static constexpr char kTypeKey = 0;
  struct Entry {
    const void* type;
    const void* owner;
    std::unique_ptr<BatchFinisher> finisher;
  };
  std::vector<Entry> finishers_;
};

namespace internal {

// A Unit made of a work function and a completion. The work returns Status, or Result<T>: then
// the completion gets the Result<T> (the value only if the batch committed). The completion may
// take the Batch as its second argument.
template <typename WorkFn, typename DoneFn>
class FunctionUnit final : public Unit {
  using Outcome = std::invoke_result_t<WorkFn&, Connection&>;

 public:
  FunctionUnit(WorkFn work, DoneFn done) : work_(std::move(work)), done_(std::move(done)) {}
  Status Run(Connection& db) override {
    if constexpr (std::is_same_v<Outcome, Status>) {
      return work_(db);
    } else {
      result_.emplace(work_(db));
      return result_->ok() ? Status::Ok() : result_->status();
    }
  }
  void Done(const Status& outcome, Batch& batch) override {
    if constexpr (std::is_same_v<Outcome, Status>) {
      Call(outcome, batch);
    } else if (!outcome.ok()) {
      Call(Outcome(outcome), batch);
    } else if (!result_) {
      Call(Outcome(Status(Errc::kInternal, "the unit of work did not run")), batch);
    } else {
      Call(std::move(*result_), batch);
    }
  }

 private:
  template <typename Arg>
  void Call(Arg&& arg, Batch& batch) {
    if constexpr (std::is_invocable_v<DoneFn&, Arg, Batch&>) {
      done_(std::forward<Arg>(arg), batch);
    } else {
      done_(std::forward<Arg>(arg));
    }
  }
  WorkFn work_;
  DoneFn done_;
  std::optional<Outcome> result_;
};

}  // namespace internal

// Owns the read-write connection to one database and the thread that writes to it. All writes go
// through it. Thread-safe: Submit, Run, Stop and Stats may be called from any thread, with the
// exceptions noted at Run and Stop.
//
// Each unit of work runs on the writer thread inside the batch's transaction, under its own
// SAVEPOINT: a unit that returns an error has its own changes rolled back while its batch-mates
// commit. A unit's Done is called only after the batch's COMMIT returned, with the unit's own
// error, or, if the commit failed, with the commit error (then nothing of the batch is applied).
// If SQLite itself aborts the transaction (disk full, I/O error), every unit of the batch that
// ran so far fails with that error and the rest continue in a new transaction.
//
// Work and Done run on the writer thread, one at a time, so they need no locking among
// themselves; while they run, no other unit is written. Both must be quick, must not throw (an
// escaping exception terminates the process), and must not block on another unit's result: call
// neither Run() nor wait for a Done from inside them. Work must not issue BEGIN, COMMIT, ROLLBACK
// or RELEASE of a savepoint it did not create, and must not keep a Connection or Statement
// pointer beyond its call. Deferred constraints (DEFERRABLE INITIALLY DEFERRED foreign keys) are
// checked at COMMIT, so a violation there fails the whole batch; do not use them.
class Writer {
 public:
  using Work = std::function<Status(Connection&)>;
  using Done = std::function<void(const Status&)>;

  // Opens `path` read-write (creating it), applies `migrations` (see Migrate), then starts the
  // writer thread. Fails, without starting a thread, with the open or migration error.
  static Result<std::unique_ptr<Writer>> Create(const std::filesystem::path& path,
                                                const WriterOptions& options,
                                                std::span<const Migration> migrations);

  // Stop(), then frees everything. Must not run on the writer thread (e.g. by dropping the last
  // owner inside a Done).
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `work`; `done` (may be empty) is later called on the writer thread with the unit's
  // outcome. Never blocks on I/O. After Stop() has begun, calls `done` at once, on the calling
  // thread, with kUnavailable ("writer ... is shutting down") and drops `work`; the same, with
  // kInvalidArgument, for an empty `work`.
  void Submit(Work work, Done done);
  // The same for a unit object (see Unit). A null unit is ignored.
  void Submit(std::unique_ptr<Unit> unit);
  // Typed: `work` returns Status or Result<T>; `done` gets what it returned (a Result<T> holds
  // the value only if the batch committed), and may take the Batch as a second argument. One
  // allocation per unit; no state shared between the two functions.
  template <typename WorkFn, typename DoneFn>
  requires std::is_invocable_v<WorkFn&, Connection&> &&
      (!std::is_same_v<DoneFn, Done>)&&(!std::is_null_pointer_v<DoneFn>)void Submit(WorkFn work,
                                                                                    DoneFn done) {
    Submit(
        std::make_unique<internal::FunctionUnit<WorkFn, DoneFn>>(std::move(work), std::move(done)));
  }

  // Submits `work` and waits until its batch is committed; returns the unit's outcome. Must not
  // be called from the writer thread (inside Work or Done): that would wait for itself, so it
  // fails at once with kInternal instead.
  Status Run(Work work);

  // Stops accepting work, commits everything already queued (calling each Done), checkpoints
  // the WAL, closes the connection and joins the thread. Idempotent. Called from the writer
  // thread (inside Work or Done) it only stops accepting work and returns at once; the thread
  // still drains the queue, and a later Stop() or the destructor from another thread joins it.
  void Stop();

  // A check every write transaction must pass, e.g. that the audit chain was not cut behind the
  // writer's back (server/audit/chain_guard.h). `guard` runs on the writer thread right after
  // each BEGIN IMMEDIATE, inside the transaction: an error fails, with that error, every unit
  // the transaction was opened for, before any of them runs. It runs again right after each
  // successful COMMIT, outside a transaction, so it can note what the commit made; an error
  // there is only logged (the units have committed). Like a hook it must be quick, must not
  // throw and must not write. Replaces the previous guard; an empty function removes it.
  void SetTransactionGuard(std::function<Status(Connection&)> guard);

  // The observer of the writer's transactions (see TransactionObserver); replaces the previous
  // one, null removes it. Takes effect at the next transaction: one that is open keeps telling
  // the observer it began with, which the writer holds until that transaction ends.
  void SetTransactionObserver(std::shared_ptr<TransactionObserver> observer);

  WriterStats Stats() const;
  // The current storage fault, if any. Logged once when it begins and once when it ends.
  std::optional<StorageFault> storage_fault() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  Writer(Connection connection, std::optional<Connection> wal_checkpoint_connection,
         const WriterOptions& options);
  void Loop();
  // The WAL checkpoint thread: waits for the WAL hook to ask, checkpoints the WAL (PASSIVE:
  // never waits for or blocks the writer or readers), until Stop().
  void WalCheckpointLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CommitBatch(std::vector<std::unique_ptr<Unit>>& batch);
  Status RunUnit(Unit& unit, bool& transaction_intact);
  // Rolls back the open transaction, if any, and tells the observer it ended uncommitted.
  void AbandonTransaction();
  // Tells the transaction's observer, if any, that it ended; forgets it.
  void EndObserved(bool committed);
  // Called right after a failed BEGIN, unit or COMMIT: if SQLite's error is a storage fault,
  // records it and returns the Status the batch's units get; otherwise returns `status`.
  Status NoteFailure(const Status& status);
  void NoteCommitted();
  Status RunGuard();  // the transaction guard, if any; Ok without one
  void FinishBatch(std::vector<std::unique_ptr<Unit>>& batch, const std::vector<Status>& outcomes);
  void CloseConnection();
  bool OnWriterThread() const;

  Connection connection_;  // used only by the writer thread once it has started
  const std::filesystem::path path_;
  const size_t max_batch_;
  // Set while a failed transaction could not be rolled back; until a later rollback succeeds
  // every unit fails with it rather than risk committing half of a unit. Writer thread only.
  Status broken_;
  std::atomic<std::thread::id> writer_thread_id_{};

  mutable std::mutex mu_;
  std::condition_variable work_available_;
  std::deque<std::unique_ptr<Unit>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::mutex join_mu_;  // serializes joining the thread between concurrent Stop() calls

  std::mutex guard_mu_;                                   // held while the guard runs
  std::function<Status(Connection&)> transaction_guard_;  // guarded by guard_mu_
  std::shared_ptr<TransactionObserver> observer_;         // guarded by guard_mu_
  // The observer told of the open transaction (writer thread only); null between transactions.
  std::shared_ptr<TransactionObserver> observing_;

  std::atomic<uint64_t> queue_depth_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> units_{0};
  std::atomic<uint64_t> last_batch_size_{0};
  std::atomic<uint64_t> max_batch_size_{0};
  std::atomic<uint64_t> failed_commits_{0};
  std::atomic<uint64_t> wal_checkpoints_{0};
  std::atomic<uint64_t> storage_errors_{0};
  const std::chrono::milliseconds fault_probe_interval_;
  const uint64_t fault_clear_free_bytes_;
  mutable std::mutex fault_mu_;
  std::optional<StorageFault> fault_;  // guarded by fault_mu_

  // Background WAL checkpoints (empty when wal_checkpoint_pages is 0).
  std::optional<Connection>
      wal_checkpoint_connection_;  // WAL checkpoint thread; closed by the writer thread
  const int wal_checkpoint_pages_;
  std::mutex wal_checkpoint_mu_;
  std::mutex wal_checkpoint_run_mu_;  // held while either connection runs a WAL checkpoint
  std::condition_variable wal_checkpoint_wanted_;
  bool wal_checkpoint_requested_ = false;  // guarded by wal_checkpoint_mu_
  bool wal_checkpoint_stopping_ = false;   // guarded by wal_checkpoint_mu_
  std::thread wal_checkpoint_thread_;

  std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace outpost::sqlite
