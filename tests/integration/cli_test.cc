// The real `outpost` binary: exit codes, messages, and serve with a graceful SIGTERM.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <regex>

#include "common/crypto/keys.h"
#include "common/net/https_client.h"
#include "server/data_dir.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the binary with args, capturing stdout and stderr (bounded by the child finishing;
// the commands used here never wait for input).
RunResult RunOutpost(std::vector<std::string> args) {
  testing::TempDir io;
  const std::string out_path = (io.path() / "out").string();
  const std::string err_path = (io.path() / "err").string();
  const pid_t pid = fork();
  if (pid == 0) {
    freopen(out_path.c_str(), "w", stdout);
    freopen(err_path.c_str(), "w", stderr);
    std::vector<char*> argv;
    std::string bin = OUTPOST_BINARY;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = testing::ReadFileOrDie(out_path);
  r.err = testing::ReadFileOrDie(err_path);
  return r;
}

TEST(CliTest, InitPrintsIdentityAndRefusesToRunTwice) {
  testing::TempDir tmp;
  const std::string dir = (tmp.path() / "sat").string();
  RunResult first = RunOutpost({"init", "--data-dir", dir, "--listen", "127.0.0.1:0"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("Initialised satellite"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("ca.pem"), std::string::npos) << first.out;

  RunResult second = RunOutpost({"init", "--data-dir", dir});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already initialised"), std::string::npos) << second.err;
}

TEST(CliTest, InitJsonPrintsTheReportMessage) {
  testing::TempDir tmp;
  RunResult r = RunOutpost({"--json", "init", "--data-dir", (tmp.path() / "s").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"satellite_id\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ca_fingerprint\""), std::string::npos) << r.out;
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunOutpost({}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"init"}).exit_code, 2);  // --data-dir is required
  EXPECT_EQ(RunOutpost({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"--help"}).exit_code, 0);
}

TEST(CliTest, ServeRefusesABadConfigurationValueNamingTheKey) {
  testing::TempDir tmp;
  const std::string dir = (tmp.path() / "sat").string();
  ASSERT_EQ(RunOutpost({"init", "--data-dir", dir}).exit_code, 0);
  RunResult r = RunOutpost({"serve", "--data-dir", dir, "--listen", "127.0.0.1:99999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("listen"), std::string::npos) << r.err;
}

TEST(CliTest, ServeAnswersHealthAndStopsCleanlyOnSigterm) {
  testing::TempDir tmp;
  const std::string dir = (tmp.path() / "sat").string();
  ASSERT_EQ(RunOutpost({"init", "--data-dir", dir, "--listen", "127.0.0.1:0"}).exit_code, 0);

  int out_pipe[2];
  ASSERT_EQ(pipe(out_pipe), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    close(out_pipe[0]);
    std::string bin = OUTPOST_BINARY;
    execl(bin.c_str(), bin.c_str(), "serve", "--data-dir", dir.c_str(), nullptr);
    _exit(127);
  }
  close(out_pipe[1]);
  // Read stdout until the URL line appears (the child prints it once it listens).
  FILE* out = fdopen(out_pipe[0], "r");
  std::string port;
  std::array<char, 512> line{};
  const std::regex url(R"(URL:\s+https://127\.0\.0\.1:(\d+))");
  while (port.empty() && fgets(line.data(), line.size(), out) != nullptr) {
    std::cmatch m;
    if (std::regex_search(line.data(), m, url)) port = m[1].str();
  }
  ASSERT_FALSE(port.empty()) << "serve did not print its URL";

  net::ClientOptions o;
  o.base_url = "https://127.0.0.1:" + port;
  o.ca_pem = testing::ReadFileOrDie(server::DataDir(dir).ca_certificate());
  auto client = net::HttpsClient::Create(o);
  ASSERT_OK(client);
  auto health = (*client)->Send("GET", "/healthz");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);
  (*client)->Disconnect();

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  pid_t done = 0;
  // Bounded wait: poll for up to 15 s, then kill.
  for (int i = 0; i < 150 && done != pid; ++i) {
    done = waitpid(pid, &status, WNOHANG);
    if (done != pid) usleep(100'000);
  }
  if (done != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "serve did not stop within 15 s of SIGTERM";
  }
  fclose(out);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(CliTest, BundleInspectDescribesAndChecksSignatures) {
  testing::TempDir tmp;
  auto central = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_OK(central);
  ASSERT_OK(other);
  v1::BundlePayload payload;
  payload.set_format_version(sync::kBundleFormatVersion);
  payload.set_kind(v1::BUNDLE_KIND_SYNC_RESPONSE);
  payload.mutable_sync_response()->set_satellite_id("sat-1");
  payload.mutable_sync_response()->set_response_number(7);
  auto bundle = sync::SignBundle(payload, *central);
  ASSERT_OK(bundle);
  const auto file = tmp.path() / "response.txt";
  ASSERT_OK(sync::WriteBundleFile(file, *bundle, v1::BUNDLE_KIND_SYNC_RESPONSE, /*armor=*/true));
  testing::WriteFileOrDie(tmp.path() / "central.pem", central->public_key().ToPem());
  testing::WriteFileOrDie(tmp.path() / "other.pem", other->public_key().ToPem());

  RunResult good = RunOutpost(
      {"bundle", "inspect", file.string(), "--key", (tmp.path() / "central.pem").string()});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("sat-1"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("verified"), std::string::npos) << good.out;

  RunResult wrong = RunOutpost(
      {"bundle", "inspect", file.string(), "--key", (tmp.path() / "other.pem").string()});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out;

  RunResult json = RunOutpost({"--json", "bundle", "inspect", file.string()});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"signature_status\": \"not_checked\""), std::string::npos) << json.out;

  testing::WriteFileOrDie(tmp.path() / "garbage", "this is not a bundle");
  RunResult garbage = RunOutpost({"bundle", "inspect", (tmp.path() / "garbage").string()});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("not an Outpost bundle"), std::string::npos) << garbage.err;
}

}  // namespace
}  // namespace outpost
