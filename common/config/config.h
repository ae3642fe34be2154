#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

// The configuration of a satellite (`outpost.toml`). The central reuses the listen, tls,
// server, policy and log parts. Every field has a default that is valid on its own; see
// config_file.h for reading, overriding and writing it, and RenderConfig() for the one-line
// description of each key.
namespace outpost::config {

// Where a server listens. Port 0 asks the operating system for any free port (tests use it).
struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;

  // "127.0.0.1:8443"; IPv6 literals in brackets: "[::1]:8443".
  std::string ToString() const;
  bool operator==(const ListenAddress&) const = default;
};

// Parses "HOST:PORT" (IPv6 as "[ADDR]:PORT"), port 0..65535. InvalidArgument naming the text.
Result<ListenAddress> ParseListenAddress(std::string_view text);

enum class TlsVersion { kTls12, kTls13 };
enum class SyncMode { kOffline, kOnline };

// Relative paths are relative to the data directory: use ResolvePath().
struct TlsConfig {
  std::filesystem::path certificate = "tls/server.pem";  // server certificate chain (PEM)
  std::filesystem::path private_key = "keys/tls.key";    // its private key (PEM)
  std::filesystem::path client_ca = "ca.pem";            // CA that device ID certificates chain to
  std::vector<std::string> hostnames = {"localhost"};    // names and addresses in the certificate
  TlsVersion min_version = TlsVersion::kTls12;
  // The satellite renews a certificate its own CA issued when it expires within this; an
  // operator's certificate raises an alarm instead (server/tls_renewal.h).
  Duration renew_before = std::chrono::days(30);

  bool operator==(const TlsConfig&) const = default;
};

struct ServerConfig {
  int io_threads = 0;  // 0 = one per core
  int max_connections = 10000;
  int max_connections_per_address = 1000;
  int login_rate_per_minute = 30;       // password logins per client address
  int max_queued_password_checks = 16;  // beyond: 503 with Retry-After
  std::uint64_t max_body_bytes = 1048576;
  std::uint32_t max_header_bytes = 16384;
  int max_pipelined_requests = 16;
  Duration handshake_timeout = std::chrono::seconds(10);
  Duration read_timeout = std::chrono::seconds(30);
  Duration write_timeout = std::chrono::seconds(30);
  Duration idle_timeout = std::chrono::seconds(60);
  Duration shutdown_grace = std::chrono::seconds(10);  // 0 = close connections at once
  // The satellite's /metrics: false answers anyone (the default: no secrets there, and existing
  // scrapers keep working); true needs an API key or session with read_metrics. docs/decisions.md.
  bool metrics_require_auth = false;

  bool operator==(const ServerConfig&) const = default;
};

struct SyncConfig {
  SyncMode mode = SyncMode::kOffline;
  std::string central_url;  // "" or "https://..."; required when mode is online
  std::string proxy;        // "" or "http://[USER:PASSWORD@]HOST:PORT" for online sync
  Duration interval = std::chrono::hours(1);
  Duration jitter = std::chrono::minutes(5);  // at most `interval`
  Duration max_backoff = std::chrono::hours(6);

  bool operator==(const SyncConfig&) const = default;
};

// Defaults of DESIGN.md section 2. Renewal periods are shorter than their validity.
struct PolicyConfig {
  Duration authorization_validity = std::chrono::days(90);
  Duration authorization_renewal = std::chrono::days(30);
  Duration floating_lease = std::chrono::minutes(15);  // at least 60 s
  Duration certificate_validity = std::chrono::days(365);
  Duration certificate_renewal = std::chrono::days(180);
  int token_default_expiry_days = 30;  // 1..365, at most token_max_expiry_days
  int token_max_expiry_days = 365;     // 1..365
  Duration clock_rollback_tolerance = std::chrono::minutes(5);
  int registration_rate_per_minute = 600;

  bool operator==(const PolicyConfig&) const = default;
};

// How the database trades durability for speed (SQLite's PRAGMA synchronous in WAL mode).
// Both keep everything acknowledged across kill -9 and crashes of the satellite (DESIGN.md
// section 5); they differ on power loss or a crash of the operating system. See
// docs/decisions.md ("Durability").
enum class Durability {
  kFull,    // every commit is fsynced before it is acknowledged: survives power loss too
  kNormal,  // the WAL is fsynced at checkpoints: a power loss may undo the last commits
};

struct DatabaseConfig {
  Durability synchronous = Durability::kFull;  // STYLE.md: a granted license survives power loss

  bool operator==(const DatabaseConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";   // trace | debug | info | warn | error
  std::string format = "text";  // text | json (see common/log/logging.h)

  bool operator==(const LogConfig&) const = default;
};

// Forwarding of audit records to a syslog collector (server/audit/syslog_forwarder.h).
struct AuditConfig {
  std::string syslog_url;       // "" (off), "tcp://HOST:PORT" or "tls://HOST:PORT"
  std::string syslog_ca;        // tls: the collector's CA certificate (PEM file)
  std::string syslog_hostname;  // HOSTNAME of each message; "" = the system's host name

  bool operator==(const AuditConfig&) const = default;
};

struct Config {
  ListenAddress listen;
  TlsConfig tls;
  ServerConfig server;
  SyncConfig sync;
  PolicyConfig policy;
  DatabaseConfig database;
  LogConfig log;
  AuditConfig audit;
  // Not a key in the file: set by code from --data-dir. Relative paths resolve against it.
  std::filesystem::path data_dir;

  bool operator==(const Config&) const = default;
};

// Checks every key's own rule (the same ones ParseConfig and ApplyOverride apply, so a
// Config built in code is held to them too) and the rules between keys: each renewal shorter
// than its validity, token default expiry within the maximum, sync jitter at most the
// interval, online mode with a central_url. InvalidArgument naming every broken rule, one
// per line, with the keys and their values.
Status Validate(const Config& config);

// `path` if it is absolute, else `config.data_dir / path`.
std::filesystem::path ResolvePath(const Config& config, const std::filesystem::path& path);

}  // namespace outpost::config
