#pragma once

// HOST:PORT as URLs of Outpost's settings give it (sync.proxy, audit.syslog_url).
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost {

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 one without brackets
  std::string port;  // 1..65535, digits
};

// "HOST:PORT" or "[IPv6]:PORT". kInvalidArgument whose message is what is wrong, worded to
// follow the caller's subject ("needs a port", "has no host", ...).
Result<HostPort> ParseHostPort(std::string_view authority);

}  // namespace outpost
