// The running server's own witness of the chain (server/audit/chain_guard.h): behind the
// writer's back, cutting the end of the trail or rewriting a committed record stops every
// further write, while the writer's own rolled-back units and extensions by others do not.

#include "server/audit/chain_guard.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/sqlite/writer.h"
#include "server/audit/audit_log.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using outpost::testing::FakeClock;
using outpost::testing::TempDir;

class ChainGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer = sqlite::Writer::Create(path(), options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(*writer);
    for (int i = 0; i < 3; ++i) ASSERT_OK(Append("before.start"));
    auto other = Other();
    ASSERT_OK(other);
    auto head = CurrentHead(*other);
    ASSERT_OK(head);
    guard_ = std::make_shared<ChainGuard>(*head);
    writer_->SetTransactionGuard(
        [guard = guard_](sqlite::Connection& db) { return guard->Observe(db); });
  }

  std::filesystem::path path() const { return dir_ / "outpost.db"; }

  Status Append(std::string action) {
    return writer_->Run([this, action](sqlite::Connection& db) {
      return audit::Append(db, {{"user", "alice"}, action, "object", "{}"}, clock_.Now());
    });
  }

  // Another connection to the same file: someone with file access, e.g. the sqlite3 shell.
  Result<sqlite::Connection> Other() {
    return sqlite::Connection::Open(path(), testing::FastOptions());
  }

  int64_t Records() {
    auto other = Other();
    EXPECT_OK(other);
    if (!other.ok()) return -1;
    auto count = other->QueryInt64("SELECT count(*) FROM audit_log");
    EXPECT_OK(count);
    return count.ok() ? *count : -1;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::shared_ptr<ChainGuard> guard_;
};

TEST_F(ChainGuardTest, WritesContinueWhileTheChainOnlyGrows) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Append("normal.work"));
  EXPECT_EQ(guard_->Problem(), "");
  EXPECT_EQ(guard_->Known().seq, 8);
}

TEST_F(ChainGuardTest, RecordsRemovedBehindTheWritersBackStopEveryWrite) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Append("normal.work"));
  {
    auto other = Other();
    ASSERT_OK(other);
    ASSERT_OK(other->Exec("DELETE FROM audit_log WHERE seq > 5; DELETE FROM audit_checkpoints"));
  }
  Status refused = Append("after.the.cut");
  EXPECT_EQ(refused.code(), Errc::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("now ends at record 5"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("already seen record 8"), std::string::npos);
  EXPECT_NE(refused.message().find("outpost audit compare-heads"), std::string::npos);
  EXPECT_EQ(Records(), 5) << "the chain was not continued from the cut";

  // Sticky: even once someone appends enough to pass the old length, writes stay refused.
  EXPECT_EQ(Append("again").code(), Errc::kUnavailable);
  EXPECT_NE(guard_->Problem(), "");
  EXPECT_EQ(Records(), 5);
}

TEST_F(ChainGuardTest, ARecordRewrittenBehindTheWritersBackStopsEveryWrite) {
  ASSERT_OK(Append("normal.work"));
  {
    auto other = Other();
    ASSERT_OK(other);
    // The attacker rewrites the newest record, hash and all, so the chain itself still links.
    ASSERT_OK(other->Exec("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 4"));
  }
  Status refused = Append("after.the.rewrite");
  EXPECT_EQ(refused.code(), Errc::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("no longer has the hash"), std::string::npos)
      << refused.message();
  EXPECT_EQ(Records(), 4);
}

TEST_F(ChainGuardTest, AnOlderRecordRewrittenUnderANewerHeadIsFoundToo) {
  ASSERT_OK(Append("normal.work"));  // seq 4: the guard knows it after the commit
  {
    auto other = Other();
    ASSERT_OK(other);
    ASSERT_OK(other->Exec("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 4"));
    // ... and an extension on top, so the chain is longer than the guard's head.
    ASSERT_OK(other->Exec(
        "INSERT INTO audit_log (seq, time_ms, actor, action, object, details, prev_hash, hash) "
        "VALUES (5, 0, 'system', 'forged', '', '{}', zeroblob(32), zeroblob(32))"));
  }
  EXPECT_EQ(Append("after.the.rewrite").code(), Errc::kUnavailable);
}

TEST_F(ChainGuardTest, AnExtensionByAnotherWriterIsAccepted) {
  {
    auto other = Other();
    ASSERT_OK(other);
    ASSERT_OK(audit::Append(*other, {{"system", ""}, "other.process", "", "{}"}, clock_.Now()));
  }
  EXPECT_OK(Append("after.the.extension"));
  EXPECT_EQ(guard_->Known().seq, 5);
  EXPECT_EQ(guard_->Problem(), "");
}

TEST_F(ChainGuardTest, AUnitRolledBackAfterAppendingDoesNotTrip) {
  Status undone = writer_->Run([this](sqlite::Connection& db) {
    OUTPOST_RETURN_IF_ERROR(
        audit::Append(db, {{"user", "bob"}, "changed.mind", "x", "{}"}, clock_.Now()));
    return FailedPrecondition("the unit changed its mind after appending");
  });
  EXPECT_EQ(undone.code(), Errc::kFailedPrecondition);
  EXPECT_OK(Append("next"));
  EXPECT_EQ(guard_->Problem(), "");
  EXPECT_EQ(Records(), 4);
}

}  // namespace
}  // namespace outpost::server::audit
