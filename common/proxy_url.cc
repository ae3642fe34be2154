#include "common/proxy_url.h"

#include <string_view>

namespace outpost {

Result<ProxyUrl> ParseProxyUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  auto bad = [&](std::string_view what) {
    std::string shown = url;  // without the credentials: the URL may hold a password
    if (const size_t at = shown.rfind('@'); at != std::string::npos) {
      shown = std::string(kScheme) + "***@" + shown.substr(at + 1);
    }
    return InvalidArgument("proxy URL '" + shown + "' " + std::string(what) +
                           "; accepted: \"http://HOST:PORT\" or "
                           "\"http://USER:PASSWORD@HOST:PORT\"");
  };
  if (url.rfind(kScheme, 0) != 0) return bad("must start with http://");
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return bad("holds a space or a control character");
  }
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#") != std::string::npos) return bad("has a path or a query");
  ProxyUrl out;
  if (const size_t at = rest.rfind('@'); at != std::string::npos) {
    out.credentials = rest.substr(0, at);
    if (out.credentials.find(':') == std::string::npos) return bad("has a user but no password");
    rest = rest.substr(at + 1);
  }
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("needs a port after the [IPv6] address");
    }
    out.host = rest.substr(1, close - 1);
    out.port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return bad("needs a port");
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
  const bool ipv6 = out.host.find(':') != std::string::npos;
  out.display = std::string(kScheme) + (ipv6 ? "[" + out.host + "]" : out.host) + ":" + out.port;
  return out;
}

}  // namespace outpost
