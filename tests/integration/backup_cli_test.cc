// `outpost backup` and `outpost restore` with the real binary: a backup taken while `outpost
// serve` runs restores into a directory that serves, verifies and holds exactly the state of the
// backup; every bad file and every refused target is refused before anything is written.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "server/data_dir.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

namespace fs = std::filesystem;
using testing::Contains;
using testing::RunResult;

RunResult Outpost(std::vector<std::string> args, const std::string& stdin_text = "") {
  return testing::RunBinary(OUTPOST_BINARY, std::move(args), {}, stdin_text,
                            std::chrono::seconds(120));
}

uint32_t Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class BackupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Outpost({"init", "--data-dir", dir_, "--listen", "127.0.0.1:0"}).exit_code, 0);
    std::ofstream(passphrase_file_) << "a passphrase for the drill\n";
  }

  bool Serve(testing::ServingProcess& serve, const std::string& dir) {
    const std::string log = (tmp_.path() / (fs::path(dir).filename().string() + ".log")).string();
    const bool ok = serve.Start(OUTPOST_BINARY, {"serve", "--data-dir", dir}, log);
    EXPECT_TRUE(ok) << testing::ReadFileOrDie(log);
    return ok;
  }

  RunResult Admin(const testing::ServingProcess& serve, const std::string& dir,
                  std::vector<std::string> args) {
    args.insert(args.end(), {"--server", serve.url(), "--data-dir", dir});
    return Outpost(std::move(args));
  }

  RunResult Restore(const std::string& file, const std::string& target,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "restore", file, "--data-dir", target, "--passphrase-file", passphrase_file_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Outpost(std::move(args));
  }

  testing::TempDir tmp_;
  std::string dir_ = (tmp_.path() / "sat").string();
  std::string passphrase_file_ = (tmp_.path() / "passphrase.txt").string();
  std::string file_ = (tmp_.path() / "sat.bak").string();
};

TEST_F(BackupCliTest, ABackupTakenWhileServingRestoresTheStateOfThatMoment) {
  testing::ServingProcess serve;
  ASSERT_TRUE(Serve(serve, dir_));
  ASSERT_EQ(
      Admin(serve, dir_, {"token", "create", "--va", "default", "--description", "before-backup"})
          .exit_code,
      0);
  RunResult backup =
      Outpost({"backup", "-o", file_, "--data-dir", dir_, "--passphrase-file", passphrase_file_});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_TRUE(Contains(backup.out, "Wrote backup")) << backup.out;
  EXPECT_EQ(Mode(file_), 0600u);
  ASSERT_EQ(
      Admin(serve, dir_, {"token", "create", "--va", "default", "--description", "after-backup"})
          .exit_code,
      0);
  // The passphrase on standard input works too; an existing file needs --force.
  RunResult again =
      Outpost({"backup", "-o", file_, "--data-dir", dir_}, "a passphrase for the drill\n");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "--force")) << again.err;
  const std::string second = (tmp_.path() / "second.bak").string();
  RunResult from_stdin =
      Outpost({"backup", "-o", second, "--data-dir", dir_}, "a passphrase for the drill\n");
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  ASSERT_TRUE(serve.Stop().has_value());

  const std::string restored = (tmp_.path() / "restored").string();
  RunResult restore = Restore(file_, restored);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_TRUE(Contains(restore.out, "Restored backup")) << restore.out;
  const server::DataDir r(restored);
  for (const fs::path& p :
       {r.ca_key(), r.signing_key(), r.tls_key(), r.admin_api_key(), r.database()}) {
    EXPECT_EQ(Mode(p), 0600u) << p;
  }
  EXPECT_EQ(Mode(r.keys()), 0700u);
  RunResult verify =
      Outpost({"audit", "verify", "--db", r.database().string(), "--data-dir", restored});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  testing::ServingProcess restored_serve;
  ASSERT_TRUE(Serve(restored_serve, restored));
  RunResult tokens = Admin(restored_serve, restored, {"token", "list"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  EXPECT_TRUE(Contains(tokens.out, "before-backup")) << tokens.out;
  EXPECT_FALSE(Contains(tokens.out, "after-backup")) << tokens.out;
  RunResult audit = Admin(restored_serve, restored, {"audit", "export", "--action", "backup."});
  EXPECT_TRUE(Contains(audit.out, "backup.restore")) << audit.out << audit.err;
  RunResult online_verify = Admin(restored_serve, restored, {"audit", "verify"});
  EXPECT_EQ(online_verify.exit_code, 0) << online_verify.out << online_verify.err;

  // The second backup (passphrase from stdin) restores with the same passphrase from stdin.
  RunResult second_restore =
      Outpost({"restore", second, "--data-dir", (tmp_.path() / "from-stdin").string()},
              "a passphrase for the drill\n");
  EXPECT_EQ(second_restore.exit_code, 0) << second_restore.err;
}

TEST_F(BackupCliTest, BadFilesAreRefusedNamingWhatIsWrongAndNothingIsWritten) {
  ASSERT_EQ(
      Outpost({"backup", "-o", file_, "--data-dir", dir_, "--passphrase-file", passphrase_file_})
          .exit_code,
      0);
  const std::string bytes = testing::ReadFileOrDie(file_);
  const std::string target = (tmp_.path() / "target").string();
  const auto write = [&](const std::string& name, const std::string& content) {
    const std::string path = (tmp_.path() / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  std::string tampered = bytes;
  tampered[bytes.size() / 2] ^= 0x04;
  const std::string wrong_passphrase = write("wrong.txt", "not the passphrase\n");
  const struct {
    std::string file;
    std::vector<std::string> extra;
    std::string expected;
  } cases[] = {
      {file_, {"--passphrase-file", wrong_passphrase}, "the passphrase is wrong"},
      {write("truncated.bak", bytes.substr(0, bytes.size() - 100)), {}, "is truncated"},
      {write("tampered.bak", tampered), {}, "was altered or damaged"},
      {server::DataDir(dir_).database().string(), {}, "is not an Outpost backup (it is an SQLite"},
      {write("text.bak", "hello"), {}, "is not an Outpost backup"},
      {(tmp_.path() / "missing.bak").string(), {}, "no such file"},
  };
  const std::vector<std::string> before = Entries(tmp_.path());
  for (const auto& c : cases) {
    std::vector<std::string> args = {"restore", c.file, "--data-dir", target};
    if (c.extra.empty()) args.insert(args.end(), {"--passphrase-file", passphrase_file_});
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    RunResult r = Outpost(args);
    EXPECT_EQ(r.exit_code, 1) << c.file;
    EXPECT_TRUE(Contains(r.err, c.expected)) << c.expected << " in: " << r.err;
    EXPECT_EQ(Entries(tmp_.path()), before) << c.expected;
  }
}

TEST_F(BackupCliTest, RestoreRefusesAServedOrNonEmptyDirectory) {
  ASSERT_EQ(
      Outpost({"backup", "-o", file_, "--data-dir", dir_, "--passphrase-file", passphrase_file_})
          .exit_code,
      0);
  {
    testing::ServingProcess serve;
    ASSERT_TRUE(Serve(serve, dir_));
    RunResult held = Restore(file_, dir_, {"--force"});
    EXPECT_EQ(held.exit_code, 1);
    EXPECT_TRUE(Contains(held.err, "while a satellite runs there")) << held.err;
    EXPECT_TRUE(Contains(held.err, "in use by process")) << held.err;
  }
  const std::vector<std::string> before = Entries(dir_);
  RunResult not_empty = Restore(file_, dir_);
  EXPECT_EQ(not_empty.exit_code, 1);
  EXPECT_TRUE(Contains(not_empty.err, "is not empty")) << not_empty.err;
  EXPECT_EQ(Entries(dir_), before);

  RunResult forced = Restore(file_, dir_, {"--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(Contains(forced.out, "previous contents are in")) << forced.out;
  RunResult verify = Outpost(
      {"audit", "verify", "--db", server::DataDir(dir_).database().string(), "--data-dir", dir_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A device registered after the backup is unknown to the restored satellite: its next renewal is
// refused with what to do, and it registers again with a token of the restored satellite.
TEST_F(BackupCliTest, ADeviceRegisteredAfterTheBackupRegistersAgain) {
  const std::string port = std::to_string(testing::FreeLoopbackPort());
  const std::string dir = (tmp_.path() / "fixed").string();
  const std::string url = "https://127.0.0.1:" + port;
  ASSERT_EQ(Outpost({"init", "--data-dir", dir, "--listen", "127.0.0.1:" + port}).exit_code, 0);
  ASSERT_EQ(
      Outpost({"backup", "-o", file_, "--data-dir", dir, "--passphrase-file", passphrase_file_})
          .exit_code,
      0);
  const std::string state = (tmp_.path() / "device").string();
  const auto register_device = [&](const std::string& data_dir, bool force) {
    RunResult token =
        Outpost({"--json", "token", "create", "--va", "default", "--data-dir", data_dir});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    // "token": "opt_<id>_<secret>" (the record before it has only the prefix).
    const std::string key = "\"token\": \"";
    const size_t at = token.out.find(key);
    EXPECT_NE(at, std::string::npos) << token.out;
    const size_t begin = at + key.size();
    const std::string secret = token.out.substr(begin, token.out.find('"', begin) - begin);
    std::vector<std::string> args = {
        "device",      "register", "--server",
        url,           "--ca",     server::DataDir(data_dir).ca_certificate().string(),
        "--token",     secret,     "--pid",
        "P",           "--serial", "S1",
        "--state-dir", state};
    if (force) args.push_back("--force");
    return Outpost(args);
  };
  {
    testing::ServingProcess serve;
    ASSERT_TRUE(Serve(serve, dir));
    RunResult registered = register_device(dir, false);
    ASSERT_EQ(registered.exit_code, 0) << registered.err;
  }
  const std::string restored = (tmp_.path() / "fixed-restored").string();
  ASSERT_EQ(Restore(file_, restored).exit_code, 0);
  testing::ServingProcess serve;
  ASSERT_TRUE(Serve(serve, restored));  // the same listen address, from the restored outpost.toml
  RunResult refused = Outpost({"device", "authorize", "--state-dir", state, "--tag", "x"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "is not registered")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "register the device again")) << refused.err;
  RunResult again = register_device(restored, true);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  RunResult renewed = Outpost({"device", "authorize", "--state-dir", state, "--tag", "x"});
  EXPECT_TRUE(Contains(renewed.out, "NOT_ENTITLED")) << renewed.out << renewed.err;
}

}  // namespace
}  // namespace outpost
