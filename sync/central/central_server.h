#pragma once

// `outpost central serve`: central over HTTPS (TLS 1.2+), served with common/net.
//   POST /v1/sync   body: a serialized SignedBundle (sync request); answer: the serialized
//                   SignedBundle of the sync response (application/x-protobuf), or an error
//                   body {"error": {reason, message}} with the status of its Errc
//   GET  /healthz   {"status": "ok"}
//   GET  /metrics   Prometheus text, with "Authorization: Bearer <token>" from `outpost central
//                   metrics-token` (403 until one is made, 401 without it)
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
  // POST /v1/sync requests one client address may have in flight (read, being checked or
  // waiting for the writer); beyond it 503 + Retry-After, so that one address cannot take every
  // admission slot (issue 17, finding 1). A satellite sends one request at a time.
  int max_sync_in_flight_per_address = 4;
  // Request bodies in flight across all connections (net::ServerOptions): eight requests of
  // the largest size.
  uint64_t max_body_bytes_in_flight = uint64_t{8} * kDefaultMaxRequestBytes;
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
