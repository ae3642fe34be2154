#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto/x509.h"

namespace outpost::net {

// One HTTP request as the handlers see it: already parsed, size-checked and decoupled from the
// socket. Header names are lower-case.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent, e.g. "/v1/admin/tokens?va=lab"
  std::string path;    // target without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> path_params;  // filled by the router from "{name}"
  std::string body;
  std::string remote_address;  // peer IP, without port
  // Set when the client presented a certificate that chains to the satellite CA (mTLS).
  std::optional<crypto::Certificate> client_certificate;
  // Runs `work` later on one of the server's I/O threads, the one serving this connection (e.g.
  // to finish an answer there rather than on the thread that completed it). Set by the server;
  // empty in requests built by hand (tests), where callers fall back to running inline.
  std::function<void(std::function<void()>)> defer;

  // Returns the header value or "" when absent. `name` must be lower-case.
  const std::string& Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Close the connection after this response (e.g. after a framing error).
  bool close = false;
};

// Completes a request. Must be called exactly once, from any thread.
using Reply = std::function<void(Response)>;

// Handles one request. May reply synchronously or later (e.g. after a database commit).
using Handler = std::function<void(Request&, Reply)>;

}  // namespace outpost::net
