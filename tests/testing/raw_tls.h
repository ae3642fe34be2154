#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace outpost::testing {

struct RawTlsOptions {
  std::string ca_pem;  // empty: do not verify the server
  std::string certificate_pem;
  std::string key_pem;
  int min_version = 0;  // e.g. TLS1_1_VERSION; 0 = library default
  int max_version = 0;
  // Needed to even offer TLS 1.0/1.1 with OpenSSL 3's default security level.
  bool allow_legacy = false;
  std::chrono::milliseconds receive_timeout{5000};
};

struct RawHttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A TLS client on plain OpenSSL for tests that need what a well-behaved client never does:
// old protocol versions, partial requests, pipelining, holding connections open. Talks to
// 127.0.0.1 only; every read is bounded by receive_timeout.
class RawTlsConnection {
 public:
  static Result<std::unique_ptr<RawTlsConnection>> Connect(uint16_t port, RawTlsOptions options);
  ~RawTlsConnection();

  Status Write(std::string_view bytes);
  // Reads one HTTP/1.1 response (Content-Length framing).
  Result<RawHttpResponse> ReadResponse();
  // True if the server closed the connection within `within` (reads and discards data).
  bool WaitForClose(std::chrono::milliseconds within);
  std::string protocol_version() const;
  // The certificate the server presented, as PEM ("" if none).
  std::string peer_certificate_pem() const;

 private:
  RawTlsConnection() = default;
  Result<char> ReadByte();
  int fd_ = -1;
  void* ctx_ = nullptr;  // SSL_CTX*
  void* ssl_ = nullptr;  // SSL*
  std::string buffer_;
  size_t pos_ = 0;
};

}  // namespace outpost::testing
