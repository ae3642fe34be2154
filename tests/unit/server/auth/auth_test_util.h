#pragma once

// A temporary satellite database with the real migrations, a fake clock and an AuthStore with
// cheap scrypt, plus ways to look at what the store wrote.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "server/auth/store.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server::auth::testing {

inline constexpr char kAdminPassword[] = "correct horse battery staple";
inline constexpr char kOperatorPassword[] = "operator password 42!";
inline constexpr char kAuditorPassword[] = "auditor password 1234";

inline AuthPolicy FastPolicy() {
  AuthPolicy policy;
  policy.scrypt.log2_n = 10;  // the stored format and the code path are the same as with 15
  return policy;
}

struct AuditRow {
  int64_t seq = 0;
  std::string actor;
  std::string action;
  std::string object;
  std::string details;
  std::string All() const { return actor + "|" + action + "|" + object + "|" + details; }
};

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::WriterOptions options;
    options.synchronous = sqlite::Synchronous::kNormal;
    auto writer = sqlite::Writer::Create(db_path(), options, store::SatelliteMigrations());
    ASSERT_OK(writer);
    writer_ = std::move(writer).value();
    auto readers = sqlite::ReaderPool::Create(db_path());
    ASSERT_OK(readers);
    readers_ = std::move(readers).value();
    store_ = std::make_unique<AuthStore>(*writer_, *readers_, clock_, FastPolicy());
  }

  void TearDown() override {
    store_.reset();
    readers_.reset();
    writer_.reset();
  }

  std::filesystem::path db_path() const { return dir_ / "outpost.db"; }

  // Waits until everything submitted to the writer so far is committed (background writes
  // such as last-used times and failure audits).
  void Flush() {
    ASSERT_OK(writer_->Run([](sqlite::Connection&) { return Status::Ok(); }));
  }

  // Creates the users "root" (admin), "oscar" (operator) and "alice" (auditor) as the system.
  void CreateStandardUsers() {
    ASSERT_OK(store_->CreateUser("root", Role::kAdmin, kAdminPassword, Principal::System()));
    ASSERT_OK(store_->CreateUser("oscar", Role::kOperator, kOperatorPassword, Principal::System()));
    ASSERT_OK(store_->CreateUser("alice", Role::kAuditor, kAuditorPassword, Principal::System()));
  }

  // A principal as AuthenticateApiKey would return it, without a key.
  Principal As(const std::string& name, Role role) {
    Principal principal;
    principal.user_name = name;
    principal.role = role;
    principal.credential = "session:000000000000";
    return principal;
  }
  Principal Root() { return As("root", Role::kAdmin); }
  Principal Oscar() { return As("oscar", Role::kOperator); }
  Principal Alice() { return As("alice", Role::kAuditor); }

  // Every audit record, in order (after a Flush).
  std::vector<AuditRow> AuditRows() {
    Flush();
    std::vector<AuditRow> rows;
    EXPECT_OK(writer_->Run([&rows](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(
          sqlite::ScopedStatement st,
          db.Query("SELECT seq, actor, action, object, details FROM audit_log ORDER BY seq"));
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool more, st->Step());
        if (!more) return Status::Ok();
        rows.push_back({st->ColumnInt64(0), st->ColumnText(1), st->ColumnText(2), st->ColumnText(3),
                        st->ColumnText(4)});
      }
    }));
    return rows;
  }

  std::vector<AuditRow> AuditRowsWithAction(const std::string& action) {
    std::vector<AuditRow> matching;
    for (AuditRow& row : AuditRows()) {
      if (row.action == action) matching.push_back(std::move(row));
    }
    return matching;
  }

  // One integer from the database, read through the writer after everything queued before.
  int64_t QueryInt(const std::string& sql) {
    Flush();
    int64_t value = -1;
    EXPECT_OK(writer_->Run([&](sqlite::Connection& db) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(value, db.QueryInt64(sql));
      return Status::Ok();
    }));
    return value;
  }

  // The bytes of the database file and its WAL.
  std::string DatabaseBytes() {
    Flush();
    std::string bytes = outpost::testing::ReadFileOrDie(db_path());
    const std::filesystem::path wal = db_path().string() + "-wal";
    if (std::filesystem::exists(wal)) bytes += outpost::testing::ReadFileOrDie(wal);
    return bytes;
  }

  outpost::testing::TempDir dir_;
  outpost::testing::FakeClock clock_;
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<sqlite::ReaderPool> readers_;
  std::unique_ptr<AuthStore> store_;
};

}  // namespace outpost::server::auth::testing
