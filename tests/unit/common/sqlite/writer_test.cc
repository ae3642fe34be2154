#include "common/sqlite/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

using outpost::sqlite::testing::CaptureDone;
using outpost::sqlite::testing::Gate;
using outpost::testing::TempDir;

constexpr Migration kSchema[] = {
    {1, "create_items", "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"},
    {2, "create_parents_and_children",
     "CREATE TABLE parents(id INTEGER PRIMARY KEY);"
     "CREATE TABLE children(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL"
     "  REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);"},
};

Writer::Work Insert(std::string name) {
  return [name = std::move(name)](Connection& db) -> Status {
    return db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", name).status();
  };
}

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = Writer::Create(path(), WriterOptions(), kSchema);
    ASSERT_OK(created);
    writer_ = std::move(created).value();
  }

  std::filesystem::path path() const { return dir_ / "outpost.db"; }

  // Item names, in insertion order, read through the writer (after everything queued before).
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    EXPECT_OK(writer_->Run([&names](Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(ScopedStatement rows,
                               db.Query("SELECT name FROM items ORDER BY id"));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, rows->Step());
        if (!row) return Status::Ok();
        names.push_back(rows->ColumnText(0));
      }
    }));
    return names;
  }

  TempDir dir_;
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterTest, UsesWalFullSynchronousAndForeignKeys) {
  int64_t synchronous = -1;
  int64_t foreign_keys = -1;
  std::string journal;
  ASSERT_OK(writer_->Run([&](Connection& db) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(synchronous, db.QueryInt64("PRAGMA synchronous"));
    OUTPOST_ASSIGN_OR_RETURN(foreign_keys, db.QueryInt64("PRAGMA foreign_keys"));
    OUTPOST_ASSIGN_OR_RETURN(ScopedStatement mode, db.Query("PRAGMA journal_mode"));
    OUTPOST_RETURN_IF_ERROR(mode->Step());
    journal = mode->ColumnText(0);
    return Status::Ok();
  }));
  EXPECT_EQ(synchronous, 2) << "2 is FULL";
  EXPECT_EQ(foreign_keys, 1);
  EXPECT_EQ(journal, "wal");
}

TEST_F(WriterTest, ConcurrentWritersAllLandExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kUnitsPerThread = 500;
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();

  std::atomic<int> failures{0};
  std::latch all_queued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto name = [t](int i) { return std::to_string(t) + "/" + std::to_string(i); };
      // The first unit of every thread is queued while the writer is held, so the batch after
      // the gate holds at least kThreads units whatever the scheduling.
      writer_->Submit(Insert(name(0)), [&failures](const Status& status) {
        if (!status.ok()) ++failures;
      });
      all_queued.count_down();
      for (int i = 1; i < kUnitsPerThread; ++i) {
        if (!writer_->Run(Insert(name(i))).ok()) ++failures;
      }
    });
  }
  all_queued.wait();
  gate.release.count_down();
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> names = Names();
  EXPECT_EQ(names.size(), size_t{kThreads * kUnitsPerThread});
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(),
            size_t{kThreads * kUnitsPerThread});

  WriterStats stats = writer_->Stats();
  EXPECT_EQ(stats.units, uint64_t{kThreads * kUnitsPerThread + 2});  // + gate + Names()
  EXPECT_GE(stats.max_batch_size, uint64_t{kThreads});
  EXPECT_LT(stats.batches, stats.units) << "no unit shared a commit with another";
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.failed_commits, 0u);
}

TEST_F(WriterTest, FailedUnitRollsBackOnlyItsOwnWork) {
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  writer_->Submit(
      [](Connection& db) -> Status {
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", "b"));
        return InvalidArgument("unit b changed its mind");
      },
      done_b);
  writer_->Submit(Insert("c"), done_c);
  gate.release.count_down();

  EXPECT_OK(a.get());
  Status b_status = b.get();
  EXPECT_EQ(b_status.code(), Errc::kInvalidArgument);
  EXPECT_EQ(b_status.message(), "unit b changed its mind");
  EXPECT_OK(c.get());
  WriterStats stats = writer_->Stats();
  EXPECT_EQ(stats.batches, 2u) << "a, b and c were meant to share one batch";
  EXPECT_EQ(stats.last_batch_size, 3u);
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "c"}));
}

// The writer thread is a thread boundary: an exception fails its own unit (rolled back), and a
// throwing completion or hook is logged; neither reaches std::terminate (issue 12).
class ThrowingFinisher final : public BatchFinisher {
 public:
  void Finish() override { throw 42; }
};

TEST_F(WriterTest, ThrowingUnitCompletionAndFinisherCostOnlyThemselves) {
  Status thrown = writer_->Run([](Connection& db) -> Status {
    OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", "half"));
    throw std::runtime_error("corrupt value");
  });
  EXPECT_EQ(thrown.code(), Errc::kInternal);
  EXPECT_NE(thrown.message().find("corrupt value"), std::string::npos) << thrown.message();

  auto [done_ok, ok] = CaptureDone();
  writer_->Submit(Insert("a"), [](const Status&) { throw std::logic_error("bad completion"); });
  writer_->Submit(Insert("b"),
                  [](const Status&, Batch& batch) { batch.Finisher<ThrowingFinisher>(nullptr); });
  writer_->Submit(Insert("c"), done_ok);
  EXPECT_OK(ok.get());
  EXPECT_OK(writer_->Run([](Connection&) { return Status::Ok(); }));
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "b", "c"}));
}

// The transaction guard runs inside each transaction before its units and again after each
// commit; while it fails, no unit runs, and the units get its error.
TEST_F(WriterTest, TransactionGuardRunsBeforeUnitsAndAfterCommitsAndCanRefuseThem) {
  std::atomic<int> calls{0};
  std::atomic<bool> refuse{false};
  std::atomic<bool> in_transaction_every_first_call{true};
  writer_->SetTransactionGuard([&](Connection& db) -> Status {
    // Odd calls come right after BEGIN, even ones right after COMMIT.
    const int n = ++calls;
    if (n % 2 == 1 && !db.InTransaction()) in_transaction_every_first_call = false;
    if (refuse) return Unavailable("the guard refuses");
    return Status::Ok();
  });
  EXPECT_OK(writer_->Run(Insert("a")));
  EXPECT_EQ(calls.load(), 2) << "once after BEGIN, once after COMMIT";
  EXPECT_TRUE(in_transaction_every_first_call.load());

  refuse = true;
  std::atomic<bool> ran{false};
  Status refused = writer_->Run([&](Connection& db) -> Status {
    ran = true;
    return db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", "b").status();
  });
  EXPECT_EQ(refused.code(), Errc::kUnavailable);
  EXPECT_EQ(refused.message(), "the guard refuses");
  EXPECT_FALSE(ran.load()) << "no unit runs in a transaction the guard refused";

  refuse = false;
  writer_->SetTransactionGuard(nullptr);
  EXPECT_OK(writer_->Run(Insert("c")));
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(WriterTest, ConstraintViolationIsReportedToThatUnitOnly) {
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("seat-1"), done_a);
  writer_->Submit(Insert("seat-1"), done_b);  // same name as its batch-mate a
  writer_->Submit(Insert("seat-2"), done_c);
  gate.release.count_down();

  EXPECT_OK(a.get());
  Status b_status = b.get();
  EXPECT_EQ(b_status.code(), Errc::kAlreadyExists) << b_status.ToString();
  EXPECT_NE(b_status.message().find("UNIQUE constraint failed: items.name"), std::string::npos);
  EXPECT_OK(c.get());
  EXPECT_EQ(writer_->Stats().last_batch_size, 3u);
  EXPECT_EQ(Names(), (std::vector<std::string>{"seat-1", "seat-2"}));
}

TEST_F(WriterTest, FailedCommitFailsEveryUnitOfTheBatchAndAppliesNothing) {
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  // The deferred foreign key is checked only at COMMIT, so the whole batch's commit fails.
  writer_->Submit(
      [](Connection& db) {
        return db.ExecPrepared("INSERT INTO children(parent) VALUES (?1)", 404).status();
      },
      done_b);
  gate.release.count_down();

  for (std::future<Status>* outcome : {&a, &b}) {
    Status status = outcome->get();
    EXPECT_EQ(status.code(), Errc::kFailedPrecondition) << status.ToString();
    EXPECT_NE(status.message().find("committing a batch of 2 units"), std::string::npos)
        << status.ToString();
  }
  EXPECT_EQ(writer_->Stats().failed_commits, 1u);
  EXPECT_TRUE(Names().empty());
  // The writer recovered: the next batch commits.
  ASSERT_OK(writer_->Run(Insert("after")));
  EXPECT_EQ(Names(), std::vector<std::string>{"after"});
}

TEST_F(WriterTest, UnitThatEndsTheTransactionFailsItsBatchMatesButNotLaterUnits) {
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  writer_->Submit([](Connection& db) { return db.Exec("ROLLBACK"); }, done_b);  // breaks the rules
  writer_->Submit(Insert("c"), done_c);
  gate.release.count_down();

  Status a_status = a.get();
  EXPECT_EQ(a_status.code(), Errc::kInternal) << a_status.ToString();
  EXPECT_NE(a_status.message().find("another unit in the same batch"), std::string::npos);
  EXPECT_EQ(b.get().code(), Errc::kInternal);
  EXPECT_OK(c.get());
  EXPECT_EQ(Names(), std::vector<std::string>{"c"});
}

// Records what the writer tells its TransactionObserver, as one letter per call: B(egun),
// u(nit begun), k(ept), r(olled back), C(ommitted), A(bandoned). Writer thread only; read after
// the writer is idle.
class RecordingObserver final : public TransactionObserver {
 public:
  void TransactionBegun(Connection& db) override {
    calls += 'B';
    in_transaction_at_begin = in_transaction_at_begin && db.InTransaction();
  }
  void UnitBegun() override { calls += 'u'; }
  void UnitEnded(bool kept) override { calls += kept ? 'k' : 'r'; }
  void TransactionEnded(bool committed) override { calls += committed ? 'C' : 'A'; }
  std::string calls;
  bool in_transaction_at_begin = true;
};

TEST_F(WriterTest, ObserverFollowsUnitsSavepointsAndTheTransaction) {
  auto observer = std::make_shared<RecordingObserver>();
  writer_->SetTransactionObserver(observer);
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  writer_->Submit(
      [](Connection& db) -> Status {
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", "b"));
        return InvalidArgument("unit b changed its mind");
      },
      done_b);
  writer_->Submit(Insert("a"), done_c);  // a constraint violation: rolled back too
  gate.release.count_down();
  EXPECT_OK(a.get());
  EXPECT_EQ(b.get().code(), Errc::kInvalidArgument);
  EXPECT_EQ(c.get().code(), Errc::kAlreadyExists);
  EXPECT_OK(writer_->Run([](Connection&) { return Status::Ok(); }));
  // The gate's batch (the observer was set before it), then a, b, c in one, then the last unit.
  EXPECT_EQ(observer->calls, "BukCBukururCBukC");
  EXPECT_TRUE(observer->in_transaction_at_begin);
  EXPECT_EQ(Names(), std::vector<std::string>{"a"});
}

TEST_F(WriterTest, ObserverHearsOfTransactionsThatDoNotCommit) {
  auto observer = std::make_shared<RecordingObserver>();
  writer_->SetTransactionObserver(observer);
  // A unit that ends the transaction itself: no UnitEnded for it, the transaction abandoned; the
  // next unit starts a new one.
  Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = CaptureDone();
  auto [done_b, b] = CaptureDone();
  auto [done_c, c] = CaptureDone();
  writer_->Submit(Insert("a"), done_a);
  writer_->Submit([](Connection& db) { return db.Exec("ROLLBACK"); }, done_b);
  writer_->Submit(Insert("c"), done_c);
  gate.release.count_down();
  EXPECT_EQ(a.get().code(), Errc::kInternal);
  EXPECT_EQ(b.get().code(), Errc::kInternal);
  EXPECT_OK(c.get());
  EXPECT_EQ(observer->calls, "BukCBukuABukC");

  // A failed COMMIT (a deferred foreign key): every unit was kept, the transaction was not.
  observer->calls.clear();
  EXPECT_EQ(writer_
                ->Run([](Connection& db) {
                  return db.ExecPrepared("INSERT INTO children(parent) VALUES (?1)", 404).status();
                })
                .code(),
            Errc::kFailedPrecondition);
  EXPECT_EQ(observer->calls, "BukA");

  // A transaction the guard refuses is never begun for the observer; removing the observer
  // stops the calls.
  observer->calls.clear();
  writer_->SetTransactionGuard([](Connection&) { return Unavailable("the guard refuses"); });
  EXPECT_EQ(writer_->Run(Insert("d")).code(), Errc::kUnavailable);
  writer_->SetTransactionGuard(nullptr);
  writer_->SetTransactionObserver(nullptr);
  EXPECT_OK(writer_->Run(Insert("e")));
  EXPECT_EQ(observer->calls, "");
  EXPECT_EQ(Names(), (std::vector<std::string>{"c", "e"}));
}

TEST_F(WriterTest, RunFromInsideAUnitFailsInsteadOfDeadlocking) {
  Status inner;
  ASSERT_OK(writer_->Run([&](Connection&) {
    inner = writer_->Run(Insert("never"));
    return Status::Ok();
  }));
  EXPECT_EQ(inner.code(), Errc::kInternal);
  EXPECT_NE(inner.message().find("writer thread"), std::string::npos);
  EXPECT_TRUE(Names().empty());
}

TEST_F(WriterTest, SubmitAfterStopIsUnavailableAndDoesNotRunTheWork) {
  writer_->Stop();
  bool ran = false;
  auto [done, outcome] = CaptureDone();
  writer_->Submit(
      [&ran](Connection&) {
        ran = true;
        return Status::Ok();
      },
      done);
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "Done after Stop must be called at once";
  Status status = outcome.get();
  EXPECT_EQ(status.code(), Errc::kUnavailable);
  EXPECT_NE(status.message().find("shutting down"), std::string::npos) << status.ToString();
  EXPECT_EQ(writer_->Run(Insert("late")).code(), Errc::kUnavailable);
  EXPECT_FALSE(ran);
  writer_->Stop();  // idempotent
}

TEST_F(WriterTest, StopDrainsQueuedWork) {
  constexpr int kQueued = 100;
  Gate gate;
  // Stop() begins on the writer thread while the units below are certainly queued behind it.
  writer_->Submit(
      [&](Connection& db) {
        OUTPOST_RETURN_IF_ERROR(gate.Hold()(db));
        writer_->Stop();
        return Status::Ok();
      },
      nullptr);
  gate.entered.wait();
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kQueued; ++i) {
    writer_->Submit(Insert("queued-" + std::to_string(i)),
                    [&](const Status& status) { ++(status.ok() ? ok : failed); });
  }
  gate.release.count_down();
  writer_->Stop();

  EXPECT_EQ(ok.load(), kQueued);
  EXPECT_EQ(failed.load(), 0);
  writer_.reset();
  auto reopened = Connection::Open(path());
  ASSERT_OK(reopened);
  auto count = reopened->QueryInt64("SELECT count(*) FROM items");
  ASSERT_OK(count);
  EXPECT_EQ(*count, kQueued);
}

TEST(WriterCreateTest, RefusesADatabaseWithANewerSchema) {
  TempDir dir;
  {
    auto db = Connection::Open(dir / "outpost.db");
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("PRAGMA user_version = 9"));
  }
  auto writer = Writer::Create(dir / "outpost.db", WriterOptions(), kSchema);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(writer.status().message().find("has schema version 9"), std::string::npos);
}

TEST(WriterCreateTest, RejectsAZeroBatchSize) {
  TempDir dir;
  WriterOptions options;
  options.max_batch = 0;
  auto writer = Writer::Create(dir / "outpost.db", options, kSchema);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), Errc::kInvalidArgument);
}

TEST(WriterCreateTest, BatchesNeverExceedMaxBatch) {
  TempDir dir;
  WriterOptions options;
  options.max_batch = 4;
  auto created = Writer::Create(dir / "outpost.db", options, kSchema);
  ASSERT_OK(created);
  Writer& writer = **created;
  Gate gate;
  writer.Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  std::vector<std::future<Status>> outcomes;
  for (int i = 0; i < 10; ++i) {
    auto [done, outcome] = CaptureDone();
    writer.Submit(Insert(std::to_string(i)), done);
    outcomes.push_back(std::move(outcome));
  }
  EXPECT_EQ(writer.Stats().queue_depth, 10u);
  gate.release.count_down();
  for (auto& outcome : outcomes) EXPECT_OK(outcome.get());
  WriterStats stats = writer.Stats();
  EXPECT_EQ(stats.max_batch_size, 4u);
  EXPECT_EQ(stats.batches, 4u) << "gate, then 4 + 4 + 2";
  EXPECT_EQ(stats.last_batch_size, 2u);
}

// Counts into `events` (writer thread only) and tells the test when it finished.
class RecordingFinisher final : public BatchFinisher {
 public:
  RecordingFinisher(std::vector<std::string>* events, std::vector<int>* sizes, std::latch* finished)
      : events_(events), sizes_(sizes), finished_(finished) {}
  void Add(int unit) { units_.push_back(unit); }
  void Finish() override {
    events_->push_back("finish");
    sizes_->push_back(static_cast<int>(units_.size()));
    finished_->count_down();
  }

 private:
  std::vector<std::string>* events_;
  std::vector<int>* sizes_;
  std::latch* finished_;
  std::vector<int> units_;
};

TEST(WriterBatchTest, AFinisherIsSharedByItsBatchAndRunsOnceAfterEveryDone) {
  TempDir dir;
  WriterOptions options;
  options.max_batch = 4;
  auto created = Writer::Create(dir / "outpost.db", options, kSchema);
  ASSERT_OK(created);
  Writer& writer = **created;
  // Writer thread only: Dones record themselves, the finisher records the batch it closes.
  std::vector<std::string> events;
  std::vector<int> sizes;
  std::latch finished(2);  // one finisher per batch of units
  Gate gate;
  writer.Submit(gate.Hold(), [&](const Status&) { events.push_back("gate"); });
  gate.entered.wait();
  int owner = 0;
  for (int i = 0; i < 6; ++i) {
    // Unit 2 fails: its Done still runs, and it does not join the finisher.
    auto work = [i](Connection& db) -> Result<int> {
      if (i == 2) return Internal("refused");
      OUTPOST_RETURN_IF_ERROR(
          db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", std::to_string(i)).status());
      return i;
    };
    writer.Submit(std::move(work), [&, i](Result<int> r, Batch& batch) {
      events.push_back(std::to_string(i));
      if (!r.ok()) return;
      EXPECT_EQ(*r, i);
      batch.Finisher<RecordingFinisher>(&owner, &events, &sizes, &finished).Add(*r);
    });
  }
  gate.release.count_down();
  finished.wait();
  // gate | 0 1 2 3 | 4 5 (the gate's batch made no finisher)
  const std::vector<std::string> expected = {"gate",   "0", "1", "2",     "3",
                                             "finish", "4", "5", "finish"};
  EXPECT_EQ(events, expected);
  EXPECT_EQ(sizes, (std::vector<int>{3, 2}));
}

// Finishers are per owner: two owners in one batch get one finisher each.
TEST(WriterBatchTest, FinishersAreKeptApartByOwner) {
  TempDir dir;
  auto created = Writer::Create(dir / "outpost.db", {}, kSchema);
  ASSERT_OK(created);
  Writer& writer = **created;
  std::vector<std::string> events;
  std::vector<int> sizes;
  std::latch finished(2);
  Gate gate;
  writer.Submit(gate.Hold(), [](const Status&) {});
  gate.entered.wait();
  int first = 0, second = 0;
  for (int i = 0; i < 3; ++i) {
    writer.Submit(
        [](Connection&) -> Result<int> { return 1; },
        [&, i](Result<int> r, Batch& batch) {
          ASSERT_TRUE(r.ok());
          batch.Finisher<RecordingFinisher>(i == 1 ? &second : &first, &events, &sizes, &finished)
              .Add(i);
        });
  }
  gate.release.count_down();
  finished.wait();
  EXPECT_EQ(sizes, (std::vector<int>{2, 1}));
}

// A typed unit whose batch fails to commit gets the commit's error, not its value.
TEST(WriterBatchTest, ATypedUnitOfAFailedBatchGetsTheError) {
  TempDir dir;
  auto created = Writer::Create(dir / "outpost.db", {}, kSchema);
  ASSERT_OK(created);
  Writer& writer = **created;
  std::promise<Result<std::string>> outcome;
  writer.Submit(
      [](Connection& db) -> Result<std::string> {
        OUTPOST_RETURN_IF_ERROR(db.Exec("INSERT INTO items(name) VALUES ('x')"));
        // Ends the transaction behind the writer's back: the unit cannot be kept.
        OUTPOST_RETURN_IF_ERROR(db.Exec("ROLLBACK"));
        return std::string("value");
      },
      [&](Result<std::string> r) { outcome.set_value(std::move(r)); });
  Result<std::string> r = outcome.get_future().get();
  EXPECT_FALSE(r.ok());
  writer.Stop();
}

// Pages in the WAL file: its size less the 32-byte header, in frames of 24 + 4096 bytes.
int64_t WalFrames(const std::filesystem::path& db) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(db.string() + "-wal", ec);
  return ec || size < 32 ? 0 : static_cast<int64_t>((size - 32) / (24 + 4096));
}

TEST(WriterWalCheckpointTest, WalCheckpointsRunInTheBackgroundAndKeepTheWalSmall) {
  TempDir dir;
  WriterOptions options;
  options.wal_checkpoint_pages = 20;
  auto created = Writer::Create(dir / "outpost.db", options, kSchema);
  ASSERT_OK(created);
  Writer& writer = **created;
  // ~2 KB per row: each commit of 8 rows adds several pages, so the hook asks often.
  for (int batch = 0; batch < 200; ++batch) {
    ASSERT_OK(writer.Run([batch](Connection& db) -> Status {
      for (int i = 0; i < 8; ++i) {
        OUTPOST_RETURN_IF_ERROR(
            db.ExecPrepared("INSERT INTO items(name) VALUES (?1)",
                            std::to_string(batch * 8 + i) + std::string(2000, 'x'))
                .status());
      }
      return Status::Ok();
    }));
  }
  // Bounded wait for the WAL checkpoint thread to have caught up at least once.
  for (int i = 0; i < 500 && writer.Stats().wal_checkpoints == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(writer.Stats().wal_checkpoints, 0u);
  // Without restarts the WAL would hold every page of every commit (~3,500 frames); the writer
  // catches up itself at 4 x 20 pages, so the file stays near that plus one commit.
  EXPECT_LT(WalFrames(dir / "outpost.db"), 200) << "the WAL was not reused after WAL checkpoints";
  writer.Stop();
  EXPECT_EQ(WalFrames(dir / "outpost.db"), 0) << "the last close checkpoints and removes the WAL";
  auto check = Connection::Open(dir / "outpost.db", {.mode = OpenMode::kReadOnly});
  ASSERT_OK(check);
  auto count = check->QueryInt64("SELECT count(*) FROM items");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1600);
}

TEST(WriterWalCheckpointTest, ZeroPagesLeavesWalCheckpointsToSqlite) {
  TempDir dir;
  WriterOptions options;
  options.wal_checkpoint_pages = 0;
  auto created = Writer::Create(dir / "outpost.db", options, kSchema);
  ASSERT_OK(created);
  ASSERT_OK((*created)->Run(Insert("a")));
  EXPECT_EQ((*created)->Stats().wal_checkpoints, 0u);
}

}  // namespace
}  // namespace outpost::sqlite
