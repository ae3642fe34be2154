#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/status.h"
#include "outpost/v1/reload.pb.h"
#include "server/audit/audit_log.h"

namespace outpost::server {

// A running satellite: its database (one group-commit writer, pooled readers), keys, CA and
// HTTPS server, wired from an initialised data directory and a validated Config.
//
// Life: Open() loads and checks everything (fails with a message naming the file at fault),
// Start() binds and serves, Shutdown() stops accepting, finishes in-flight requests, then
// closes the database cleanly. Not copyable; Start/Shutdown from one thread.
class Satellite {
 public:
  static Result<std::unique_ptr<Satellite>> Open(const std::filesystem::path& data_dir,
                                                 config::Config config, const Clock& clock);
  ~Satellite();

  Status Start();
  uint16_t port() const;
  const std::string& satellite_id() const;

  // Where Reload reads the configuration from: by default DIR/outpost.toml under the process
  // environment; `outpost serve` passes the same file, environment and flags it started with.
  // Call before Start.
  void SetConfigLoader(std::function<Result<config::Config>()> load);
  // Re-reads the configuration and the TLS files without dropping connections (SIGHUP,
  // `outpost reload`); all or nothing. See server/reloader.h.
  Result<v1::ReloadReport> Reload(const audit::Actor& by);
  // Renews the TLS server certificate if it is due (also at Start and hourly), or raises the
  // alarm for one the satellite did not issue. See server/reloader.h.
  Status CheckTlsCertificate();
  // Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit Satellite(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::server
