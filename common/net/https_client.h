#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace outpost::net {

struct ClientOptions {
  std::string base_url;  // "https://HOST:PORT"; HOST may be a name or an IP ([::1] for IPv6)
  std::string ca_pem;    // trusted roots; the server's certificate must chain to them
  // Optional client certificate (mTLS), e.g. a device's ID certificate.
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Optional HTTP proxy, "http://HOST:PORT" or "http://USER:PASSWORD@HOST:PORT" (Basic): the
  // client asks it for a tunnel (CONNECT HOST:PORT of base_url) and runs TLS to the server
  // through it, so the proxy sees neither the requests nor the answers. Messages name the proxy
  // without the password. common/proxy_url.h parses one.
  std::string proxy_url;
  std::chrono::milliseconds timeout{30'000};  // per request: connect+handshake+write+read
  uint64_t max_response_bytes = 64ull << 20;
};

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// A blocking HTTPS/1.1 client over Boost.Beast that keeps one connection alive between
// requests and reconnects when the server closed it. TLS 1.2+, the server certificate is
// verified against `ca_pem` and the host name or IP of `base_url`. Not thread-safe: use one
// client per thread.
class HttpsClient {
 public:
  static Result<std::unique_ptr<HttpsClient>> Create(ClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request. Transport failures (refused, TLS, timeout) are kUnavailable (or
  // kDeadlineExceeded) with a message naming the server; HTTP error statuses are not errors
  // here: they come back in ClientResponse.
  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              const std::string& body = "", const std::string& content_type = "",
                              const std::map<std::string, std::string>& headers = {});

  // Sends `request` as application/x-protobuf and parses the answer into `response`. A non-2xx
  // answer becomes the Status carried in its error body.
  Status Call(const std::string& method, const std::string& target,
              const google::protobuf::Message& request, google::protobuf::Message* response,
              const std::map<std::string, std::string>& headers = {});

  // Drops the connection (the next request reconnects).
  void Disconnect();

  class Impl;

 private:
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The Status an error answer carries ({"error": {reason, message}} in JSON or protobuf), or a
// generic one from the HTTP status when the body is not an error message.
Status StatusFromResponse(const ClientResponse& response);

}  // namespace outpost::net
