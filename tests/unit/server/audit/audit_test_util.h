#pragma once

// A migrated satellite database and helpers shared by the audit tests.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/sqlite/connection.h"
#include "common/sqlite/migrations.h"
#include "server/audit/audit_log.h"
#include "server/audit/verify.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server::audit::testing {

inline sqlite::OpenOptions FastOptions() {
  sqlite::OpenOptions options;
  options.synchronous = sqlite::Synchronous::kNormal;
  return options;
}

// A fresh database with the real satellite schema, a read-write connection to it, a fake
// clock and a satellite key.
class AuditDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = sqlite::Connection::Open(path(), FastOptions());
    ASSERT_OK(db);
    db_.emplace(std::move(*db));
    ASSERT_OK(sqlite::Migrate(*db_, store::SatelliteMigrations()));
    auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_OK(key);
    key_.emplace(std::move(*key));
  }

  std::filesystem::path path() const { return dir_ / "outpost.db"; }
  sqlite::Connection& db() { return *db_; }
  const crypto::PrivateKey& key() const { return *key_; }

  // A varied event: actors, actions and objects cycle with i.
  static AuditEvent EventNumber(int i) {
    static constexpr std::string_view kActions[] = {"token.create", "device.register",
                                                    "authorization.update", "token.revoke"};
    AuditEvent event;
    event.actor =
        i % 3 == 0 ? Actor{"user", "alice"} : Actor{"device", "dev-" + std::to_string(i % 7)};
    event.action = std::string(kActions[i % 4]);
    event.object = "object-" + std::to_string(i);
    event.details = "{\"i\":" + std::to_string(i) + "}";
    return event;
  }

  // Appends `count` events in one transaction, advancing the clock by a second before each.
  void AppendMany(int count) {
    ASSERT_OK(db().Exec("BEGIN"));
    for (int i = 0; i < count; ++i) {
      clock_.Advance(std::chrono::seconds(1));
      ASSERT_OK(Append(db(), EventNumber(i), clock_.Now()));
    }
    ASSERT_OK(db().Exec("COMMIT"));
  }

  // Verify with the satellite key; fails the test if the database cannot be read.
  VerifyReport VerifyLog() { return VerifyWith(key_->public_key()); }
  VerifyReport VerifyWith(const crypto::PublicKey& key) {
    auto report = Verify(db(), key);
    EXPECT_OK(report);
    return report.ok() ? *report : VerifyReport{};
  }

  void Sql(std::string_view sql) { ASSERT_OK(db().Exec(sql)); }

  outpost::testing::TempDir dir_;
  outpost::testing::FakeClock clock_;
  std::optional<sqlite::Connection> db_;
  std::optional<crypto::PrivateKey> key_;
};

}  // namespace outpost::server::audit::testing
