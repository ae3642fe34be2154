#include "common/config/config_file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "tests/testing/test_util.h"

namespace outpost::config {
namespace {

using namespace std::chrono_literals;
using ::outpost::testing::TempDir;
using ::outpost::testing::WriteFileOrDie;
using std::chrono::days;

constexpr std::string_view kFullFile = R"(# every key, none at its default
listen = "[::1]:9443"

[tls]
certificate = "/etc/outpost/server.pem"
private_key = "keys/other.key"
client_ca = "trust/ca.pem"
hostnames = ["sat.example.com", "10.0.0.5"]
min_version = "1.3"

[server]
io_threads = 4
max_connections = 500
max_connections_per_address = 50
login_rate_per_minute = 10
max_queued_password_checks = 8
max_body_bytes = 4096
max_header_bytes = 2048
max_pipelined_requests = 4
handshake_timeout = "5s"
read_timeout = "10s"
write_timeout = "20s"
idle_timeout = "2m"
shutdown_grace = "0s"
metrics_require_auth = true

[sync]
mode = "online"
central_url = "https://central.example.com/v1/sync"
proxy = "http://u:p@proxy.example:3128"
interval = "30m"
jitter = "1m30s"
max_backoff = "12h"

[policy]
authorization_validity = "60d"
authorization_renewal = "20d"
floating_lease = "5m"
certificate_validity = "730d"
certificate_renewal = "365d"
token_default_expiry_days = 7
token_max_expiry_days = 90
clock_rollback_tolerance = "1m"
registration_rate_per_minute = 60

[database]
synchronous = "normal"

[log]
level = "debug"
format = "json"
)";

Config FullConfig() {
  Config c;
  c.listen = {"::1", 9443};
  c.tls.certificate = "/etc/outpost/server.pem";
  c.tls.private_key = "keys/other.key";
  c.tls.client_ca = "trust/ca.pem";
  c.tls.hostnames = {"sat.example.com", "10.0.0.5"};
  c.tls.min_version = TlsVersion::kTls13;
  c.server = {4, 500, 50, 10, 8, 4096, 2048, 4, 5s, 10s, 20s, 2min, 0s, true};
  c.sync = {SyncMode::kOnline,
            "https://central.example.com/v1/sync",
            "http://u:p@proxy.example:3128",
            30min,
            90s,
            12h};
  c.policy = {days(60), days(20), 5min, days(730), days(365), 7, 90, 1min, 60};
  c.database.synchronous = Durability::kNormal;
  c.log = {"debug", "json"};
  return c;
}

// The message of a failed ParseConfig of `text` as "outpost.toml".
std::string ParseError(std::string_view text) {
  Result<Config> c = ParseConfig(text, "outpost.toml");
  EXPECT_FALSE(c.ok()) << "parsed:\n" << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), Errc::kInvalidArgument);
  return c.status().message();
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(ParseConfigTest, ReadsAFullFile) {
  Result<Config> c = ParseConfig(kFullFile, "outpost.toml");
  ASSERT_OK(c);
  EXPECT_EQ(*c, FullConfig());
}

TEST(ParseConfigTest, KeepsDefaultsForKeysNotInTheFile) {
  Result<Config> empty = ParseConfig("", "outpost.toml");
  ASSERT_OK(empty);
  EXPECT_EQ(*empty, Config{});

  Result<Config> c = ParseConfig("[sync]\ninterval = \"2h\"\n", "outpost.toml");
  ASSERT_OK(c);
  Config expected;
  expected.sync.interval = 2h;
  EXPECT_EQ(*c, expected);
}

// Issue 16: the audit retention keys.
TEST(ParseConfigTest, AuditRetentionAndArchiveDirectory) {
  Result<Config> c =
      ParseConfig("[audit]\nretention = \"90d\"\narchive_dir = \"/srv/audit\"\n", "outpost.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->audit.retention, std::chrono::days(90));
  EXPECT_EQ(c->audit.archive_dir, "/srv/audit");
  EXPECT_EQ(Config{}.audit.retention, Duration::zero());  // off unless set
  Result<Config> bad = ParseConfig("[audit]\nretention = \"90\"\n", "outpost.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("audit.retention"), std::string::npos)
      << bad.status().message();
}

TEST(ParseConfigTest, AcceptsDottedKeysAndInlineTables) {
  Result<Config> c =
      ParseConfig("sync.mode = \"offline\"\nlog = { level = \"warn\" }\n", "outpost.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->log.level, "warn");
}

TEST(ParseConfigTest, UnknownKeyErrorNamesKeyLineAndKnownKeys) {
  const std::string m = ParseError("[sync]\nmode = \"offline\"\nintervall = \"1h\"\n");
  EXPECT_EQ(m,
            "outpost.toml:3:1: unknown key 'sync.intervall' (did you mean 'sync.interval'?); "
            "known keys in [sync]: mode, central_url, proxy, interval, jitter, max_backoff");
}

TEST(ParseConfigTest, UnknownTopLevelKeyErrorListsKeysAndTables) {
  const std::string m = ParseError("\nlisten_address = \"127.0.0.1:1\"\n");
  EXPECT_CONTAINS(m, "outpost.toml:2:1: unknown key 'listen_address'");
  EXPECT_CONTAINS(m,
                  "known top-level keys: listen; known tables: [tls], [server], [sync], "
                  "[policy], [database], [log]");
}

TEST(ParseConfigTest, DataDirInTheFileIsExplained) {
  EXPECT_CONTAINS(ParseError("data_dir = \"/var/lib/outpost\"\n"),
                  "outpost.toml:1:1: 'data_dir' is not a configuration key: the data directory "
                  "is given with --data-dir");
}

TEST(ParseConfigTest, UnknownTableErrorNamesTableAndLine) {
  EXPECT_EQ(ParseError("listen = \"127.0.0.1:1\"\n\n[tsl]\ncertificate = \"a.pem\"\n"),
            "outpost.toml:3:2: unknown table [tsl] (did you mean [tls]?); known tables: [tls], "
            "[server], [sync], [policy], [database], [log], [audit]");
}

TEST(ParseConfigTest, TableNestedInASectionIsAnUnknownKey) {
  EXPECT_CONTAINS(ParseError("[sync.retry]\nlimit = 3\n"),
                  "outpost.toml:1:7: unknown key 'sync.retry'");
}

TEST(ParseConfigTest, ReportsEveryProblemInFileOrder) {
  const std::string m =
      ParseError("[server]\nread_timeout = 30\n[sync]\nmode = \"sometimes\"\n[bogus]\n");
  const auto first = m.find("outpost.toml:2:1: server.read_timeout");
  const auto second = m.find("\noutpost.toml:4:1: sync.mode");
  const auto third = m.find("\noutpost.toml:5:2: unknown table [bogus]");
  ASSERT_NE(first, std::string::npos) << m;
  ASSERT_NE(second, std::string::npos) << m;
  ASSERT_NE(third, std::string::npos) << m;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST(ParseConfigTest, WrongTypeErrorsNameKeyValueAndExpectedType) {
  EXPECT_EQ(ParseError("[sync]\ninterval = 3600\n"),
            "outpost.toml:2:1: sync.interval: expected a duration string such as \"30s\" or "
            "\"1h30m\", got integer 3600");
  EXPECT_EQ(ParseError("[server]\nmax_connections = \"many\"\n"),
            "outpost.toml:2:1: server.max_connections: expected an integer, got string \"many\"");
  EXPECT_CONTAINS(ParseError("[server]\nmax_connections = 1.5\n"),
                  "server.max_connections: expected an integer, got floating-point 1.5");
  EXPECT_CONTAINS(ParseError("[tls]\nhostnames = \"localhost\"\n"),
                  "tls.hostnames: expected an array of strings such as [\"localhost\"], got "
                  "string \"localhost\"");
  EXPECT_CONTAINS(ParseError("[tls]\nhostnames = [\"a\", 1]\n"),
                  "tls.hostnames: expected an array of strings");
  EXPECT_CONTAINS(ParseError("listen = true\n"),
                  "outpost.toml:1:1: listen: expected a string, got boolean true");
  EXPECT_CONTAINS(ParseError("[policy]\nfloating_lease = { minutes = 5 }\n"),
                  "policy.floating_lease: expected a duration string such as \"30s\" or "
                  "\"1h30m\", got table");
}

TEST(ParseConfigTest, SectionGivenAsAValueIsAnError) {
  EXPECT_EQ(ParseError("sync = \"online\"\n"),
            "outpost.toml:1:1: 'sync' must be the table [sync], got string \"online\"");
}

TEST(ParseConfigTest, BadValueErrorsNameKeyValueAndWhatIsAccepted) {
  EXPECT_EQ(ParseError("[sync]\nmode = \"onlin\"\n"),
            "outpost.toml:2:1: sync.mode: \"onlin\" is not a sync mode; accepted: \"offline\", "
            "\"online\"");
  EXPECT_CONTAINS(ParseError("[tls]\nmin_version = \"1.1\"\n"),
                  "tls.min_version: \"1.1\" is not a TLS version; accepted: \"1.2\", \"1.3\"");
  EXPECT_CONTAINS(ParseError("[policy]\nfloating_lease = \"30s\"\n"),
                  "policy.floating_lease: \"30s\" is below the minimum of 1m");
  EXPECT_CONTAINS(ParseError("[policy]\ntoken_max_expiry_days = 400\n"),
                  "policy.token_max_expiry_days: 400 is out of range; accepted: 1 to 365");
  EXPECT_CONTAINS(ParseError("[sync]\ninterval = \"1 hour\"\n"),
                  "sync.interval: invalid duration \"1 hour\"");
  EXPECT_CONTAINS(ParseError("listen = \"localhost\"\n"),
                  "listen: \"localhost\" is not a listen address");
  EXPECT_CONTAINS(ParseError("[sync]\nproxy = \"https://p.example.com:3128\"\n"),
                  "proxy URL 'https://p.example.com:3128' must start with http://");
  EXPECT_CONTAINS(ParseError("[sync]\ncentral_url = \"http://c.example.com\"\n"),
                  "sync.central_url: \"http://c.example.com\" is not an https:// URL");
  EXPECT_CONTAINS(ParseError("[log]\nlevel = \"loud\"\n"),
                  "log.level: \"loud\" is not a log level");
  EXPECT_CONTAINS(ParseError("[database]\nsynchronous = \"off\"\n"),
                  "database.synchronous: \"off\" is not a durability level; accepted: \"full\", "
                  "\"normal\"");
}

TEST(ParseConfigTest, SyntaxErrorNamesThePosition) {
  EXPECT_CONTAINS(ParseError("[sync]\nmode = offline\n"), "outpost.toml:2:");
  EXPECT_CONTAINS(ParseError("[sync]\nmode = \"a\"\nmode = \"b\"\n"), "outpost.toml:3:");
}

TEST(ParseConfigTest, RulesBetweenKeysAreCheckedAfterReading) {
  EXPECT_EQ(ParseError("[policy]\nauthorization_renewal = \"120d\"\n"),
            "outpost.toml: policy.authorization_renewal (120d) must be shorter than "
            "policy.authorization_validity (90d)");
  EXPECT_CONTAINS(ParseError("[sync]\nmode = \"online\"\n"), "sync.central_url is empty");
}

TEST(LoadConfigFileTest, MissingFileIsNotFoundWithPathAndHint) {
  TempDir dir;
  Result<Config> c = LoadConfigFile(dir / "outpost.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Errc::kNotFound);
  EXPECT_CONTAINS(c.status().message(), (dir / "outpost.toml").string() + " does not exist");
  EXPECT_CONTAINS(c.status().message(), "outpost init");
}

TEST(LoadConfigFileTest, DirectoryIsAnError) {
  TempDir dir;
  Result<Config> c = LoadConfigFile(dir.path());
  ASSERT_FALSE(c.ok());
  EXPECT_CONTAINS(c.status().message(), "is a directory");
}

TEST(LoadConfigFileTest, ReadsTheFileAndNamesItInErrors) {
  TempDir dir;
  WriteFileOrDie(dir / "outpost.toml", std::string(kFullFile));
  Result<Config> c = LoadConfigFile(dir / "outpost.toml");
  ASSERT_OK(c);
  EXPECT_EQ(*c, FullConfig());
  EXPECT_TRUE(c->data_dir.empty());

  WriteFileOrDie(dir / "bad.toml", "[sync]\nintervall = \"1h\"\n");
  Result<Config> bad = LoadConfigFile(dir / "bad.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_CONTAINS(bad.status().message(), (dir / "bad.toml").string() + ":2:1: unknown key");
}

TEST(ApplyOverrideTest, SetsKeysOfEveryKind) {
  Config c;
  ASSERT_OK(ApplyOverride(c, "sync.mode", "online"));
  ASSERT_OK(ApplyOverride(c, "listen", "127.0.0.1:0"));
  ASSERT_OK(ApplyOverride(c, "server.read_timeout", "5s"));
  ASSERT_OK(ApplyOverride(c, "server.max_connections", "12"));
  ASSERT_OK(ApplyOverride(c, "tls.hostnames", "a.example.com, 10.0.0.1"));
  EXPECT_EQ(c.sync.mode, SyncMode::kOnline);
  EXPECT_EQ(c.listen, (ListenAddress{"127.0.0.1", 0}));
  EXPECT_EQ(c.server.read_timeout, 5s);
  EXPECT_EQ(c.server.max_connections, 12);
  EXPECT_EQ(c.tls.hostnames, (std::vector<std::string>{"a.example.com", "10.0.0.1"}));
}

TEST(ApplyOverrideTest, BadValueNamesKeyAndValueAndChangesNothing) {
  Config c;
  Status s = ApplyOverride(c, "server.read_timeout", "5 seconds");
  ASSERT_FALSE(s.ok());
  EXPECT_CONTAINS(s.message(), "server.read_timeout: invalid duration \"5 seconds\"");
  s = ApplyOverride(c, "server.max_connections", "12k");
  EXPECT_EQ(s.message(), "server.max_connections: \"12k\" is not an integer");
  s = ApplyOverride(c, "policy.floating_lease", "10s");
  EXPECT_CONTAINS(s.message(), "policy.floating_lease: \"10s\" is below the minimum of 1m");
  s = ApplyOverride(c, "tls.hostnames", "");
  EXPECT_CONTAINS(s.message(), "tls.hostnames: the list is empty");
  EXPECT_EQ(c, Config{});
}

TEST(ApplyOverrideTest, UnknownKeyIsNamed) {
  Config c;
  EXPECT_EQ(ApplyOverride(c, "sync.intervall", "1h").message(),
            "unknown key 'sync.intervall' (did you mean 'sync.interval'?); known keys in "
            "[sync]: mode, central_url, proxy, interval, jitter, max_backoff");
  EXPECT_CONTAINS(ApplyOverride(c, "sync", "online").message(), "'sync' is a table, not a key");
  EXPECT_CONTAINS(ApplyOverride(c, "data_dir", "/tmp").message(), "--data-dir");
  EXPECT_EQ(c, Config{});
}

TEST(ApplyOverrideTest, LeavesRulesBetweenKeysToValidate) {
  Config c;
  ASSERT_OK(ApplyOverride(c, "sync.mode", "online"));  // central_url may follow
  EXPECT_FALSE(Validate(c).ok());
  ASSERT_OK(ApplyOverride(c, "sync.central_url", "https://central.example.com"));
  EXPECT_OK(Validate(c));
}

// A fake environment that records which variables were asked for.
class FakeEnvironment {
 public:
  explicit FakeEnvironment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  GetEnv AsGetEnv() {
    return [this](const std::string& name) -> std::optional<std::string> {
      asked_.insert(name);
      auto it = vars_.find(name);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  const std::set<std::string>& asked() const { return asked_; }

 private:
  std::map<std::string, std::string> vars_;
  std::set<std::string> asked_;
};

TEST(ApplyEnvironmentTest, MapsSectionAndKeyToUpperCaseNames) {
  FakeEnvironment env({{"OUTPOST_LISTEN", "0.0.0.0:9000"},
                       {"OUTPOST_SYNC_MODE", "online"},
                       {"OUTPOST_SYNC_CENTRAL_URL", "https://c.example.com"},
                       {"OUTPOST_SERVER_READ_TIMEOUT", "7s"},
                       {"OUTPOST_LOG_FORMAT", "json"},
                       {"OUTPOST_TLS_HOSTNAMES", "a,b"}});
  Config c;
  ASSERT_OK(ApplyEnvironment(c, env.AsGetEnv()));
  EXPECT_EQ(c.listen.ToString(), "0.0.0.0:9000");
  EXPECT_EQ(c.sync.mode, SyncMode::kOnline);
  EXPECT_EQ(c.sync.central_url, "https://c.example.com");
  EXPECT_EQ(c.server.read_timeout, 7s);
  EXPECT_EQ(c.log.format, "json");
  EXPECT_EQ(c.tls.hostnames, (std::vector<std::string>{"a", "b"}));
}

constexpr std::string_view kCliVariables[] = {"OUTPOST_SERVER", "OUTPOST_API_KEY", "OUTPOST_CA",
                                              "OUTPOST_DATA_DIR", "OUTPOST_CONFIG"};

TEST(ApplyEnvironmentTest, IgnoresTheCliVariablesAndReadsOnlyKeyNames) {
  std::map<std::string, std::string> vars;
  for (std::string_view name : kCliVariables) vars[std::string(name)] = "x";
  vars["OUTPOST_SYNC_INTERVALL"] = "nonsense";
  FakeEnvironment env(vars);
  Config c;
  ASSERT_OK(ApplyEnvironment(c, env.AsGetEnv()));
  EXPECT_EQ(c, Config{});
  std::set<std::string> expected;
  for (const std::string& key : KnownKeys()) expected.insert(*EnvironmentVariableFor(key));
  EXPECT_EQ(env.asked(), expected);
}

TEST(ApplyEnvironmentTest, NoKeyMapsToACliVariableAndNamesAreUnique) {
  std::set<std::string> seen;
  for (const std::string& key : KnownKeys()) {
    const std::optional<std::string> name = EnvironmentVariableFor(key);
    ASSERT_TRUE(name.has_value()) << key;
    EXPECT_TRUE(seen.insert(*name).second) << "two keys map to " << *name;
    for (std::string_view cli : kCliVariables) EXPECT_NE(*name, cli) << key;
  }
  EXPECT_EQ(EnvironmentVariableFor("server.read_timeout"), "OUTPOST_SERVER_READ_TIMEOUT");
  EXPECT_EQ(EnvironmentVariableFor("tls.client_ca"), "OUTPOST_TLS_CLIENT_CA");
  EXPECT_EQ(EnvironmentVariableFor("no.such_key"), std::nullopt);
}

TEST(ApplyEnvironmentTest, BadValueNamesTheVariableAndChangesNothing) {
  FakeEnvironment env({{"OUTPOST_SERVER_READ_TIMEOUT", "7 s"},
                       {"OUTPOST_SYNC_MODE", "always"},
                       {"OUTPOST_LOG_LEVEL", "debug"}});
  Config c;
  const Status s = ApplyEnvironment(c, env.AsGetEnv());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_CONTAINS(s.message(),
                  "environment variable OUTPOST_SERVER_READ_TIMEOUT: server.read_timeout: "
                  "invalid duration \"7 s\"");
  EXPECT_CONTAINS(s.message(),
                  "environment variable OUTPOST_SYNC_MODE: sync.mode: \"always\" is not a sync "
                  "mode");
  EXPECT_EQ(c, Config{}) << "the valid OUTPOST_LOG_LEVEL must not be half-applied";
}

TEST(LoadLayeredConfigTest, FlagsBeatEnvironmentWhichBeatsTheFile) {
  TempDir dir;
  WriteFileOrDie(dir / "outpost.toml",
                 "listen = \"127.0.0.1:1000\"\n[sync]\ninterval = \"2h\"\njitter = \"1m\"\n"
                 "[log]\nlevel = \"warn\"\n");
  FakeEnvironment env({{"OUTPOST_LISTEN", "127.0.0.1:2000"}, {"OUTPOST_SYNC_INTERVAL", "3h"}});
  Result<Config> c = LoadLayeredConfig(dir / "outpost.toml", dir.path(), env.AsGetEnv(),
                                       {{"listen", "127.0.0.1:0"}});
  ASSERT_OK(c);
  EXPECT_EQ(c->listen.ToString(), "127.0.0.1:0");  // flag over environment over file
  EXPECT_EQ(c->sync.interval, 3h);                 // environment over file
  EXPECT_EQ(c->sync.jitter, 1min);                 // file over default
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->sync.max_backoff, 6h);  // default
  EXPECT_EQ(c->data_dir, dir.path());
}

TEST(LoadLayeredConfigTest, ValidatesTheResultOfAllLayers) {
  TempDir dir;
  WriteFileOrDie(dir / "outpost.toml", "[sync]\nmode = \"offline\"\n");
  FakeEnvironment env(std::map<std::string, std::string>{{"OUTPOST_SYNC_MODE", "online"}});
  Result<Config> c = LoadLayeredConfig(dir / "outpost.toml", dir.path(), env.AsGetEnv(), {});
  ASSERT_FALSE(c.ok());
  EXPECT_CONTAINS(c.status().message(), "sync.central_url is empty");

  c = LoadLayeredConfig(dir / "outpost.toml", dir.path(), env.AsGetEnv(),
                        {{"sync.central_url", "https://central.example.com"}});
  ASSERT_OK(c);
  EXPECT_EQ(c->sync.mode, SyncMode::kOnline);
}

TEST(RenderConfigTest, DefaultsRoundTrip) {
  const std::string text = RenderConfig(Config{});
  Result<Config> c = ParseConfig(text, "rendered.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << text;
  EXPECT_EQ(*c, Config{});
}

TEST(RenderConfigTest, NonDefaultValuesRoundTrip) {
  Config original = FullConfig();
  original.tls.certificate = "dir with \"quotes\"\\and ünïcode/cert.pem";
  original.policy.floating_lease = 1min + 500ms;
  const std::string text = RenderConfig(original);
  Result<Config> c = ParseConfig(text, "rendered.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << text;
  EXPECT_EQ(*c, original);
}

TEST(RenderConfigTest, WritesEveryKeyWithACommentAndItsValue) {
  const std::string text = RenderConfig(Config{});
  EXPECT_CONTAINS(text, "listen = \"127.0.0.1:8443\"\n");
  EXPECT_CONTAINS(text, "\n[sync]\n");
  EXPECT_CONTAINS(text, "\nmode = \"offline\"\n");
  EXPECT_CONTAINS(text, "\ninterval = \"1h\"\n");
  EXPECT_CONTAINS(text, "\nhostnames = [\"localhost\"]\n");
  EXPECT_CONTAINS(text, "\nauthorization_validity = \"90d\"\n");
  EXPECT_CONTAINS(text, "\ntoken_max_expiry_days = 365\n");
  EXPECT_CONTAINS(text, "\nmin_version = \"1.2\"\n");
  // Every key line is preceded by its one-line comment.
  std::size_t key_lines = 0;
  std::string previous;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (!line.empty() && line[0] != '#' && line[0] != '[') {
      ++key_lines;
      EXPECT_EQ(previous.rfind("# ", 0), 0u) << "no comment above: " << line;
    }
    previous = line;
    start = end + 1;
  }
  EXPECT_EQ(key_lines, KnownKeys().size());
}

// server.metrics_require_auth, the first boolean key (issue 14, finding 8).
TEST(BooleanKeyTest, DefaultsToFalseAndReadsTomlBooleans) {
  EXPECT_FALSE(Config().server.metrics_require_auth);
  Result<Config> on = ParseConfig("[server]\nmetrics_require_auth = true\n", "outpost.toml");
  ASSERT_OK(on);
  EXPECT_TRUE(on->server.metrics_require_auth);
  Result<Config> off = ParseConfig("[server]\nmetrics_require_auth = false\n", "outpost.toml");
  ASSERT_OK(off);
  EXPECT_FALSE(off->server.metrics_require_auth);
}

TEST(BooleanKeyTest, OtherTypesAreRefusedNamingTheKeyAndWhatIsAccepted) {
  EXPECT_EQ(ParseError("[server]\nmetrics_require_auth = \"true\"\n"),
            "outpost.toml:2:1: server.metrics_require_auth: expected a boolean (true or false, "
            "without quotes), got string \"true\"");
  EXPECT_CONTAINS(ParseError("[server]\nmetrics_require_auth = 1\n"),
                  "server.metrics_require_auth: expected a boolean (true or false, without "
                  "quotes), got integer 1");
}

TEST(BooleanKeyTest, OverridesAndTheEnvironmentTakeExactlyTrueOrFalse) {
  Config c;
  ASSERT_OK(ApplyOverride(c, "server.metrics_require_auth", "true"));
  EXPECT_TRUE(c.server.metrics_require_auth);
  for (const char* bad : {"yes", "1", "TRUE", "", "true "}) {
    const Status s = ApplyOverride(c, "server.metrics_require_auth", bad);
    EXPECT_EQ(s.code(), Errc::kInvalidArgument) << bad;
    EXPECT_CONTAINS(s.message(), "server.metrics_require_auth");
    EXPECT_CONTAINS(s.message(), "is not a boolean; accepted: true, false");
  }
  EXPECT_TRUE(c.server.metrics_require_auth);  // unchanged by the refusals
  Config env;
  const Status s = ApplyEnvironment(env, [](const std::string& name) -> std::optional<std::string> {
    if (name == "OUTPOST_SERVER_METRICS_REQUIRE_AUTH") return "on";
    return std::nullopt;
  });
  EXPECT_CONTAINS(s.message(), "environment variable OUTPOST_SERVER_METRICS_REQUIRE_AUTH");
  EXPECT_FALSE(env.server.metrics_require_auth);
}

TEST(BooleanKeyTest, RendersUnquotedAndRoundTrips) {
  Config c;
  c.server.metrics_require_auth = true;
  const std::string text = RenderConfig(c);
  EXPECT_CONTAINS(text, "\nmetrics_require_auth = true\n");
  Result<Config> back = ParseConfig(text, "rendered.toml");
  ASSERT_OK(back);
  EXPECT_EQ(*back, c);
}

// True if `text` is well-formed UTF-8 (enough for these tests: no overlong or surrogate check).
bool IsUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > text.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Values quoted in messages are cut between characters, never inside one (issue 14, finding 8).
TEST(ParseConfigTest, LongValuesInMessagesAreCutBetweenCharacters) {
  // Arrays are shown cut to 60 bytes; with and without one byte of padding, the cut falls once
  // inside a 2-byte character.
  for (const std::string padding : {"", "x"}) {
    std::string word;
    for (int i = 0; i < 40; ++i) word += "\xC3\xA9";  // é
    const std::string message =
        ParseError("[server]\nmax_connections = [\"" + padding + word + "\"]\n");
    EXPECT_CONTAINS(message, "...");
    EXPECT_TRUE(IsUtf8(message)) << message;
  }
}

}  // namespace
}  // namespace outpost::config
