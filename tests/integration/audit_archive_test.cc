// Issue 16, sealed segments through the real `outpost` binary against a serving satellite:
// `audit archive` writes the file and only then removes the records, `audit verify` continues
// from the archived head, and `audit verify --archive` checks the files and names the file and
// record of a tampered, missing or foreign archive; online and on the stopped database.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/audit.pb.h"
#include "server/data_dir.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

namespace fs = std::filesystem;
using testing::Contains;
using testing::RunResult;

RunResult Outpost(const std::vector<std::string>& args) {
  return testing::RunBinary(OUTPOST_BINARY, args, {}, "");
}

class AuditArchiveCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sat_ = (tmp_ / "sat").string();
    RunResult init = Outpost({"init", "--data-dir", sat_, "--listen", "127.0.0.1:0"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    Start();
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(Cli({"token", "create", "--va", "default"}).exit_code, 0);
    }
  }

  void Start() {
    ASSERT_TRUE(
        serve_.Start(OUTPOST_BINARY, {"serve", "--data-dir", sat_}, (tmp_ / "serve.log").string()))
        << testing::ReadFileOrDie(tmp_ / "serve.log");
  }
  void Stop() { ASSERT_EQ(serve_.Stop(), std::optional<int>(0)); }

  RunResult Cli(std::vector<std::string> args, const std::string& api_key = "") {
    args.insert(args.end(), {"--data-dir", sat_, "--server", serve_.url()});
    if (!api_key.empty()) args.insert(args.end(), {"--api-key", api_key});
    return Outpost(args);
  }

  v1::AuditHead Head() {
    RunResult head = Cli({"--json", "audit", "head"});
    EXPECT_EQ(head.exit_code, 0) << head.err;
    v1::AuditHead out;
    EXPECT_OK(FromJson(head.out, &out));
    return out;
  }

  // Everything up to now (the time is a day ahead).
  RunResult ArchiveAll(const fs::path& file) {
    return Cli({"--json", "audit", "archive", "--before", "2200-01-01", "-o", file.string()});
  }

  std::string database() const { return server::DataDir(sat_).database().string(); }

  testing::TempDir tmp_;
  std::string sat_;
  testing::ServingProcess serve_;
};

TEST_F(AuditArchiveCliTest, ArchivedSegmentsVerifyWithTheDatabaseOnlineAndStopped) {
  const int64_t head = Head().seq();
  fs::create_directories(tmp_ / "archives");
  const fs::path first = tmp_ / "archives" / "1.outpost-audit";
  RunResult archived = ArchiveAll(first);
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  v1::AuditArchiveCommitResponse committed;
  ASSERT_OK(FromJson(archived.out, &committed));
  EXPECT_EQ(committed.first_seq(), 1);
  EXPECT_EQ(committed.last_seq(), head);
  EXPECT_EQ(committed.records_removed(), head);
  struct stat st {};
  ASSERT_EQ(stat(first.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  // The database alone: archived records are named, the rest verifies from the archived head.
  RunResult verify = Cli({"audit", "verify"});
  ASSERT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  EXPECT_TRUE(Contains(verify.out, "records 1 to " + std::to_string(head) + " are archived"))
      << verify.out;

  // More records, a second segment (starting with the audit.archived record).
  ASSERT_EQ(Cli({"token", "create", "--va", "default"}).exit_code, 0);
  const fs::path second = tmp_ / "archives" / "2.outpost-audit";
  RunResult again = Cli({"audit", "archive", "--before", "2200-01-01", "-o", second.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, "Archived audit records " + std::to_string(head + 1) + " to"))
      << again.out;
  // An existing file holding another segment is never replaced.
  RunResult taken = Cli({"audit", "archive", "--before", "2200-01-01", "-o", first.string()});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_TRUE(Contains(taken.err, "already exists")) << taken.err;

  RunResult across = Cli({"audit", "verify", "--archive", (tmp_ / "archives").string()});
  ASSERT_EQ(across.exit_code, 0) << across.err << across.out;
  EXPECT_TRUE(Contains(across.out, "archives checked")) << across.out;
  EXPECT_TRUE(Contains(across.out, "2 files")) << across.out;

  // A missing segment is named.
  RunResult missing = Cli({"audit", "verify", "--archive", second.string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, "missing")) << missing.err;
  EXPECT_TRUE(Contains(missing.err, "records 1 to " + std::to_string(head))) << missing.err;

  // A tampered record is named with its file: "token.create" becomes "token.crEate".
  fs::create_directories(tmp_ / "tampered");
  const fs::path bad = tmp_ / "tampered" / "1.outpost-audit";
  std::string bytes = testing::ReadFileOrDie(first);
  const size_t at = bytes.find("token.create");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 8] = 'E';
  testing::WriteFileOrDie(bad, bytes);
  RunResult tampered =
      Cli({"audit", "verify", "--archive", bad.string(), "--archive", second.string()});
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_TRUE(Contains(tampered.err, "changed")) << tampered.err;
  EXPECT_TRUE(Contains(tampered.out, bad.string())) << tampered.out;

  // The same with the satellite stopped, on the database file.
  Stop();
  RunResult stopped = Outpost({"audit", "verify", "--db", database(), "--data-dir", sat_,
                               "--archive", (tmp_ / "archives").string()});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err << stopped.out;
  RunResult stopped_bad = Outpost({"audit", "verify", "--db", database(), "--data-dir", sat_,
                                   "--archive", bad.string(), "--archive", second.string()});
  EXPECT_EQ(stopped_bad.exit_code, 1);

  // Another satellite's key: every archive is foreign.
  const std::string other = (tmp_ / "other").string();
  ASSERT_EQ(Outpost({"init", "--data-dir", other, "--listen", "127.0.0.1:0"}).exit_code, 0);
  RunResult foreign = Outpost({"audit", "verify", "--db", database(), "--data-dir", other,
                               "--archive", (tmp_ / "archives").string()});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_TRUE(Contains(foreign.err, "checkpoint_key")) << foreign.err;
}

TEST_F(AuditArchiveCliTest, OnlyAnAdminArchivesAndNothingBeforeTheTimeIsNothingToDo) {
  ASSERT_EQ(Cli({"user", "add", "olga", "--role", "operator"}).exit_code, 0);
  RunResult key = Cli({"--json", "apikey", "create", "--user", "olga"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  v1::CreateApiKeyResponse created;
  ASSERT_OK(FromJson(key.out, &created));
  const int64_t before = Head().seq();
  const fs::path file = tmp_ / "x.outpost-audit";
  RunResult refused =
      Cli({"audit", "archive", "--before", "2200-01-01", "-o", file.string()}, created.key());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "operator")) << refused.err;
  EXPECT_FALSE(fs::exists(file));

  RunResult nothing = Cli({"audit", "archive", "--before", "2000-01-01", "-o", file.string()});
  EXPECT_EQ(nothing.exit_code, 0) << nothing.err;
  EXPECT_TRUE(Contains(nothing.out, "Nothing to archive")) << nothing.out;
  EXPECT_FALSE(fs::exists(file));

  RunResult bad_time = Cli({"audit", "archive", "--before", "yesterday", "-o", file.string()});
  EXPECT_EQ(bad_time.exit_code, 1);
  EXPECT_TRUE(Contains(bad_time.err, "--before")) << bad_time.err;
  EXPECT_GE(Head().seq(), before);
  RunResult verify = Cli({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_FALSE(Contains(verify.out, "archived")) << verify.out;
}

}  // namespace
}  // namespace outpost
