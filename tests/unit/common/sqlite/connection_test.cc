#include "common/sqlite/connection.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/unit/common/sqlite/sqlite_test_util.h"

namespace outpost::sqlite {
namespace {

using outpost::testing::ReadFileOrDie;
using outpost::testing::TempDir;
using outpost::testing::WriteFileOrDie;

Result<std::string> QueryText(Connection& db, std::string_view sql) {
  OUTPOST_ASSIGN_OR_RETURN(ScopedStatement statement, db.Query(sql));
  OUTPOST_ASSIGN_OR_RETURN(bool row, statement->Step());
  if (!row) return NotFound("no row");
  return statement->ColumnText(0);
}

OpenOptions ReadOnly() {
  OpenOptions options;
  options.mode = OpenMode::kReadOnly;
  return options;
}

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string::npos;
}

TEST(ConnectionTest, ReadWriteConnectionUsesWalFullSyncAndForeignKeys) {
  TempDir dir;
  auto db = Connection::Open(dir / "outpost.db");
  ASSERT_OK(db);
  auto journal = QueryText(*db, "PRAGMA journal_mode");
  ASSERT_OK(journal);
  EXPECT_EQ(*journal, "wal");
  auto synchronous = db->QueryInt64("PRAGMA synchronous");
  ASSERT_OK(synchronous);
  EXPECT_EQ(*synchronous, 2) << "2 is FULL";
  auto foreign_keys = db->QueryInt64("PRAGMA foreign_keys");
  ASSERT_OK(foreign_keys);
  EXPECT_EQ(*foreign_keys, 1);
  EXPECT_FALSE(db->read_only());
  EXPECT_EQ(db->path(), dir / "outpost.db");
}

TEST(ConnectionTest, SynchronousNormalCanBeChosen) {
  TempDir dir;
  OpenOptions options;
  options.synchronous = Synchronous::kNormal;
  auto db = Connection::Open(dir / "outpost.db", options);
  ASSERT_OK(db);
  auto synchronous = db->QueryInt64("PRAGMA synchronous");
  ASSERT_OK(synchronous);
  EXPECT_EQ(*synchronous, 1) << "1 is NORMAL";
}

TEST(ConnectionTest, OpeningAFileThatIsNotADatabaseIsDataLossNamingThePath) {
  TempDir dir;
  const std::filesystem::path path = dir / "outpost.db";
  std::string garbage;
  while (garbage.size() < 4096) garbage += "this is a licence export, not an SQLite database\n";
  WriteFileOrDie(path, garbage);
  for (const OpenOptions& options : {OpenOptions(), ReadOnly()}) {
    auto db = Connection::Open(path, options);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.status().code(), Errc::kDataLoss) << db.status().ToString();
    EXPECT_TRUE(Contains(db.status(), path.string())) << db.status().ToString();
    EXPECT_TRUE(Contains(db.status(), "restore it from a backup")) << db.status().ToString();
  }
  EXPECT_EQ(ReadFileOrDie(path), garbage) << "a failed open changed the file";
}

TEST(ConnectionTest, ReadOnlyOpenOfAMissingFileFailsAndCreatesNothing) {
  TempDir dir;
  const std::filesystem::path path = dir / "missing.db";
  auto db = Connection::Open(path, ReadOnly());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Errc::kUnavailable) << db.status().ToString();
  EXPECT_TRUE(Contains(db.status(), path.string())) << db.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ConnectionTest, ReadOnlyConnectionCannotWrite) {
  TempDir dir;
  auto writer = Connection::Open(dir / "outpost.db");
  ASSERT_OK(writer);
  ASSERT_OK(writer->Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1);"));
  auto reader = Connection::Open(dir / "outpost.db", ReadOnly());
  ASSERT_OK(reader);
  EXPECT_TRUE(reader->read_only());

  auto inserted = reader->ExecPrepared("INSERT INTO t VALUES (?1)", 2);
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.status().code(), Errc::kFailedPrecondition) << inserted.status().ToString();
  Status script = reader->Exec("DELETE FROM t");
  EXPECT_EQ(script.code(), Errc::kFailedPrecondition) << script.ToString();

  auto count = reader->QueryInt64("SELECT count(*) FROM t");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1);
}

TEST(ConnectionTest, ExecRunsAScriptAndStopsAtTheFirstFailingStatement) {
  TempDir dir;
  auto db = Connection::Open(dir / "outpost.db");
  ASSERT_OK(db);
  ASSERT_OK(db->Exec(R"sql(
      CREATE TABLE t(x INTEGER NOT NULL);  -- a comment
      INSERT INTO t VALUES (1);
      INSERT INTO t VALUES (2);
  )sql"));
  Status status = db->Exec(
      "INSERT INTO t VALUES (3); INSERT INTO t VALUES (NULL); "
      "INSERT INTO t VALUES (4);");
  EXPECT_EQ(status.code(), Errc::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status, "INSERT INTO t VALUES (NULL)")) << status.ToString();
  EXPECT_TRUE(Contains(status, "NOT NULL constraint failed")) << status.ToString();
  auto count = db->QueryInt64("SELECT count(*) FROM t");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 3) << "statements before the failure stay applied, later ones never ran";
}

TEST(ConnectionTest, UniqueViolationIsAlreadyExists) {
  TempDir dir;
  auto db = Connection::Open(dir / "outpost.db");
  ASSERT_OK(db);
  ASSERT_OK(db->Exec("CREATE TABLE t(name TEXT PRIMARY KEY); INSERT INTO t VALUES ('seat-1');"));
  auto result = db->ExecPrepared("INSERT INTO t VALUES (?1)", "seat-1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kAlreadyExists) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "UNIQUE constraint failed: t.name"));
}

TEST(ConnectionTest, ForeignKeyViolationIsFailedPrecondition) {
  TempDir dir;
  auto db = Connection::Open(dir / "outpost.db");
  ASSERT_OK(db);
  ASSERT_OK(
      db->Exec("CREATE TABLE products(id INTEGER PRIMARY KEY);"
               "CREATE TABLE seats(product INTEGER NOT NULL REFERENCES products(id));"));
  auto result = db->ExecPrepared("INSERT INTO seats VALUES (?1)", 404);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kFailedPrecondition) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "FOREIGN KEY constraint failed"));
  auto count = db->QueryInt64("SELECT count(*) FROM seats");
  ASSERT_OK(count);
  EXPECT_EQ(*count, 0);
}

TEST(ConnectionTest, MovedConnectionKeepsItsCachedStatements) {
  TempDir dir;
  auto opened = Connection::Open(dir / "outpost.db");
  ASSERT_OK(opened);
  Connection first = std::move(opened).value();
  auto statement = first.Prepare("SELECT 40 + ?1");
  ASSERT_OK(statement);
  Connection moved = std::move(first);
  auto again = moved.Prepare("SELECT 40 + ?1");
  ASSERT_OK(again);
  EXPECT_EQ(*again, *statement);
  auto answer = moved.QueryInt64("SELECT 40 + ?1", 2);
  ASSERT_OK(answer);
  EXPECT_EQ(*answer, 42);
}

TEST(ConnectionTest, QueryInt64WithoutARowIsNotFound) {
  TempDir dir;
  auto db = Connection::Open(dir / "outpost.db");
  ASSERT_OK(db);
  ASSERT_OK(db->Exec("CREATE TABLE t(x)"));
  auto result = db->QueryInt64("SELECT x FROM t");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Errc::kNotFound);
}

}  // namespace
}  // namespace outpost::sqlite
