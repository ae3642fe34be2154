#include "common/proxy_url.h"

#include <string_view>

#include "common/host_port.h"

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
  auto host_port = ParseHostPort(rest);
  if (!host_port.ok()) return bad(host_port.status().message());
  out.host = std::move(host_port->host);
  out.port = std::move(host_port->port);
  const bool ipv6 = out.host.find(':') != std::string::npos;
  out.display = std::string(kScheme) + (ipv6 ? "[" + out.host + "]" : out.host) + ":" + out.port;
  return out;
}

}  // namespace outpost
