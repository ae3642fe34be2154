#pragma once

// Where audit records go for a SIEM: `audit.syslog_url`, "tcp://HOST:PORT" (RFC 6587
// octet-counted frames) or "tls://HOST:PORT" (RFC 5425). Parsed when the configuration is read
// and by the forwarder (server/audit/syslog_forwarder.h).
//
// Thread-safety: pure functions.

#include <string>

#include "common/status.h"

namespace outpost {

struct SyslogUrl {
  bool tls = false;
  std::string host;  // a name, an IPv4 address, or an IPv6 one without brackets
  std::string port;  // 1..65535
};

// kInvalidArgument naming what was wrong and what is accepted otherwise.
Result<SyslogUrl> ParseSyslogUrl(const std::string& url);

}  // namespace outpost
