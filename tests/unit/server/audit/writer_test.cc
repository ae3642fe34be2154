// The audit trail under the group-commit writer: rolled-back units leave no trace in the chain,
// and concurrent appends from many threads produce one valid chain.

#include "common/sqlite/writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/audit/audit_log.h"
#include "server/audit/checkpoint.h"
#include "server/audit/head_cache.h"
#include "server/audit/verify.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/common/sqlite/sqlite_test_util.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using outpost::testing::FakeClock;
using outpost::testing::TempDir;

class AuditWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer =
        sqlite::Writer::Create(dir_ / "outpost.db", options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(*writer);
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_OK(key);
    key_ = std::make_unique<crypto::PrivateKey>(std::move(*key));
  }

  sqlite::Writer::Work AppendWork(std::string action) {
    return [this, action = std::move(action)](sqlite::Connection& db) {
      return Append(db, {{"user", "alice"}, action, "object", "{}"}, clock_.Now());
    };
  }

  // Verify through a connection of its own, as `outpost audit verify --db` does.
  VerifyReport VerifyFile() {
    sqlite::OpenOptions options;
    options.mode = sqlite::OpenMode::kReadOnly;
    auto reader = sqlite::Connection::Open(dir_ / "outpost.db", options);
    EXPECT_OK(reader);
    if (!reader.ok()) return {};
    auto report = Verify(*reader, key_->public_key());
    EXPECT_OK(report);
    return report.ok() ? *report : VerifyReport{};
  }

  std::vector<std::string> ActionsInSeqOrder() {
    sqlite::OpenOptions options;
    options.mode = sqlite::OpenMode::kReadOnly;
    auto reader = sqlite::Connection::Open(dir_ / "outpost.db", options);
    EXPECT_OK(reader);
    std::vector<std::string> actions;
    if (!reader.ok()) return actions;
    auto statement = reader->Query("SELECT seq, action FROM audit_log ORDER BY seq");
    EXPECT_OK(statement);
    if (!statement.ok()) return actions;
    int64_t expected_seq = 1;
    while (true) {
      auto row = (*statement)->Step();
      EXPECT_OK(row);
      if (!row.ok() || !*row) break;
      EXPECT_EQ((*statement)->ColumnInt64(0), expected_seq++);
      actions.push_back((*statement)->ColumnText(1));
    }
    return actions;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<crypto::PrivateKey> key_;
};

TEST_F(AuditWriterTest, FailedUnitInABatchLeavesNoRecordAndTheChainStaysValid) {
  // Hold the writer thread in a first unit until A, B and C are queued, so that they are
  // committed together in one batch.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocked;
  writer_->Submit(
      [&](sqlite::Connection&) {
        blocked.set_value();
        released.wait();
        return Status::Ok();
      },
      nullptr);
  blocked.get_future().wait();

  std::promise<Status> a_done, b_done, c_done;
  writer_->Submit(AppendWork("unit.a"), [&](const Status& s) { a_done.set_value(s); });
  writer_->Submit(
      [&](sqlite::Connection& db) {
        OUTPOST_RETURN_IF_ERROR(Append(db, {{"user", "bob"}, "unit.b", "x", "{}"}, clock_.Now()));
        return FailedPrecondition("unit B changed its mind after appending");
      },
      [&](const Status& s) { b_done.set_value(s); });
  writer_->Submit(AppendWork("unit.c"), [&](const Status& s) { c_done.set_value(s); });
  release.set_value();

  EXPECT_OK(a_done.get_future().get());
  EXPECT_EQ(b_done.get_future().get().code(), Errc::kFailedPrecondition);
  EXPECT_OK(c_done.get_future().get());
  EXPECT_EQ(writer_->Stats().last_batch_size, 3u) << "A, B and C shared one transaction";

  EXPECT_EQ(ActionsInSeqOrder(), (std::vector<std::string>{"unit.a", "unit.c"}));
  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 2);
}

TEST_F(AuditWriterTest, ChainVerifiesAfterHeavyConcurrentActivity) {
  constexpr int kThreads = 8;
  constexpr int kUnitsPerThread = 250;
  constexpr int kCheckpointsPerThread = 2;
  std::latch all_done(kThreads * (kUnitsPerThread + kCheckpointsPerThread));
  std::atomic<int> failures{0};
  auto done = [&](const Status& status) {
    if (!status.ok()) failures.fetch_add(1);
    all_done.count_down();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kUnitsPerThread; ++i) {
        writer_->Submit(AppendWork("thread" + std::to_string(t) + ".unit" + std::to_string(i)),
                        done);
        // Checkpoints interleave with the appends, as the timer will make them do.
        if (i == 50 || i == 150) {  // kCheckpointsPerThread
          writer_->Submit(
              [&](sqlite::Connection& db) { return SignCheckpoint(db, *key_, clock_.Now()); },
              done);
        }
        clock_.Advance(std::chrono::milliseconds(1));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  all_done.wait();
  EXPECT_EQ(failures.load(), 0);

  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, kThreads * kUnitsPerThread);
  EXPECT_EQ(report.last_seq, kThreads * kUnitsPerThread);
  EXPECT_GE(report.checkpoints_checked, 1);
  EXPECT_EQ(ActionsInSeqOrder().size(), static_cast<size_t>(kThreads * kUnitsPerThread));
}

// The same writer with the chain's head kept in memory (HeadCache), as the satellite runs it.
class AuditHeadCacheTest : public AuditWriterTest {
 protected:
  void SetUp() override {
    AuditWriterTest::SetUp();
    if (writer_) writer_->SetTransactionObserver(std::make_shared<HeadCache>());
  }

  // How often the writer's connection has run the head's SELECT so far.
  int HeadQueries() {
    int runs = -1;
    EXPECT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(
          sqlite::Statement * statement,
          db.Prepare("SELECT seq, hash, time_ms FROM audit_log ORDER BY seq DESC LIMIT 1"));
      runs = sqlite3_stmt_status(statement->handle(), SQLITE_STMTSTATUS_RUN, 0);
      return Status::Ok();
    }));
    return runs;
  }

  // A unit that appends `count` records named `action`.N, then fails if `fail` is set.
  sqlite::Writer::Work AppendThen(std::string action, int count, bool fail) {
    return [this, action = std::move(action), count, fail](sqlite::Connection& db) -> Status {
      for (int i = 0; i < count; ++i) {
        OUTPOST_RETURN_IF_ERROR(
            Append(db, {{"user", "alice"}, action + "." + std::to_string(i), "object", "{}"},
                   clock_.Now()));
      }
      if (fail) return FailedPrecondition(action + " changed its mind after appending");
      return Status::Ok();
    };
  }
};

TEST_F(AuditHeadCacheTest, RolledBackUnitsPutTheHeadBackAndTheChainStaysValid) {
  sqlite::testing::Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  std::vector<std::future<Status>> outcomes;
  auto submit = [&](sqlite::Writer::Work work) {
    auto [done, outcome] = sqlite::testing::CaptureDone();
    writer_->Submit(std::move(work), std::move(done));
    outcomes.push_back(std::move(outcome));
  };
  submit(AppendThen("a", 1, false));
  submit(AppendThen("b", 2, true));  // rolled back after two appends
  submit(AppendThen("c", 1, false));
  submit(AppendThen("d", 3, true));  // rolled back after three
  submit(AppendThen("e", 2, false));
  submit(AppendThen("f", 1, true));  // the batch's last unit, rolled back
  gate.release.count_down();
  const std::vector<bool> expected_ok = {true, false, true, false, true, false};
  for (size_t i = 0; i < outcomes.size(); ++i) {
    Status s = outcomes[i].get();
    EXPECT_EQ(s.ok(), expected_ok[i]) << i << ": " << s.ToString();
  }
  EXPECT_EQ(writer_->Stats().last_batch_size, 6u) << "the six units shared one transaction";
  // The next transaction continues from what committed, not from f's rolled-back record.
  ASSERT_OK(writer_->Run(AppendThen("g", 1, false)));

  EXPECT_EQ(ActionsInSeqOrder(), (std::vector<std::string>{"a.0", "c.0", "e.0", "e.1", "g.0"}));
  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 5);
}

TEST_F(AuditHeadCacheTest, HeadIsReadOncePerTransactionNotOncePerRecord) {
  ASSERT_OK(writer_->Run(AppendThen("warm", 1, false)));
  const int before = HeadQueries();
  ASSERT_GE(before, 1);
  // One unit of 20 records, then a batch of 10 one-record units: two transactions.
  ASSERT_OK(writer_->Run(AppendThen("many", 20, false)));
  sqlite::testing::Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  std::vector<std::future<Status>> outcomes;
  for (int i = 0; i < 10; ++i) {
    auto [done, outcome] = sqlite::testing::CaptureDone();
    writer_->Submit(AppendThen("unit" + std::to_string(i), 1, false), std::move(done));
    outcomes.push_back(std::move(outcome));
  }
  gate.release.count_down();
  for (auto& outcome : outcomes) EXPECT_OK(outcome.get());
  EXPECT_EQ(HeadQueries() - before, 2) << "one read of the head per transaction";
  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 31);
}

TEST_F(AuditHeadCacheTest, AnAbandonedTransactionAndAnotherWriterBetweenBatchesAreFollowed) {
  ASSERT_OK(writer_->Run(AppendThen("first", 1, false)));
  // A unit that ends the transaction itself (against the writer's rules) takes its batch-mates'
  // records with it; the next transaction must not chain onto them.
  sqlite::testing::Gate gate;
  writer_->Submit(gate.Hold(), nullptr);
  gate.entered.wait();
  auto [done_a, a] = sqlite::testing::CaptureDone();
  auto [done_b, b] = sqlite::testing::CaptureDone();
  auto [done_c, c] = sqlite::testing::CaptureDone();
  writer_->Submit(AppendThen("lost", 2, false), done_a);
  writer_->Submit([](sqlite::Connection& db) { return db.Exec("ROLLBACK"); }, done_b);
  writer_->Submit(AppendThen("after", 1, false), done_c);
  gate.release.count_down();
  EXPECT_FALSE(a.get().ok());
  EXPECT_FALSE(b.get().ok());
  EXPECT_OK(c.get());

  // Another connection (another process, say) appends between two of the writer's transactions.
  {
    auto other = sqlite::Connection::Open(dir_ / "outpost.db", testing::FastOptions());
    ASSERT_OK(other);
    ASSERT_OK(Append(*other, {{"user", "bob"}, "elsewhere", "object", "{}"}, clock_.Now()));
  }
  ASSERT_OK(writer_->Run(AppendThen("last", 2, false)));

  EXPECT_EQ(ActionsInSeqOrder(),
            (std::vector<std::string>{"first.0", "after.0", "elsewhere", "last.0", "last.1"}));
  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 5);
}

TEST_F(AuditHeadCacheTest, ChainVerifiesAfterConcurrentBatchesWithFailures) {
  constexpr int kThreads = 4;
  constexpr int kUnitsPerThread = 150;
  std::latch all_done(kThreads * kUnitsPerThread);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kUnitsPerThread; ++i) {
        // Every fifth unit fails after appending, at random places in the batches.
        writer_->Submit(
            AppendThen("t" + std::to_string(t) + "." + std::to_string(i), 1 + i % 3, i % 5 == 4),
            [&](const Status& s) {
              if (!s.ok()) failed.fetch_add(1);
              all_done.count_down();
            });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  all_done.wait();
  EXPECT_EQ(failed.load(), kThreads * kUnitsPerThread / 5);
  int expected_records = 0;
  for (int i = 0; i < kUnitsPerThread; ++i) {
    if (i % 5 != 4) expected_records += kThreads * (1 + i % 3);
  }
  const VerifyReport report = VerifyFile();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, expected_records);
  EXPECT_EQ(report.last_seq, expected_records);
}

}  // namespace
}  // namespace outpost::server::audit
