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
  // Cost of the first admin's password hash; tests lower it.
  int scrypt_log2_n = 15;
  // Written to outpost.toml; its tls.hostnames (plus localhost, 127.0.0.1 and ::1) go into
  // the TLS server certificate's subjectAltName.
  config::Config config;
  // The contents of the enrollment bundle central wrote (`outpost init --enroll FILE`), binary
  // or armored; empty: not enrolled (sync stays impossible until a later enrollment).
  std::string enrollment_bundle;
};

struct InitReport {
  std::string satellite_id;
  std::string ca_fingerprint;  // SHA-256 of the CA certificate, colon hex
  std::string signing_key_id;
  // The first admin: shown once by `outpost init`, never stored in clear (the API key is also
  // written to admin.apikey, mode 0600, for local CLI use).
  std::string admin_user;
  std::string admin_password;
  std::string admin_api_key;
  std::filesystem::path admin_api_key_file;
  std::vector<std::filesystem::path> files_written;
  // Set when enrolled: the operator compares the fingerprint with the one central printed.
  std::string account_id;
  std::string central_key_id;
  std::string central_key_fingerprint;
  std::string central_url;
};

// Creates a satellite data directory (see DataDir): database with the current schema, the
// satellite CA, the bundle-signing key, the TLS key and server certificate, outpost.toml, and
// the first admin user with a generated password and an API key (admin.apikey).
// Refuses (kAlreadyExists) a directory that already holds outpost.toml or outpost.db. On any
// failure the files it created are removed again, so a retry starts clean.
Result<InitReport> InitDataDir(const InitOptions& options, const Clock& clock);

}  // namespace outpost::server
