#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/config/config.h"
#include "common/status.h"

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
  // Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit Satellite(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::server
