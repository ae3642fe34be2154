#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config/config_file.h"
#include "common/status.h"

namespace outpost::server {

struct InitOptions {
  std::filesystem::path data_dir;
  // Written to outpost.toml; its tls.hostnames (plus localhost, 127.0.0.1 and ::1) go into
  // the TLS server certificate's subjectAltName.
  config::Config config;
};

struct InitReport {
  std::string satellite_id;
  std::string ca_fingerprint;  // SHA-256 of the CA certificate, colon hex
  std::string signing_key_id;
  std::vector<std::filesystem::path> files_written;
};

// Creates a satellite data directory (see DataDir): database with the current schema, the
// satellite CA, the bundle-signing key, the TLS key and server certificate, and outpost.toml.
// Refuses (kAlreadyExists) a directory that already holds outpost.toml or outpost.db. On any
// failure the files it created are removed again, so a retry starts clean.
Result<InitReport> InitDataDir(const InitOptions& options, const Clock& clock);

}  // namespace outpost::server
