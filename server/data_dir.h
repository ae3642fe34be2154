#pragma once

#include <filesystem>

namespace outpost::server {

// Layout of a satellite data directory (written by `outpost init`). Key files are mode 0600
// inside a 0700 keys/ directory.
struct DataDir {
  explicit DataDir(std::filesystem::path root) : root(std::move(root)) {}

  std::filesystem::path config() const { return root / "outpost.toml"; }
  std::filesystem::path database() const { return root / "outpost.db"; }
  // The licensing state saved at the last clean stop (server/licensing/state_file.h), 0600.
  std::filesystem::path licensing_state() const { return root / "licensing.state"; }
  std::filesystem::path ca_certificate() const { return root / "ca.pem"; }
  std::filesystem::path admin_api_key() const { return root / "admin.apikey"; }
  std::filesystem::path keys() const { return root / "keys"; }
  std::filesystem::path ca_key() const { return keys() / "ca.key"; }
  std::filesystem::path signing_key() const { return keys() / "signing.key"; }
  std::filesystem::path tls_key() const { return keys() / "tls.key"; }
  // From the enrollment bundle: the one-time secret (0600) and central's TLS CA.
  std::filesystem::path enrollment_secret() const { return keys() / "enrollment.secret"; }
  std::filesystem::path central_ca() const { return root / "central-ca.pem"; }
  std::filesystem::path tls_certificate() const { return root / "tls" / "server.pem"; }
  // The last audit record a syslog collector accepted (audit.syslog_url), as decimal text.
  std::filesystem::path syslog_position() const { return root / "audit-syslog.position"; }
  // Held (flock) by the one process that uses the directory: `outpost serve`, `outpost init`.
  std::filesystem::path lock() const { return root / "outpost.lock"; }

  std::filesystem::path root;
};

}  // namespace outpost::server
