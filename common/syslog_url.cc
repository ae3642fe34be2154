#include "common/syslog_url.h"

#include <string_view>

#include "common/host_port.h"

namespace outpost {

Result<SyslogUrl> ParseSyslogUrl(const std::string& url) {
  auto bad = [&](std::string_view what) {
    return InvalidArgument("syslog URL '" + url + "' " + std::string(what) +
                           "; accepted: \"tcp://HOST:PORT\" or \"tls://HOST:PORT\"");
  };
  SyslogUrl out;
  std::string rest;
  if (url.rfind("tcp://", 0) == 0) {
    rest = url.substr(6);
  } else if (url.rfind("tls://", 0) == 0) {
    out.tls = true;
    rest = url.substr(6);
  } else {
    return bad("must start with tcp:// or tls:// (UDP is not offered: it loses records)");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return bad("holds a space or a control character");
  }
  if (rest.find_first_of("/?#@") != std::string::npos) return bad("has more than HOST:PORT");
  auto host_port = ParseHostPort(rest);
  if (!host_port.ok()) return bad(host_port.status().message());
  out.host = std::move(host_port->host);
  out.port = std::move(host_port->port);
  return out;
}

}  // namespace outpost
