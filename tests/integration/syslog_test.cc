// Audit forwarding to a real syslog collector: Debian's rsyslogd on 127.0.0.1, over TCP and
// TLS, fed by `outpost serve` configured through its outpost.toml. The collector parses each
// message (RFC 5424, octet-counted frames) and writes the fields it found to a file.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/net/https_client.h"
#include "server/data_dir.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using testing::Contains;
using testing::RunResult;

constexpr char kRsyslogd[] = "/usr/sbin/rsyslogd";

// rsyslogd in the foreground with a configuration of its own, on `port`; stopped on destruction.
class Collector {
 public:
  Collector(const std::filesystem::path& dir, uint16_t port, const testing::TestPki* tls)
      : dir_(dir), port_(port), tls_(tls) {
    std::filesystem::create_directories(dir_);
  }
  ~Collector() { Stop(); }

  std::filesystem::path output() const { return dir_ / "received.log"; }

  bool Start() {
    std::string conf = "global(workDirectory=\"" + dir_.string() + "\"";
    if (tls_ != nullptr) {
      testing::WriteFileOrDie(dir_ / "ca.pem", tls_->ca_pem);
      testing::WriteFileOrDie(dir_ / "cert.pem", tls_->server_chain_pem);
      testing::WriteFileOrDie(dir_ / "key.pem", tls_->server_key_pem);
      conf += " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" +
              (dir_ / "ca.pem").string() + "\" DefaultNetstreamDriverCertFile=\"" +
              (dir_ / "cert.pem").string() + "\" DefaultNetstreamDriverKeyFile=\"" +
              (dir_ / "key.pem").string() + "\"";
    }
    conf += ")\n";
    conf += tls_ != nullptr ? "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" "
                              "StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n"
                            : "module(load=\"imtcp\")\n";
    conf +=
        "template(name=\"fields\" type=\"string\" string=\"%syslogfacility%|%syslogseverity%|"
        "%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n\")\n"
        "ruleset(name=\"out\") { action(type=\"omfile\" file=\"" +
        output().string() +
        "\" template=\"fields\" flushOnTXEnd=\"on\") }\n"
        "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
        std::to_string(port_) + "\" ruleset=\"out\")\n";
    testing::WriteFileOrDie(dir_ / "rsyslog.conf", conf);
    const std::string conf_path = (dir_ / "rsyslog.conf").string();
    const std::string pid_path = (dir_ / "rsyslog.pid").string();
    const std::string log_path = (dir_ / "rsyslogd.out").string();
    pid_ = fork();
    if (pid_ == 0) {
      freopen(log_path.c_str(), "a", stdout);
      freopen(log_path.c_str(), "a", stderr);
      execl(kRsyslogd, kRsyslogd, "-n", "-f", conf_path.c_str(), "-i", pid_path.c_str(), nullptr);
      _exit(127);
    }
    // Listening once a connection succeeds (bounded: 10 s).
    for (int i = 0; i < 100; ++i) {
      if (Listening()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::string Received() const {
    std::error_code ec;
    if (!std::filesystem::exists(output(), ec)) return "";
    return testing::ReadFileOrDie(output());
  }

  // Waits (bounded: 20 s) until what was received contains `text`.
  bool WaitFor(const std::string& text) const {
    for (int i = 0; i < 200; ++i) {
      if (Contains(Received(), text)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  bool Listening() const {
    const std::string probe = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_);
    return RunBinaryQuiet("/bin/bash", {"-c", probe});
  }
  static bool RunBinaryQuiet(const std::string& binary, std::vector<std::string> args) {
    return testing::RunBinary(binary, std::move(args), {}, "", std::chrono::seconds(5)).exit_code ==
           0;
  }

  std::filesystem::path dir_;
  uint16_t port_;
  const testing::TestPki* tls_;
  pid_t pid_ = -1;
};

// The seq values of the records the collector received, from the structured data.
std::vector<int64_t> ReceivedSeqs(const std::string& received) {
  std::vector<int64_t> out;
  const std::regex seq(R"re(seq="(\d+)")re");
  for (std::sregex_iterator it(received.begin(), received.end(), seq), end; it != end; ++it) {
    out.push_back(std::stoll((*it)[1].str()));
  }
  return out;
}

class SyslogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kRsyslogd))
        << kRsyslogd << " is missing: run deploy/install-deps.sh (it installs rsyslog)";
    sat_ = (tmp_ / "sat").string();
    RunResult init = Outpost({"init", "--data-dir", sat_, "--listen", "127.0.0.1:0"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  RunResult Outpost(std::vector<std::string> args) {
    return testing::RunBinary(OUTPOST_BINARY, std::move(args));
  }
  RunResult Cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--data-dir", sat_, "--server", serve_.url()});
    return Outpost(args);
  }

  // Points outpost.toml's [audit] keys at the collector, as an operator edits the file.
  void Configure(const std::string& url, const std::string& ca = "") {
    const auto path = server::DataDir(sat_).config();
    std::string toml = testing::ReadFileOrDie(path);
    ASSERT_TRUE(Contains(toml, "syslog_url = \"\"")) << toml;
    toml =
        std::regex_replace(toml, std::regex("syslog_url = \"\""), "syslog_url = \"" + url + "\"");
    toml = std::regex_replace(toml, std::regex("syslog_ca = \"\""), "syslog_ca = \"" + ca + "\"");
    toml = std::regex_replace(toml, std::regex("syslog_hostname = \"\""),
                              "syslog_hostname = \"plant-sat-1\"");
    testing::WriteFileOrDie(path, toml);
  }

  void Serve() {
    ASSERT_TRUE(
        serve_.Start(OUTPOST_BINARY, {"serve", "--data-dir", sat_}, (tmp_ / "serve.log").string()))
        << testing::ReadFileOrDie(tmp_ / "serve.log");
  }

  double Metric(const std::string& name) {
    net::ClientOptions o;
    o.base_url = serve_.url();
    o.ca_pem = testing::ReadFileOrDie(server::DataDir(sat_).ca_certificate());
    auto client = net::HttpsClient::Create(o);
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return -1;
    auto r = (*client)->Send("GET", "/metrics");
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return -1;
    const std::regex line("\n" + name + R"( ([0-9.e+]+))");
    std::smatch m;
    if (!std::regex_search(r->body, m, line)) return -1;
    return std::stod(m[1].str());
  }

  testing::TempDir tmp_;
  std::string sat_;
  testing::ServingProcess serve_;
};

TEST_F(SyslogTest, RecordsReachRsyslogOverTcpAndAnOutageLosesNone) {
  const uint16_t port = testing::FreeLoopbackPort();
  Collector collector(tmp_ / "rsyslog", port, nullptr);
  ASSERT_TRUE(collector.Start()) << testing::ReadFileOrDie(tmp_ / "rsyslog" / "rsyslogd.out");
  Configure("tcp://127.0.0.1:" + std::to_string(port));
  Serve();

  // Forwarding starts after the records that existed at its first start; `serve` adds one.
  ASSERT_TRUE(collector.WaitFor("|satellite.start|")) << collector.Received();
  RunResult token = Cli({"token", "create", "--va", "default", "--description", "line \"7\""});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  ASSERT_TRUE(collector.WaitFor("|token.create|")) << collector.Received();

  // What rsyslog parsed: facility 13 (log audit), notice, our HOSTNAME, APP-NAME, MSGID and the
  // structured data, and the details as the message.
  const std::string received = collector.Received();
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(received, m,
                        std::regex(R"((\d+)\|(\d+)\|([^|]*)\|([^|]*)\|(\d+)\|token\.create\|)"
                                   R"(\[outpost@32473 ([^\n]*)\]\|([^\n]*))")))
      << received;
  EXPECT_EQ(m[1].str(), "13");
  EXPECT_EQ(m[2].str(), "5");
  EXPECT_EQ(m[3].str(), "plant-sat-1");
  EXPECT_EQ(m[4].str(), "outpost");
  EXPECT_TRUE(Contains(m[6].str(), "actor=\"apikey:")) << m[6].str();
  EXPECT_TRUE(std::regex_search(m[6].str(), std::regex(R"(hash="[0-9a-f]{64}")"))) << m[6].str();
  EXPECT_TRUE(Contains(m[7].str(), "{")) << m[7].str();

  // A failed login is a warning.
  net::ClientOptions o;
  o.base_url = serve_.url();
  o.ca_pem = testing::ReadFileOrDie(server::DataDir(sat_).ca_certificate());
  auto client = net::HttpsClient::Create(o);
  ASSERT_OK(client);
  ASSERT_OK((*client)->Send("POST", "/v1/admin/login", R"({"user":"admin","password":"nope"})",
                            "application/json"));
  ASSERT_TRUE(collector.WaitFor("|login.failure|")) << collector.Received();
  EXPECT_TRUE(
      std::regex_search(collector.Received(), std::regex(R"(\n13\|4\|[^\n]*\|login\.failure\|)")))
      << collector.Received();

  // The collector goes away: records wait (failures counted), then all of them arrive.
  collector.Stop();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        Cli({"token", "create", "--va", "default", "--description", "outage " + std::to_string(i)})
            .exit_code,
        0);
  }
  for (int i = 0; i < 100 && Metric("outpost_audit_syslog_failures_total") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(Metric("outpost_audit_syslog_failures_total"), 1);
  EXPECT_GE(Metric("outpost_audit_syslog_lag_records"), 3);
  ASSERT_TRUE(collector.Start());
  ASSERT_TRUE(collector.WaitFor("outage 2")) << collector.Received();

  // A restart resumes from the saved position; the stop and start records arrive too.
  ASSERT_EQ(serve_.Stop(), std::optional<int>(0));
  Serve();
  ASSERT_EQ(Cli({"token", "create", "--va", "default", "--description", "after restart"}).exit_code,
            0);
  ASSERT_TRUE(collector.WaitFor("after restart")) << collector.Received();
  std::vector<int64_t> seqs = ReceivedSeqs(collector.Received());
  ASSERT_FALSE(seqs.empty());
  // Every record from the first forwarded one on, none missing (at least once: a record may
  // come twice if a connection died mid-batch).
  std::set<int64_t> unique(seqs.begin(), seqs.end());
  EXPECT_EQ(static_cast<int64_t>(unique.size()), *unique.rbegin() - *unique.begin() + 1)
      << collector.Received();
  EXPECT_TRUE(Contains(collector.Received(), "|satellite.stop|")) << collector.Received();
}

TEST_F(SyslogTest, RecordsReachRsyslogOverTlsAndAWrongCaIsAFailureNotALoss) {
  const testing::TestPki pki = testing::MakeTestPkiOrDie("syslog");
  const testing::TestPki other = testing::MakeTestPkiOrDie("other");
  const uint16_t port = testing::FreeLoopbackPort();
  Collector collector(tmp_ / "rsyslog", port, &pki);
  ASSERT_TRUE(collector.Start()) << testing::ReadFileOrDie(tmp_ / "rsyslog" / "rsyslogd.out");

  // First with a CA that did not issue the collector's certificate: nothing is sent.
  testing::WriteFileOrDie(std::filesystem::path(sat_) / "syslog-ca.pem", other.ca_pem);
  Configure("tls://127.0.0.1:" + std::to_string(port), "syslog-ca.pem");
  Serve();
  for (int i = 0; i < 100 && Metric("outpost_audit_syslog_failures_total") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(Metric("outpost_audit_syslog_failures_total"), 1);
  EXPECT_EQ(collector.Received(), "");
  EXPECT_TRUE(Contains(testing::ReadFileOrDie(tmp_ / "serve.log"), "audit.syslog_ca"))
      << testing::ReadFileOrDie(tmp_ / "serve.log");
  ASSERT_EQ(serve_.Stop(), std::optional<int>(0));

  // The right CA: the waiting records (this start's and the previous stop's) arrive.
  testing::WriteFileOrDie(std::filesystem::path(sat_) / "syslog-ca.pem", pki.ca_pem);
  Serve();
  ASSERT_TRUE(collector.WaitFor("|satellite.stop|")) << collector.Received();
  ASSERT_TRUE(Cli({"token", "create", "--va", "default"}).exit_code == 0);
  ASSERT_TRUE(collector.WaitFor("|token.create|")) << collector.Received();
}

TEST_F(SyslogTest, BadSettingsAreRefusedAtStartWithTheKey) {
  const auto path = server::DataDir(sat_).config();
  Configure("udp://127.0.0.1:514");
  RunResult udp = Outpost({"serve", "--data-dir", sat_});
  EXPECT_NE(udp.exit_code, 0);
  EXPECT_TRUE(Contains(udp.err, "audit.syslog_url")) << udp.err;
  EXPECT_TRUE(Contains(udp.err, "UDP is not offered")) << udp.err;

  std::string toml = testing::ReadFileOrDie(path);
  toml = std::regex_replace(toml, std::regex("udp://"), "tls://");
  testing::WriteFileOrDie(path, toml);
  RunResult no_ca = Outpost({"serve", "--data-dir", sat_});
  EXPECT_NE(no_ca.exit_code, 0);
  EXPECT_TRUE(Contains(no_ca.err, "audit.syslog_ca is empty")) << no_ca.err;
}

}  // namespace
}  // namespace outpost
