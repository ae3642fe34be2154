#pragma once

// An HTTP proxy's URL, as `sync.proxy` gives it: "http://HOST:PORT" or
// "http://USER:PASSWORD@HOST:PORT". The HTTPS client (common/net/https_client.h) tunnels
// through it with CONNECT; the configuration checks it when it is read.
//
// Thread-safety: pure functions.

#include <string>

#include "common/status.h"

namespace outpost {

struct ProxyUrl {
  std::string host;         // a name, an IPv4 address, or an IPv6 one without brackets
  std::string port;         // 1..65535, digits
  std::string display;      // "http://HOST:PORT": for messages, never with the credentials
  std::string credentials;  // "USER:PASSWORD" or "" (sent as Basic Proxy-Authorization)
};

// `url` parsed: scheme http://, optional USER:PASSWORD@, HOST (or [IPv6]), a required :PORT,
// nothing after it but an optional "/". kInvalidArgument saying what was wrong and what is
// accepted otherwise; the message shows the URL with any credentials replaced by "***".
Result<ProxyUrl> ParseProxyUrl(const std::string& url);

}  // namespace outpost
