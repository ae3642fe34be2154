#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"

// What differs between two configurations, key by key (reloads report and audit it).
namespace outpost::config {

// One key whose value differs. Values are spelled as in outpost.toml ("\"30m\"", "16"), except
// that credentials in sync.proxy are replaced by "***": a change is logged and audited, and
// secrets must appear in neither.
struct KeyChange {
  std::string key;  // dotted: "sync.interval"
  std::string before;
  std::string after;

  bool operator==(const KeyChange&) const = default;
};

// Every key whose value differs between `before` and `after`, in file order (KnownKeys()).
// data_dir is not a key and is ignored.
std::vector<KeyChange> DiffConfigs(const Config& before, const Config& after);

// "sync.interval changed (\"1h\" -> \"30m\")".
std::string Describe(const KeyChange& change);

}  // namespace outpost::config
