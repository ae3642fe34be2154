#pragma once

// `outpost central serve`: central over HTTPS (TLS 1.2+), with the HTTP library of server/http.
//   POST /v1/sync   body: a serialized SignedBundle (sync request); answer: the serialized
//                   SignedBundle of the sync response (application/x-protobuf), or an error
//                   body {"error": {reason, message}} with the status of its Errc
//   GET  /healthz   {"status": "ok"}
//   GET  /metrics   Prometheus text
// Requests are processed by Central::ProcessSyncRequestAsync: the same code as files.
//
// Life: Create() loads the TLS certificate and key from the data directory; Start() binds;
// Shutdown() stops accepting, lets in-flight requests finish (up to `grace`), idempotent. The
// Central must outlive the server. Not copyable; Start/Shutdown from one thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "sync/central/central.h"

namespace outpost::central {

struct CentralServerOptions {
  std::string listen;  // "HOST:PORT"; empty: the listen address recorded by `central init`
  int io_threads = 2;
  std::chrono::milliseconds shutdown_grace{10'000};
};

class CentralServer {
 public:
  static Result<std::unique_ptr<CentralServer>> Create(Central& central,
                                                       CentralServerOptions options);
  ~CentralServer();
  CentralServer(const CentralServer&) = delete;
  CentralServer& operator=(const CentralServer&) = delete;

  Status Start();
  uint16_t port() const;  // valid after Start
  const std::string& listen() const;
  void Shutdown();

  class Impl;

 private:
  explicit CentralServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::central
