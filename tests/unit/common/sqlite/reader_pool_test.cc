#include "common/sqlite/reader_pool.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "common/sqlite/writer.h"
#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

using outpost::sqlite::testing::Gate;
using outpost::testing::TempDir;

constexpr Migration kSchema[] = {
    {1, "create_items", "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
};

Writer::Work Insert(std::string name) {
  return [name = std::move(name)](Connection& db) -> Status {
    return db.ExecPrepared("INSERT INTO items(name) VALUES (?1)", name).status();
  };
}

class ReaderPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = Writer::Create(dir_ / "outpost.db", WriterOptions(), kSchema);
    ASSERT_OK(writer);
    writer_ = std::move(writer).value();
    ReaderPoolOptions options;
    options.max_readers = 2;
    auto pool = ReaderPool::Create(dir_ / "outpost.db", options);
    ASSERT_OK(pool);
    pool_ = std::move(pool).value();
  }

  void TearDown() override {
    // Both may be null if SetUp failed; the pool must go before the file's writer for a clean
    // final checkpoint.
    pool_.reset();
    writer_.reset();
  }

  static int64_t CountItems(Connection& db) {
    auto count = db.QueryInt64("SELECT count(*) FROM items");
    EXPECT_OK(count);
    return count.ok() ? *count : -1;
  }

  TempDir dir_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReaderPool> pool_;
};

TEST_F(ReaderPoolTest, ReadersSeeCommittedDataOnly) {
  Gate gate;
  writer_->Submit(
      [&gate](Connection& db) -> Status {
        OUTPOST_RETURN_IF_ERROR(db.ExecPrepared("INSERT INTO items(name) VALUES ('pending')"));
        return gate.Hold()(db);  // inserted, not yet committed
      },
      nullptr);
  gate.entered.wait();
  auto lease = pool_->Acquire();
  ASSERT_OK(lease);
  EXPECT_EQ(CountItems(**lease), 0) << "a reader saw uncommitted data";

  gate.release.count_down();
  ASSERT_OK(writer_->Run(Insert("committed")));  // queued after the held batch: runs after it
  EXPECT_EQ(CountItems(**lease), 2);
}

TEST_F(ReaderPoolTest, ReaderCannotWrite) {
  ASSERT_OK(writer_->Run(Insert("one")));
  auto lease = pool_->Acquire();
  ASSERT_OK(lease);
  EXPECT_TRUE((*lease)->read_only());
  auto inserted = (*lease)->ExecPrepared("INSERT INTO items(name) VALUES ('two')");
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.status().code(), Errc::kFailedPrecondition) << inserted.status().ToString();
  EXPECT_NE(inserted.status().message().find("readonly"), std::string::npos)
      << inserted.status().ToString();
  EXPECT_EQ(CountItems(**lease), 1);
}

TEST_F(ReaderPoolTest, ConnectionsOpenLazilyUpToTheLimitAndAreReused) {
  EXPECT_EQ(pool_->open_connections(), 1u);
  Connection* first_connection = nullptr;
  {
    auto first = pool_->Acquire();
    ASSERT_OK(first);
    first_connection = &(*first).connection();
    auto second = pool_->Acquire();
    ASSERT_OK(second);
    EXPECT_NE(&(*second).connection(), first_connection);
    EXPECT_EQ(pool_->open_connections(), 2u);

    // With both leased, a third Acquire waits for a return.
    std::optional<Result<ReaderPool::Lease>> third;
    std::thread waiter([&] { third.emplace(pool_->Acquire()); });
    { auto returned = std::move(*first); }
    waiter.join();
    ASSERT_TRUE(third.has_value());
    ASSERT_OK(*third);
    EXPECT_EQ(&(**third).connection(), first_connection);
  }
  EXPECT_EQ(pool_->open_connections(), 2u);
}

TEST_F(ReaderPoolTest, ReturnedLeaseKeepsNoSnapshotOpen) {
  ReaderPoolOptions options;
  options.max_readers = 1;
  auto single = ReaderPool::Create(dir_ / "outpost.db", options);
  ASSERT_OK(single);
  {
    auto lease = (*single)->Acquire();
    ASSERT_OK(lease);
    ASSERT_OK((*lease)->Exec("BEGIN"));
    EXPECT_EQ(CountItems(**lease), 0);  // the read transaction now holds a snapshot
    auto rows = (*lease)->Query("SELECT name FROM items");
    ASSERT_OK(rows);
    ASSERT_OK((*rows)->Step());
  }
  ASSERT_OK(writer_->Run(Insert("new")));
  auto lease = (*single)->Acquire();  // the same connection: max_readers is 1
  ASSERT_OK(lease);
  EXPECT_FALSE((*lease)->InTransaction());
  EXPECT_EQ(CountItems(**lease), 1) << "the next user read an old snapshot";
}

TEST(ReaderPoolCreateTest, MissingDatabaseFailsNamingThePath) {
  TempDir dir;
  auto pool = ReaderPool::Create(dir / "missing.db");
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), Errc::kUnavailable) << pool.status().ToString();
  EXPECT_NE(pool.status().message().find((dir / "missing.db").string()), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
}

}  // namespace
}  // namespace outpost::sqlite
