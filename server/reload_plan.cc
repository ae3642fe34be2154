#include "server/reload_plan.h"

namespace outpost::server {

bool ReloadsWithoutRestart(std::string_view key) {
  if (key == "tls.hostnames") return false;
  if (key.starts_with("tls.") || key.starts_with("sync.") || key.starts_with("audit.")) {
    return true;
  }
  return key == "policy.authorization_validity" || key == "policy.authorization_renewal" ||
         key == "policy.floating_lease" || key == "log.level";
}

ReloadPlan PlanReload(const config::Config& running, const config::Config& loaded) {
  ReloadPlan plan;
  plan.effective = running;
  config::Config& e = plan.effective;
  // Field by field, mirroring ReloadsWithoutRestart (the unit test holds the two together).
  const std::vector<std::string> hostnames = e.tls.hostnames;
  e.tls = loaded.tls;
  e.tls.hostnames = hostnames;
  e.sync = loaded.sync;
  e.audit = loaded.audit;
  e.policy.authorization_validity = loaded.policy.authorization_validity;
  e.policy.authorization_renewal = loaded.policy.authorization_renewal;
  e.policy.floating_lease = loaded.policy.floating_lease;
  e.log.level = loaded.log.level;

  for (config::KeyChange& change : config::DiffConfigs(running, loaded)) {
    if (change.key == "tls.hostnames") {
      plan.ignored.push_back(std::move(change));
    } else if (ReloadsWithoutRestart(change.key)) {
      plan.applied.push_back(std::move(change));
    } else {
      plan.needs_restart.push_back(std::move(change));
    }
  }
  return plan;
}

std::string RestartMessage(const config::KeyChange& change) {
  return "needs a restart: " + config::Describe(change);
}

}  // namespace outpost::server
