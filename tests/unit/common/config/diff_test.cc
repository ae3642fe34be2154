#include "common/config/diff.h"

#include <gtest/gtest.h>

#include "common/config/config_file.h"
#include "tests/testing/test_util.h"

namespace outpost::config {
namespace {

TEST(DiffConfigsTest, EqualConfigurationsHaveNoChanges) {
  Config a;
  Config b;
  b.data_dir = "/elsewhere";  // not a key
  EXPECT_TRUE(DiffConfigs(a, b).empty());
}

TEST(DiffConfigsTest, NamesEveryChangedKeyInFileOrderWithBothValues) {
  Config before;
  Config after;
  ASSERT_OK(ApplyOverride(after, "sync.interval", "30m"));
  ASSERT_OK(ApplyOverride(after, "listen", "0.0.0.0:9443"));
  ASSERT_OK(ApplyOverride(after, "log.level", "debug"));
  ASSERT_OK(ApplyOverride(after, "tls.hostnames", "localhost,sat.lan"));
  const std::vector<KeyChange> changes = DiffConfigs(before, after);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0], (KeyChange{"listen", "\"127.0.0.1:8443\"", "\"0.0.0.0:9443\""}));
  EXPECT_EQ(changes[1].key, "tls.hostnames");
  EXPECT_EQ(changes[1].after, "[\"localhost\", \"sat.lan\"]");
  EXPECT_EQ(changes[2], (KeyChange{"sync.interval", "\"1h\"", "\"30m\""}));
  EXPECT_EQ(changes[3], (KeyChange{"log.level", "\"info\"", "\"debug\""}));
  EXPECT_EQ(Describe(changes[2]), "sync.interval changed (\"1h\" -> \"30m\")");
}

// A change is logged and audited: the proxy's password must appear in neither.
TEST(DiffConfigsTest, ProxyCredentialsAreNeverShown) {
  Config before;
  Config after;
  ASSERT_OK(ApplyOverride(before, "sync.proxy", "http://bob:old-secret@proxy.lan:3128"));
  ASSERT_OK(ApplyOverride(after, "sync.proxy", "http://bob:new-secret@proxy.lan:3128"));
  std::vector<KeyChange> changes = DiffConfigs(before, after);
  ASSERT_EQ(changes.size(), 1u);
  const std::string text = Describe(changes[0]);
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("bob"), std::string::npos) << text;
  EXPECT_NE(text.find("proxy.lan:3128"), std::string::npos) << text;
  EXPECT_NE(text.find("new credentials"), std::string::npos) << text;

  ASSERT_OK(ApplyOverride(after, "sync.proxy", "http://other.lan:8080"));
  changes = DiffConfigs(before, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].before, "\"http://***@proxy.lan:3128\"");
  EXPECT_EQ(changes[0].after, "\"http://other.lan:8080\"");
}

}  // namespace
}  // namespace outpost::config
