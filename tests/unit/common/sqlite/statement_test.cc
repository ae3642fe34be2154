#include "common/sqlite/statement.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "common/sqlite/connection.h"
#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

// Unsigned 64-bit values may not fit SQLite's INTEGER and must be cast explicitly; narrower
// integers and bool bind as INTEGER.
template <typename T>
concept Bindable = requires(Statement& statement, T value) {
  statement.Bind(1, value);
};
static_assert(!Bindable<uint64_t>);
static_assert(!Bindable<size_t>);
static_assert(Bindable<uint32_t> && Bindable<bool> && Bindable<int> && Bindable<int64_t>);

class StatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Connection::Open(dir_ / "statements.db");
    ASSERT_OK(opened);
    db_.emplace(std::move(opened).value());
    ASSERT_OK(db_->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v ANY)"));
  }

  // The value stored in row `id`, read back through a fresh query.
  Result<ScopedStatement> Row(int64_t id) {
    OUTPOST_ASSIGN_OR_RETURN(ScopedStatement row,
                             db_->Query("SELECT v, typeof(v) FROM t WHERE id = ?1", id));
    OUTPOST_ASSIGN_OR_RETURN(bool found, row->Step());
    if (!found) return NotFound("no row " + std::to_string(id));
    return row;
  }

  outpost::testing::TempDir dir_;
  std::optional<Connection> db_;
};

TEST_F(StatementTest, PrepareReturnsTheSameCachedStatementForTheSameSql) {
  auto first = db_->Prepare("SELECT v FROM t WHERE id = ?1");
  auto second = db_->Prepare("SELECT v FROM t WHERE id = ?1");
  auto other = db_->Prepare("SELECT id FROM t WHERE v = ?1");
  ASSERT_OK(first);
  ASSERT_OK(second);
  ASSERT_OK(other);
  EXPECT_EQ(*first, *second);
  EXPECT_NE(*first, *other);
}

TEST_F(StatementTest, ScopedStatementLeavesTheCachedStatementResetAndUnbound) {
  Statement* cached = nullptr;
  {
    auto query = db_->Query("SELECT ?1", int64_t{42});
    ASSERT_OK(query);
    cached = (*query).get();
    auto row = (*query)->Step();
    ASSERT_OK(row);
    ASSERT_TRUE(*row);
    EXPECT_EQ((*query)->ColumnInt64(0), 42);
    // Leaves the scope in the middle of its rows.
    EXPECT_TRUE(sqlite3_stmt_busy(cached->handle()));
  }
  EXPECT_FALSE(sqlite3_stmt_busy(cached->handle()));
  EXPECT_FALSE(cached->leased());

  auto again = db_->PrepareScoped("SELECT ?1");
  ASSERT_OK(again);
  EXPECT_EQ((*again).get(), cached);
  auto row = (*again)->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_TRUE((*again)->ColumnIsNull(0)) << "binding of the previous user leaked";
}

TEST_F(StatementTest, CachedStatementIsReusedWithNewBindings) {
  constexpr std::string_view kInsert = "INSERT INTO t(id, v) VALUES (?1, ?2)";
  for (int64_t id = 1; id <= 3; ++id) {
    auto changed = db_->ExecPrepared(kInsert, id, id * 10);
    ASSERT_OK(changed);
    EXPECT_EQ(*changed, 1);
    EXPECT_EQ(db_->LastInsertRowId(), id);
  }
  auto sum = db_->QueryInt64("SELECT sum(v) FROM t");
  ASSERT_OK(sum);
  EXPECT_EQ(*sum, 60);
  auto count = db_->QueryInt64("SELECT count(*) FROM t WHERE v = ?1", 20);
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1);
}

TEST_F(StatementTest, NestedUseOfTheSameSqlGetsItsOwnStatement) {
  ASSERT_OK(db_->Exec("INSERT INTO t(id, v) VALUES (1, 'a'), (2, 'b')"));
  constexpr std::string_view kAll = "SELECT id FROM t ORDER BY id";
  auto outer = db_->Query(kAll);
  ASSERT_OK(outer);
  auto row = (*outer)->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ((*outer)->ColumnInt64(0), 1);
  {
    auto inner = db_->Query(kAll);
    ASSERT_OK(inner);
    EXPECT_NE((*inner).get(), (*outer).get());
    auto inner_row = (*inner)->Step();
    ASSERT_OK(inner_row);
    EXPECT_EQ((*inner)->ColumnInt64(0), 1);
  }
  row = (*outer)->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ((*outer)->ColumnInt64(0), 2) << "the nested query disturbed the outer one";
}

TEST_F(StatementTest, Int64ExtremesRoundTrip) {
  const int64_t values[] = {std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), 0, -1};
  int64_t id = 0;
  for (int64_t value : values) {
    ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (?1, ?2)", ++id, value));
    auto row = Row(id);
    ASSERT_OK(row);
    EXPECT_EQ((*row)->ColumnInt64(0), value);
    EXPECT_EQ((*row)->ColumnText(1), "integer");
  }
}

TEST_F(StatementTest, DoubleRoundTrips) {
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (1, ?1)", 0.1));
  auto row = Row(1);
  ASSERT_OK(row);
  EXPECT_EQ((*row)->ColumnDouble(0), 0.1);
  EXPECT_EQ((*row)->ColumnText(1), "real");
}

TEST_F(StatementTest, TextRoundTripsAsUtf8) {
  const std::string text = "licence f\xC3\xBCr Z\xC3\xBCrich";
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (1, ?1)", text));
  auto row = Row(1);
  ASSERT_OK(row);
  EXPECT_EQ((*row)->ColumnText(0), text);
  EXPECT_EQ((*row)->ColumnText(1), "text");
}

TEST_F(StatementTest, BytesWithNulsRoundTripAsBlob) {
  const std::string bytes("a\0b\0\xff", 5);
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (1, ?1)", Blob{bytes}));
  auto row = Row(1);
  ASSERT_OK(row);
  EXPECT_EQ((*row)->ColumnBlob(0), bytes);
  EXPECT_EQ((*row)->ColumnText(1), "blob");
}

TEST_F(StatementTest, EmptyBlobIsNotNull) {
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (1, ?1)", Blob{}));
  auto row = Row(1);
  ASSERT_OK(row);
  EXPECT_FALSE((*row)->ColumnIsNull(0));
  EXPECT_EQ((*row)->ColumnBlob(0), "");
  EXPECT_EQ((*row)->ColumnText(1), "blob");
}

TEST_F(StatementTest, NullAndEmptyOptionalBindAsNull) {
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (1, ?1)", nullptr));
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (2, ?1)", std::optional<int64_t>()));
  ASSERT_OK(db_->ExecPrepared("INSERT INTO t(id, v) VALUES (3, ?1)", std::optional<int64_t>(7)));
  for (int64_t id : {1, 2}) {
    auto row = Row(id);
    ASSERT_OK(row);
    EXPECT_TRUE((*row)->ColumnIsNull(0)) << "row " << id;
    EXPECT_EQ((*row)->ColumnText(1), "null");
  }
  auto row = Row(3);
  ASSERT_OK(row);
  EXPECT_EQ((*row)->ColumnInt64(0), 7);
}

TEST_F(StatementTest, WrongNumberOfValuesIsRejectedAndNothingRuns) {
  auto result = db_->ExecPrepared("INSERT INTO t(id, v) VALUES (?1, ?2)", 1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(result.status().message().find("has 2 parameters but 1 values"), std::string::npos)
      << result.status().ToString();
  auto count = db_->QueryInt64("SELECT count(*) FROM t");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 0);
}

TEST_F(StatementTest, PrepareRejectsMoreThanOneStatement) {
  auto result = db_->Prepare("INSERT INTO t(id) VALUES (1); INSERT INTO t(id) VALUES (2)");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(result.status().message().find("use Exec()"), std::string::npos);
  EXPECT_OK(db_->Prepare("SELECT 1; -- a trailing comment is not a statement"));
}

TEST_F(StatementTest, SyntaxErrorNamesTheSqlAndTheDatabase) {
  auto result = db_->Prepare("SELEC v FROM t");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kInternal);
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("'SELEC v FROM t'"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "statements.db").string()), std::string::npos) << message;
  EXPECT_NE(message.find("syntax error"), std::string::npos) << message;
}

}  // namespace
}  // namespace outpost::sqlite
