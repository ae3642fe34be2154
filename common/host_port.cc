#include "common/host_port.h"

namespace outpost {

Result<HostPort> ParseHostPort(std::string_view authority) {
  HostPort out;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() ||
        authority[close + 1] != ':') {
      return InvalidArgument("needs a port after the [IPv6] address");
    }
    out.host = authority.substr(1, close - 1);
    out.port = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) return InvalidArgument("needs a port");
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return InvalidArgument("needs brackets around an IPv6 address");
    }
  }
  if (out.host.empty()) return InvalidArgument("has no host");
  if (out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(out.port) == 0 ||
      std::stoi(out.port) > 65535) {
    return InvalidArgument("needs a port from 1 to 65535");
  }
  return out;
}

}  // namespace outpost
