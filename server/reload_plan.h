#pragma once

// What a reload of outpost.toml changes in a running satellite (SIGHUP, `outpost reload`): the
// pure part, with no I/O. Satellite::Reload applies the plan.

#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/config/diff.h"

namespace outpost::server {

struct ReloadPlan {
  // The configuration the satellite runs with after the reload: the new values of the keys that
  // reload, the running values of every other key.
  config::Config effective;
  // Keys that take their new value now.
  std::vector<config::KeyChange> applied;
  // Keys that changed in the file but keep their running value until the next start.
  std::vector<config::KeyChange> needs_restart;
  // Keys that changed but mean nothing to a running satellite (tls.hostnames: used when
  // `outpost init` issues the certificate; a renewal keeps the certificate's own names).
  std::vector<config::KeyChange> ignored;
};

// Whether a running satellite takes a new value of `key` (a dotted name) without a restart:
// tls.* (but tls.hostnames), sync.*, audit.*, policy.authorization_validity,
// policy.authorization_renewal, policy.floating_lease and log.level.
bool ReloadsWithoutRestart(std::string_view key);

// Compares the running configuration with the one just loaded (both valid). `effective` keeps
// data_dir of `running`.
ReloadPlan PlanReload(const config::Config& running, const config::Config& loaded);

// "needs a restart: server.listen changed (\"127.0.0.1:8443\" -> \"0.0.0.0:8443\")".
std::string RestartMessage(const config::KeyChange& change);

}  // namespace outpost::server
