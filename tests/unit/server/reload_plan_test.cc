#include "server/reload_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "common/config/config_file.h"
#include "tests/testing/test_util.h"

namespace outpost::server {
namespace {

std::set<std::string> Keys(const std::vector<config::KeyChange>& changes) {
  std::set<std::string> out;
  for (const auto& c : changes) out.insert(c.key);
  return out;
}

TEST(ReloadPlanTest, NothingChangedPlansNothing) {
  config::Config running;
  running.data_dir = "/var/lib/outpost";
  config::Config loaded;
  const ReloadPlan plan = PlanReload(running, loaded);
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_TRUE(plan.ignored.empty());
  EXPECT_EQ(plan.effective, running);
}

TEST(ReloadPlanTest, ReloadableKeysApplyAndTheOthersKeepTheirRunningValue) {
  config::Config running;
  running.data_dir = "/var/lib/outpost";
  config::Config loaded;
  ASSERT_OK(config::ApplyOverride(loaded, "sync.interval", "15m"));
  ASSERT_OK(config::ApplyOverride(loaded, "sync.jitter", "1m"));
  ASSERT_OK(config::ApplyOverride(loaded, "log.level", "debug"));
  ASSERT_OK(config::ApplyOverride(loaded, "policy.authorization_validity", "60d"));
  ASSERT_OK(config::ApplyOverride(loaded, "tls.certificate", "/etc/outpost/server.pem"));
  ASSERT_OK(config::ApplyOverride(loaded, "listen", "0.0.0.0:9443"));
  ASSERT_OK(config::ApplyOverride(loaded, "server.io_threads", "4"));
  ASSERT_OK(config::ApplyOverride(loaded, "database.synchronous", "normal"));
  ASSERT_OK(config::ApplyOverride(loaded, "log.format", "json"));
  ASSERT_OK(config::ApplyOverride(loaded, "policy.token_max_expiry_days", "90"));
  ASSERT_OK(config::ApplyOverride(loaded, "tls.hostnames", "localhost,sat.lan"));
  ASSERT_OK(config::Validate(loaded));

  const ReloadPlan plan = PlanReload(running, loaded);
  EXPECT_EQ(Keys(plan.applied),
            (std::set<std::string>{"sync.interval", "sync.jitter", "log.level",
                                   "policy.authorization_validity", "tls.certificate"}));
  EXPECT_EQ(Keys(plan.needs_restart),
            (std::set<std::string>{"listen", "server.io_threads", "database.synchronous",
                                   "log.format", "policy.token_max_expiry_days"}));
  EXPECT_EQ(Keys(plan.ignored), std::set<std::string>{"tls.hostnames"});

  const config::Config& e = plan.effective;
  EXPECT_EQ(e.sync.interval, std::chrono::minutes(15));
  EXPECT_EQ(e.log.level, "debug");
  EXPECT_EQ(e.policy.authorization_validity, std::chrono::days(60));
  EXPECT_EQ(e.tls.certificate, "/etc/outpost/server.pem");
  // Kept until a restart:
  EXPECT_EQ(e.listen, running.listen);
  EXPECT_EQ(e.server.io_threads, running.server.io_threads);
  EXPECT_EQ(e.database.synchronous, running.database.synchronous);
  EXPECT_EQ(e.log.format, running.log.format);
  EXPECT_EQ(e.policy.token_max_expiry_days, running.policy.token_max_expiry_days);
  EXPECT_EQ(e.tls.hostnames, running.tls.hostnames);
  EXPECT_EQ(e.data_dir, running.data_dir);
  EXPECT_OK(config::Validate(e));

  bool found = false;
  for (const auto& c : plan.needs_restart) {
    if (c.key != "listen") continue;
    found = true;
    EXPECT_EQ(RestartMessage(c),
              "needs a restart: listen changed (\"127.0.0.1:8443\" -> \"0.0.0.0:9443\")");
  }
  EXPECT_TRUE(found);
}

// Every key, changed alone: the plan files it where ReloadsWithoutRestart says, and the
// effective configuration takes the new value exactly for the keys that reload. This keeps the
// field copies in PlanReload and the list of reloadable keys from drifting apart.
TEST(ReloadPlanTest, EveryKeyIsClassifiedAndAppliedConsistently) {
  const config::Config running;
  for (const std::string& key : config::KnownKeys()) {
    SCOPED_TRACE(key);
    config::Config loaded;
    // A value different from the default that passes the key's own rule.
    bool changed = false;
    for (const char* candidate :
         {"17", "2h", "debug", "json", "1.3", "online", "true", "normal", "other.pem",
          "127.0.0.1:9999", "localhost,sat.lan", "https://central.example:8443",
          "http://proxy.lan:3128", "tcp://127.0.0.1:6514", "siem-host", "25"}) {
      config::Config attempt;
      if (!config::ApplyOverride(attempt, key, candidate).ok()) continue;
      if (config::DiffConfigs(running, attempt).empty()) continue;
      loaded = attempt;
      changed = true;
      break;
    }
    ASSERT_TRUE(changed) << "no test value for " << key;
    const ReloadPlan plan = PlanReload(running, loaded);
    const size_t total = plan.applied.size() + plan.needs_restart.size() + plan.ignored.size();
    ASSERT_EQ(total, 1u);
    if (ReloadsWithoutRestart(key)) {
      ASSERT_EQ(plan.applied.size(), 1u);
      EXPECT_TRUE(config::DiffConfigs(plan.effective, loaded).empty());
    } else {
      EXPECT_TRUE(plan.applied.empty());
      EXPECT_TRUE(config::DiffConfigs(plan.effective, running).empty());
    }
  }
}

}  // namespace
}  // namespace outpost::server
