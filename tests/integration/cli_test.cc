// The real `outpost` binary: exit codes, messages, and serve with a graceful SIGTERM.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/net/https_client.h"
#include "server/data_dir.h"
#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using testing::RunResult;

// The commands used here never wait for input.
RunResult RunOutpost(std::vector<std::string> args) {
  return testing::RunBinary(OUTPOST_BINARY, std::move(args));
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

// The Debian package's way: `init --config /etc/outpost/outpost.toml` copies that file into the
// data directory, with --listen and --hostname on top.
TEST(CliTest, InitStartsFromTheGivenConfigurationFile) {
  testing::TempDir tmp;
  const auto config = tmp.path() / "etc-outpost.toml";
  testing::WriteFileOrDie(config,
                          "listen = \"0.0.0.0:9443\"\n"
                          "[tls]\nhostnames = [\"sat.plant4.example\"]\n"
                          "[log]\nlevel = \"debug\"\n");
  const std::string dir = (tmp.path() / "sat").string();
  RunResult r = RunOutpost(
      {"init", "--data-dir", dir, "--config", config.string(), "--hostname", "10.1.2.3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0.0.0.0:9443"), std::string::npos) << r.out;
  const std::string written = testing::ReadFileOrDie(server::DataDir(dir).config());
  EXPECT_NE(written.find("listen = \"0.0.0.0:9443\""), std::string::npos) << written;
  EXPECT_NE(written.find("hostnames = [\"sat.plant4.example\", \"10.1.2.3\"]"), std::string::npos)
      << written;
  EXPECT_NE(written.find("level = \"debug\""), std::string::npos) << written;
  // tls/server.pem is the server's certificate followed by the CA's.
  const std::string chain = testing::ReadFileOrDie(server::DataDir(dir).tls_certificate());
  const std::string end_marker = "-----END CERTIFICATE-----";
  const size_t end = chain.find(end_marker);
  ASSERT_NE(end, std::string::npos) << chain;
  auto parsed = crypto::Certificate::FromPem(chain.substr(0, end + end_marker.size()));
  ASSERT_OK(parsed);
  const auto names = parsed->dns_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "sat.plant4.example"), names.end());

  // --listen still overrides the file.
  const std::string dir2 = (tmp.path() / "sat2").string();
  r = RunOutpost(
      {"init", "--data-dir", dir2, "--config", config.string(), "--listen", "127.0.0.1:7443"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(testing::ReadFileOrDie(server::DataDir(dir2).config()).find("127.0.0.1:7443"),
            std::string::npos);
}

TEST(CliTest, InitRefusesABadConfigurationFileAndCreatesNothing) {
  testing::TempDir tmp;
  const auto config = tmp.path() / "bad.toml";
  testing::WriteFileOrDie(config, "[sync]\nintervall = \"1h\"\n");
  const auto dir = tmp.path() / "sat";
  RunResult r = RunOutpost({"init", "--data-dir", dir.string(), "--config", config.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--config"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("intervall"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));

  r = RunOutpost(
      {"init", "--data-dir", dir.string(), "--config", (tmp.path() / "missing.toml").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // a usage error: no such file
  EXPECT_FALSE(std::filesystem::exists(dir));
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

  testing::ServingProcess serve;
  const std::string log = (tmp.path() / "serve.log").string();
  ASSERT_TRUE(serve.Start(OUTPOST_BINARY, {"serve", "--data-dir", dir}, log))
      << "serve did not print its URL; log: " << testing::ReadFileOrDie(log);

  net::ClientOptions o;
  o.base_url = serve.url();
  o.ca_pem = testing::ReadFileOrDie(server::DataDir(dir).ca_certificate());
  auto client = net::HttpsClient::Create(o);
  ASSERT_OK(client);
  auto health = (*client)->Send("GET", "/healthz");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);
  (*client)->Disconnect();

  const std::optional<int> code = serve.Stop();
  ASSERT_TRUE(code.has_value()) << "serve did not stop within 15 s of SIGTERM";
  EXPECT_EQ(*code, 0);
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
