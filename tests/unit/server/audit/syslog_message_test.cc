#include <gtest/gtest.h>

#include "common/syslog_url.h"
#include "server/audit/syslog_forwarder.h"
#include "tests/testing/test_util.h"

namespace outpost::server::audit {
namespace {

Record MakeRecord(std::string action, std::string actor, std::string object, std::string details) {
  Record r;
  r.seq = 42;
  r.time_ms = 1'796'400'000'123;  // 2026-12-04T16:00:00.123Z
  r.actor = std::move(actor);
  r.action = std::move(action);
  r.object = std::move(object);
  r.details = std::move(details);
  r.hash = std::string(32, '\xab');
  return r;
}

TEST(SyslogMessageTest, Rfc5424WithStructuredDataAndTheDetailsAsMessage) {
  const std::string m = FormatSyslogMessage(
      MakeRecord("token.create", "user:alice", "token:t1", R"({"va":"default"})"), "sat-1",
      "sat-id", 77);
  EXPECT_EQ(m,
            "<109>1 2026-12-04T16:00:00.123Z sat-1 outpost 77 token.create [outpost@32473 "
            "seq=\"42\" actor=\"user:alice\" object=\"token:t1\" hash=\""
            "abababababababababababababababababababababababababababababababab\" "
            "satellite=\"sat-id\"] {\"va\":\"default\"}");
}

TEST(SyslogMessageTest, FailuresAreWarningsAndFieldsAreEscapedOrSanitised) {
  const std::string m = FormatSyslogMessage(
      MakeRecord("login.failure", "anonymous", "user:\"a]b\\c\"", ""), "host with space", "s", 1);
  EXPECT_TRUE(m.starts_with("<108>1 ")) << m;  // 13 * 8 + 4 (warning)
  EXPECT_NE(m.find(" host_with_space outpost 1 login.failure "), std::string::npos) << m;
  EXPECT_NE(m.find(R"(object="user:\"a\]b\\c\"")"), std::string::npos) << m;
  EXPECT_TRUE(m.ends_with("] {}")) << m;
  // MSGID is at most 32 characters.
  const std::string long_action(40, 'x');
  const std::string l = FormatSyslogMessage(MakeRecord(long_action, "a", "o", "{}"), "h", "s", 1);
  EXPECT_NE(l.find(" " + std::string(32, 'x') + " ["), std::string::npos) << l;
}

TEST(SyslogUrlTest, TcpAndTlsWithHostAndPortOnly) {
  auto tcp = ParseSyslogUrl("tcp://siem.example:514");
  ASSERT_OK(tcp);
  EXPECT_FALSE(tcp->tls);
  EXPECT_EQ(tcp->host, "siem.example");
  EXPECT_EQ(tcp->port, "514");
  auto tls = ParseSyslogUrl("tls://[::1]:6514");
  ASSERT_OK(tls);
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "::1");
  for (const std::string bad : {"udp://h:514", "tcp://h", "tcp://:514", "tcp://h:0",
                                "tcp://h:514/x", "tls://::1:6514", "h:514"}) {
    auto r = ParseSyslogUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("accepted: \"tcp://HOST:PORT\""), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace outpost::server::audit
