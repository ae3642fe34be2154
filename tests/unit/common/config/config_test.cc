#include "common/config/config.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/testing/test_util.h"

namespace outpost::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::days;

// Validate() must fail and its message must contain every one of `parts`.
void ExpectInvalid(const Config& config, std::initializer_list<std::string_view> parts) {
  const Status s = Validate(config);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  for (std::string_view part : parts) {
    EXPECT_NE(s.message().find(part), std::string::npos) << "missing '" << part << "' in\n"
                                                         << s.message();
  }
}

TEST(ConfigDefaultsTest, AreValid) { EXPECT_OK(Validate(Config{})); }

TEST(ConfigDefaultsTest, MatchTheDesign) {
  const Config c;
  EXPECT_EQ(c.listen.ToString(), "127.0.0.1:8443");
  EXPECT_EQ(c.sync.mode, SyncMode::kOffline);
  EXPECT_EQ(c.sync.interval, 1h);
  EXPECT_EQ(c.policy.authorization_validity, days(90));
  EXPECT_EQ(c.policy.authorization_renewal, days(30));
  EXPECT_EQ(c.policy.floating_lease, 15min);
  EXPECT_EQ(c.policy.certificate_validity, days(365));
  EXPECT_EQ(c.policy.certificate_renewal, days(180));
  EXPECT_EQ(c.policy.clock_rollback_tolerance, 5min);
  EXPECT_EQ(c.policy.token_default_expiry_days, 30);
  EXPECT_EQ(c.policy.token_max_expiry_days, 365);
  EXPECT_EQ(c.tls.min_version, TlsVersion::kTls12);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "text");
  // A granted license survives power loss (STYLE.md); "normal" is the faster opt-in.
  EXPECT_EQ(c.database.synchronous, Durability::kFull);
}

TEST(ValidateTest, RejectsAuthorizationRenewalNotShorterThanValidity) {
  Config c;
  c.policy.authorization_renewal = days(90);
  ExpectInvalid(
      c, {"policy.authorization_renewal (90d)", "policy.authorization_validity (90d)", "shorter"});
}

TEST(ValidateTest, RejectsCertificateRenewalNotShorterThanValidity) {
  Config c;
  c.policy.certificate_renewal = days(400);
  ExpectInvalid(c, {"policy.certificate_renewal (400d)", "policy.certificate_validity (365d)"});
}

TEST(ValidateTest, RejectsFloatingLeaseBelowOneMinute) {
  Config c;
  c.policy.floating_lease = 59s;
  ExpectInvalid(c, {"policy.floating_lease", "\"59s\"", "minimum of 1m"});
  c.policy.floating_lease = 60s;
  EXPECT_OK(Validate(c));
}

TEST(ValidateTest, RejectsOnlineModeWithoutCentralUrl) {
  Config c;
  c.sync.mode = SyncMode::kOnline;
  ExpectInvalid(c, {"sync.mode is \"online\"", "sync.central_url is empty"});
  c.sync.central_url = "https://central.example.com";
  EXPECT_OK(Validate(c));
}

TEST(ValidateTest, RejectsCentralUrlThatIsNotHttps) {
  Config c;
  c.sync.central_url = "http://central.example.com";
  ExpectInvalid(c, {"sync.central_url", "\"http://central.example.com\"", "https://"});
}

TEST(ValidateTest, RejectsTokenDefaultExpiryAboveMaximum) {
  Config c;
  c.policy.token_max_expiry_days = 10;
  ExpectInvalid(c, {"policy.token_default_expiry_days (30)", "policy.token_max_expiry_days (10)"});
}

TEST(ValidateTest, RejectsTokenExpiryOutsideOneToThreeHundredSixtyFiveDays) {
  Config c;
  c.policy.token_max_expiry_days = 366;
  ExpectInvalid(c, {"policy.token_max_expiry_days", "366 is out of range", "1 to 365"});
  c.policy.token_max_expiry_days = 365;
  c.policy.token_default_expiry_days = 0;
  ExpectInvalid(c, {"policy.token_default_expiry_days", "0 is out of range"});
}

TEST(ValidateTest, RejectsJitterLongerThanInterval) {
  Config c;
  c.sync.interval = 1min;
  ExpectInvalid(c, {"sync.jitter (5m)", "sync.interval (1m)"});
  c.sync.jitter = 1min;
  EXPECT_OK(Validate(c));
}

TEST(ValidateTest, RejectsZeroTimeoutsAndLimits) {
  Config c;
  c.server.read_timeout = Duration::zero();
  ExpectInvalid(c, {"server.read_timeout", "greater than 0s"});
  c = Config{};
  c.server.max_connections = 0;
  ExpectInvalid(c, {"server.max_connections", "0 is out of range"});
  c = Config{};
  c.server.max_body_bytes = 0;
  ExpectInvalid(c, {"server.max_body_bytes"});
  c = Config{};
  c.server.max_header_bytes = 0;
  ExpectInvalid(c, {"server.max_header_bytes"});
  c = Config{};
  c.server.max_pipelined_requests = 0;
  ExpectInvalid(c, {"server.max_pipelined_requests"});
  c = Config{};
  c.policy.registration_rate_per_minute = 0;
  ExpectInvalid(c, {"policy.registration_rate_per_minute"});
  c = Config{};
  c.sync.interval = Duration::zero();
  ExpectInvalid(c, {"sync.interval", "greater than 0s"});
}

TEST(ValidateTest, AllowsZeroWhereZeroHasAMeaning) {
  Config c;
  c.server.io_threads = 0;       // one per core
  c.server.shutdown_grace = 0s;  // close at once
  c.sync.jitter = 0s;            // no jitter
  c.policy.clock_rollback_tolerance = 0s;
  c.listen.port = 0;  // any free port
  EXPECT_OK(Validate(c));
}

TEST(ValidateTest, RejectsNegativeIoThreads) {
  Config c;
  c.server.io_threads = -1;
  ExpectInvalid(c, {"server.io_threads", "-1 is out of range", "0 to 1024"});
}

TEST(ValidateTest, RejectsEmptyHostnamesAndPaths) {
  Config c;
  c.tls.hostnames.clear();
  ExpectInvalid(c, {"tls.hostnames", "empty"});
  c = Config{};
  c.tls.hostnames = {"ok.example.com", "bad host"};
  ExpectInvalid(c, {"tls.hostnames", "\"bad host\""});
  c = Config{};
  c.tls.certificate.clear();
  ExpectInvalid(c, {"tls.certificate", "must not be empty"});
}

TEST(ValidateTest, RejectsUnknownLogLevelAndFormat) {
  Config c;
  c.log.level = "verbose";
  c.log.format = "xml";
  ExpectInvalid(c, {"log.level: \"verbose\" is not a log level", "\"warn\"",
                    "log.format: \"xml\" is not a log format", "\"json\""});
}

TEST(ValidateTest, ReportsEveryBrokenRuleOnItsOwnLine) {
  Config c;
  c.policy.authorization_renewal = days(100);
  c.policy.floating_lease = 1s;
  const Status s = Validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("policy.floating_lease"), std::string::npos);
  EXPECT_NE(s.message().find("\npolicy.authorization_renewal"), std::string::npos) << s.message();
}

TEST(ListenAddressTest, ParsesHostAndPort) {
  Result<ListenAddress> a = ParseListenAddress("127.0.0.1:8443");
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8443);
  ASSERT_OK(ParseListenAddress("sat.example.com:443"));
  EXPECT_EQ(ParseListenAddress("0.0.0.0:0")->port, 0);
  EXPECT_EQ(ParseListenAddress("127.0.0.1:65535")->port, 65535);
}

TEST(ListenAddressTest, ParsesBracketedIpv6AndWritesItBack) {
  Result<ListenAddress> a = ParseListenAddress("[::1]:8443");
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8443);
  EXPECT_EQ(a->ToString(), "[::1]:8443");
  EXPECT_EQ(ParseListenAddress("[::]:0")->ToString(), "[::]:0");
}

TEST(ListenAddressTest, RejectsMalformedAddressesNamingThem) {
  for (std::string_view bad :
       {"", "localhost", "127.0.0.1:", ":8443", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http",
        "::1:8443", "[::1]8443", "[::1", "[localhost]:80", "a b:80", "127.0.0.1:123456"}) {
    Result<ListenAddress> a = ParseListenAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_NE(a.status().message().find("\"" + std::string(bad) + "\""), std::string::npos)
        << a.status().message();
    EXPECT_NE(a.status().message().find("[::1]:8443"), std::string::npos) << "shows the form";
  }
}

TEST(ResolvePathTest, ResolvesRelativePathsAgainstTheDataDirectory) {
  Config c;
  c.data_dir = "/var/lib/outpost";
  EXPECT_EQ(ResolvePath(c, c.tls.certificate), "/var/lib/outpost/tls/server.pem");
  EXPECT_EQ(ResolvePath(c, "/etc/outpost/ca.pem"), "/etc/outpost/ca.pem");
}

}  // namespace
}  // namespace outpost::config
