#pragma once

// Reloading a running satellite's configuration and TLS files (SIGHUP, `outpost reload`,
// POST /v1/admin/reload), and renewing its TLS server certificate before it expires.
//
// A reload re-reads outpost.toml (through the loader the satellite was started with: the same
// file, environment and command-line flags) and the TLS files it names. It is all or nothing: a
// configuration that does not parse or validate, a TLS file that cannot be read, a key that
// does not match its certificate or a policy the licensing rules refuse leaves everything as it
// was, and says why. Otherwise the keys that reload (server/reload_plan.h) take effect at once —
// TLS for new connections only, open connections keep theirs — and the others keep their
// running value until a restart, each named in the log and in the answer.
//
// The certificate check (at start and hourly) renews a certificate the satellite CA issued when
// it expires within tls.renew_before: same names and key, written atomically (0644), loaded
// like a reload. A certificate someone else issued is never replaced: it raises an alarm.
// Every reload, refusal, renewal and alarm is audited.
//
// Thread-safety: thread-safe; reloads and certificate checks run one at a time.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/net/metrics.h"
#include "common/net/server.h"
#include "common/sqlite/writer.h"
#include "common/status.h"
#include "outpost/v1/reload.pb.h"
#include "server/audit/audit_log.h"
#include "server/data_dir.h"

namespace outpost::server {
namespace licensing {
class OperatorService;
}
namespace sync {
class SatelliteSync;
}

// Where a reload reads the configuration from: the same layers as at start.
using ConfigLoader = std::function<Result<config::Config>()>;

// The TLS files `config` names (relative paths inside config.data_dir): certificate chain, its
// private key and the client CA, with tls.min_version. Errors name the file and the key.
Result<net::TlsOptions> ReadTlsFiles(const config::Config& config);

class Reloader {
 public:
  struct Parts {
    const Clock* clock = nullptr;
    DataDir dir{""};
    net::HttpServer* server = nullptr;
    sync::SatelliteSync* sync = nullptr;
    licensing::OperatorService* licensing = nullptr;
    sqlite::Writer* writer = nullptr;
    // A changed [audit] section: check_audit refuses what cannot work (a bad CA file) before
    // anything changes, apply_audit puts it in force (it cannot fail the reload).
    std::function<Status(const config::Config&)> check_audit;
    std::function<void(const config::Config&)> apply_audit;
  };
  // `running` is the configuration the satellite serves with (data_dir set), `tls` what the
  // server was created with. Everything in `parts` must outlive the Reloader.
  Reloader(Parts parts, config::Config running, net::TlsOptions tls, ConfigLoader load);

  // outpost_config_reloads_total{result}, outpost_tls_certificate_expiry_seconds and
  // outpost_alarm_tls_certificate. Call before serving.
  void AddMetrics(net::Metrics& metrics);

  // Re-reads and applies the configuration as described above; `by` is audited. On refusal the
  // error (kInvalidArgument for a bad file) says what was wrong and that nothing changed.
  Result<v1::ReloadReport> Reload(const audit::Actor& by);

  // Renews the certificate when due, or raises the alarm (see above). Errors are logged and
  // returned; the certificate in service stays.
  Status CheckCertificate();

  v1::TlsCertificateInfo certificate() const;

 private:
  Status Refuse(const audit::Actor& by, const Status& why);
  // Swaps the server's TLS to `tls` and records the certificate it serves.
  Status ApplyTls(net::TlsOptions tls);
  void NoteCertificate(const net::TlsOptions& tls);
  Status Audit(const audit::Actor& by, std::string action, std::string object, std::string details,
               const std::optional<std::string>& config_sha256);

  const Parts parts_;
  ConfigLoader load_;

  mutable std::mutex mu_;
  config::Config running_;       // guarded by mu_
  net::TlsOptions tls_;          // guarded by mu_
  v1::TlsCertificateInfo info_;  // guarded by mu_
  bool alarm_audited_ = false;   // guarded by mu_: one audit record per alarm episode
  std::atomic<int64_t> not_after_{0};
  std::atomic<bool> alarm_{false};
  std::atomic<uint64_t> reloads_ok_{0};
  std::atomic<uint64_t> reloads_refused_{0};
};

}  // namespace outpost::server
