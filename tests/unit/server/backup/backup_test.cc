#include "server/backup/backup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "common/crypto/keys.h"
#include "common/file_lock.h"
#include "common/sqlite/connection.h"
#include "server/audit/verify.h"
#include "server/init.h"
#include "server/store/meta.h"
#include "server/store/schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace outpost::server::backup {
namespace {

namespace fs = std::filesystem;
constexpr char kPassphrase[] = "a long enough passphrase";

uint32_t Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

// Names in `dir` other than the ones given: what a refused restore must not leave behind.
std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions init;
    init.data_dir = source_.root;
    init.scrypt_log2_n = 10;
    ASSERT_OK(InitDataDir(init, clock_).status());
    backup_options_.kdf = {1 << 10, 8, 1};
    backup_options_.clock = &clock_;
    backup_options_.software_version = "test";
    restore_options_.clock = &clock_;
    restore_options_.newest_schema_version = static_cast<int>(store::SatelliteMigrations().size());
  }

  Result<v1::BackupResult> Backup() {
    return CreateBackup(source_, file_, kPassphrase, backup_options_);
  }
  Result<v1::RestoreResult> Restore(const fs::path& target,
                                    std::string_view passphrase = kPassphrase) {
    return RestoreBackup(file_, DataDir(target), passphrase, restore_options_);
  }

  testing::TempDir tmp_;
  testing::FakeClock clock_{FromUnixSeconds(testing::UnixNow())};
  DataDir source_{tmp_ / "sat"};
  fs::path file_ = tmp_ / "sat.bak";
  BackupOptions backup_options_;
  RestoreOptions restore_options_;
};

TEST_F(BackupTest, RestoreRecreatesTheDataDirectoryWithPrivateModesAndAVerifiedChain) {
  auto backup = Backup();
  ASSERT_OK(backup);
  EXPECT_EQ(Mode(file_), 0600u);
  EXPECT_FALSE(backup->manifest().satellite_id().empty());
  EXPECT_GT(backup->manifest().audit_head_seq(), 0);

  const DataDir restored(tmp_ / "restored");
  auto result = Restore(restored.root);
  ASSERT_OK(result);
  EXPECT_EQ(result->manifest().backup_id(), backup->manifest().backup_id());
  for (const fs::path& p :
       {restored.config(), restored.ca_certificate(), restored.ca_key(), restored.signing_key(),
        restored.tls_key(), restored.admin_api_key(), restored.tls_certificate()}) {
    const fs::path original = source_.root / p.lexically_relative(restored.root);
    EXPECT_EQ(testing::ReadFileOrDie(p), testing::ReadFileOrDie(original)) << p;
  }
  for (const fs::path& p : {restored.ca_key(), restored.signing_key(), restored.tls_key(),
                            restored.admin_api_key(), restored.database()}) {
    EXPECT_EQ(Mode(p), 0600u) << p;
  }
  EXPECT_EQ(Mode(restored.keys()), 0700u);
  EXPECT_FALSE(fs::exists(restored.lock()));

  auto db = sqlite::Connection::Open(restored.database());
  ASSERT_OK(db);
  auto restore_id = store::kSatelliteMeta.Get(*db, store::kMetaRestoreId);
  ASSERT_OK(restore_id);
  ASSERT_TRUE(restore_id->has_value());
  EXPECT_EQ(**restore_id, result->restore_id());
  auto last = db->QueryInt64(
      "SELECT count(*) FROM audit_log WHERE action = 'backup.restore' AND "
      "seq = (SELECT max(seq) FROM audit_log)");
  ASSERT_OK(last);
  EXPECT_EQ(*last, 1);
  auto key = crypto::PrivateKey::LoadFile(restored.signing_key());
  ASSERT_OK(key);
  auto report = audit::Verify(*db, key->public_key());
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->last_seq, backup->manifest().audit_head_seq() + 1);
}

TEST_F(BackupTest, RefusedRestoresWriteNothing) {
  ASSERT_OK(Backup());
  const std::vector<std::string> before = Entries(tmp_.path());

  auto wrong = Restore(tmp_ / "new", "not the passphrase");
  EXPECT_EQ(wrong.status().code(), Errc::kUnauthenticated) << wrong.status().ToString();
  EXPECT_EQ(Entries(tmp_.path()), before);

  std::string bytes = testing::ReadFileOrDie(file_);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(file_, std::ios::binary | std::ios::trunc) << bytes;
  auto tampered = Restore(tmp_ / "new");
  EXPECT_EQ(tampered.status().code(), Errc::kDataLoss) << tampered.status().ToString();
  EXPECT_EQ(Entries(tmp_.path()), before);
}

TEST_F(BackupTest, RestoreRefusesADirectoryARunningSatelliteHolds) {
  ASSERT_OK(Backup());
  auto lock = FileLock::Acquire(source_.lock(), "data directory");
  ASSERT_OK(lock);
  RestoreOptions force = restore_options_;
  force.force = true;
  const auto before = Entries(source_.root);
  auto r = RestoreBackup(file_, source_, kPassphrase, force);
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("while a satellite runs there"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(Entries(source_.root), before);
}

TEST_F(BackupTest, ANonEmptyDirectoryIsReplacedOnlyWhenToldAndKeptAside) {
  ASSERT_OK(Backup());
  const fs::path target = tmp_ / "busy";
  fs::create_directories(target);
  std::ofstream(target / "notes.txt") << "keep me";
  auto refused = Restore(target);
  EXPECT_EQ(refused.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("is not empty (it holds notes.txt)"), std::string::npos)
      << refused.status().ToString();
  EXPECT_FALSE(fs::exists(target / "outpost.db"));

  restore_options_.force = true;
  auto replaced = Restore(target);
  ASSERT_OK(replaced);
  EXPECT_TRUE(fs::exists(target / "outpost.db"));
  EXPECT_FALSE(fs::exists(target / "notes.txt"));
  EXPECT_EQ(testing::ReadFileOrDie(fs::path(replaced->previous_contents()) / "notes.txt"),
            "keep me");
}

TEST_F(BackupTest, AnEmptyDirectoryIsFilledWithoutForce) {
  ASSERT_OK(Backup());
  fs::create_directories(tmp_ / "empty");
  ASSERT_OK(Restore(tmp_ / "empty"));
  EXPECT_TRUE(fs::exists(tmp_ / "empty" / "outpost.db"));
}

TEST_F(BackupTest, ABackupOfANewerSchemaIsRefusedBeforeWriting) {
  {
    auto db = sqlite::Connection::Open(source_.database());
    ASSERT_OK(db);
    ASSERT_OK(db->Exec("PRAGMA user_version = 99"));
  }
  ASSERT_OK(Backup());
  auto r = Restore(tmp_ / "new");
  EXPECT_EQ(r.status().code(), Errc::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("schema version 99"), std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(fs::exists(tmp_ / "new"));
}

TEST_F(BackupTest, BackupRefusesAnExistingFileUnlessToldAndOtherDirectories) {
  ASSERT_OK(Backup());
  EXPECT_EQ(Backup().status().code(), Errc::kAlreadyExists);
  backup_options_.replace_output = true;
  EXPECT_OK(Backup().status());
  auto not_a_satellite =
      CreateBackup(DataDir(tmp_.path()), tmp_ / "x.bak", kPassphrase, backup_options_);
  EXPECT_EQ(not_a_satellite.status().code(), Errc::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(tmp_ / "x.bak"));
  auto short_passphrase = CreateBackup(source_, tmp_ / "y.bak", "short", backup_options_);
  EXPECT_EQ(short_passphrase.status().code(), Errc::kInvalidArgument);
  EXPECT_FALSE(fs::exists(tmp_ / "y.bak"));
}

}  // namespace
}  // namespace outpost::server::backup
