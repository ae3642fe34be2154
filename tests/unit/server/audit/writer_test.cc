// The audit trail under the group-commit writer: rolled-back units leave no trace in the chain,
// and concurrent appends from many threads produce one valid chain.

#include "common/sqlite/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/audit/audit_log.h"
#include "server/audit/checkpoint.h"
#include "server/audit/verify.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
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

}  // namespace
}  // namespace outpost::server::audit
