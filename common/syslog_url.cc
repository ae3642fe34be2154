#include "common/syslog_url.h"

#include <string_view>

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
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("needs a port after the [IPv6] address");
    }
    out.host = rest.substr(1, close - 1);
    out.port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return bad("needs a port (e.g. 6514 for tls, 514 for tcp)");
    out.host = rest.substr(0, colon);
    out.port = rest.substr(colon + 1);
    if (out.host.find(':') != std::string::npos)
      return bad("needs brackets around an IPv6 address");
  }
  if (out.host.empty()) return bad("has no host");
  if (out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(out.port) == 0 ||
      std::stoi(out.port) > 65535) {
    return bad("needs a port from 1 to 65535");
  }
  return out;
}

}  // namespace outpost
