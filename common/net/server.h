#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/net/metrics.h"
#include "common/net/router.h"
#include "common/status.h"

namespace outpost::net {

struct ServerOptions {
  std::string listen = "127.0.0.1:8443";  // "HOST:PORT", IPv6 as "[::1]:8443"; port 0 = any
  int io_threads = 2;
  size_t max_connections = 10000;
  // Connections open at once from one remote address; beyond it a new one is closed at once
  // (counted as rejected), so one client cannot take every connection slot.
  size_t max_connections_per_address = 1000;
  uint64_t max_body_bytes = 1 << 20;
  // Larger limits for exact paths that take files (a sync bundle can be 64 MiB), applied once the
  // request header has been read, and only to requests that admit_large_body lets in.
  std::map<std::string, uint64_t> body_limit_by_path;
  // Decides, from the header alone, whether a request to a path with a larger limit may send
  // its body: `header` has method, target, path, headers and remote address, and no body. Called
  // on an I/O thread before any of the body is read; it must not block there (hand the check to
  // another thread) and calls `done` exactly once, from any thread: Ok reads the body, an error
  // answers the request with it (e.g. 401, 403) and closes the connection unread. Unset: such
  // requests are refused with 403, so no unauthenticated caller can make the server buffer a
  // large body.
  std::function<void(std::shared_ptr<const Request> header, std::function<void(Status)> done)>
      admit_large_body;
  // Request bodies being received or handled at once, across all connections, in bytes: each
  // request reserves its Content-Length (or its path's limit, when chunked) once its header is
  // in, and gives it back when its handler has answered. Beyond it a request is answered 503
  // with Retry-After before any of its body is read, so many clients sending large bodies at
  // once cannot make the server buffer more than this. 0: no budget.
  uint64_t max_body_bytes_in_flight = uint64_t{256} << 20;
  uint32_t max_header_bytes = 16 << 10;
  size_t max_pipelined_requests = 16;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds read_timeout{30'000};  // first request on a connection
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};  // waiting for the next keep-alive request
};

struct TlsOptions {
  std::string certificate_chain_pem;  // server certificate first, then intermediates
  std::string private_key_pem;
  // When set, clients may present a certificate; one that does not chain to these CAs fails
  // the handshake, one that does is handed to handlers as Request::client_certificate.
  std::string client_ca_pem;
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

// HTTPS/1.1 server on Boost.Beast. A fixed pool of I/O threads; each connection runs on its
// own strand; a timeout is armed before every handshake, read and write; header and body
// limits are enforced by the parser; responses to pipelined requests are written in order.
// Handlers (from the Router) may reply from any thread, but every Reply must have been called
// or destroyed before the HttpServer is destroyed: stop whatever holds replies (e.g. the
// database writer) after Shutdown() and before destruction.
class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Create(ServerOptions options, TlsOptions tls,
                                                    Router router,
                                                    std::shared_ptr<Metrics> metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens without accepting yet (connections wait in the backlog), so a caller can
  // learn that the address is usable before it records a start. Errors name the address.
  // Idempotent.
  Status Listen();
  // Listens (if Listen was not called) and starts accepting on the I/O threads.
  Status Start();

  // Replaces the TLS certificate, key, client CA and minimum version for connections accepted
  // from now on; connections already open keep what they were accepted with. The new options
  // are checked whole first (InvalidArgument naming what is unusable, e.g. a key that does not
  // match the certificate), and on error the current ones stay in force. Thread-safe.
  Status ReloadTls(const TlsOptions& tls);

  // The bound port (useful with port 0). Valid after Listen or Start.
  uint16_t port() const;

  // Stops accepting, lets in-flight requests finish and be written (up to `grace`), closes
  // idle connections, then stops the I/O threads. Blocks until done. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  Metrics& metrics();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::net
