#include "server/auth/http_auth.h"

#include <cctype>

namespace outpost::server::auth {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string SetCookie(std::string_view value, int64_t max_age) {
  return std::string(kSessionCookieName) + "=" + std::string(value) +
         "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=" + std::to_string(max_age);
}

}  // namespace

std::string_view CookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const size_t end = cookie_header.find(';');
    const std::string_view pair = TrimSpaces(cookie_header.substr(0, end));
    const size_t equals = pair.find('=');
    if (equals != std::string_view::npos && TrimSpaces(pair.substr(0, equals)) == name) {
      return TrimSpaces(pair.substr(equals + 1));
    }
    if (end == std::string_view::npos) break;
    cookie_header.remove_prefix(end + 1);
  }
  return {};
}

Result<Principal> Authenticate(AuthStore& store, const net::Request& request) {
  const auto authorization = request.headers.find("authorization");
  if (authorization != request.headers.end()) {
    const std::string_view value = TrimSpaces(authorization->second);
    constexpr std::string_view kScheme = "bearer";
    const size_t space = value.find(' ');
    if (space == std::string_view::npos || !EqualsIgnoreCase(value.substr(0, space), kScheme)) {
      return Unauthenticated(
          "unsupported Authorization header; send \"Authorization: Bearer <API key>\"");
    }
    return store.AuthenticateApiKey(TrimSpaces(value.substr(space + 1)), request.remote_address);
  }
  const auto cookies = request.headers.find("cookie");
  const std::string_view cookie = cookies == request.headers.end()
                                      ? std::string_view()
                                      : CookieValue(cookies->second, kSessionCookieName);
  if (cookie.empty()) {
    return Unauthenticated(
        "authentication required: send \"Authorization: Bearer <API key>\" (see `outpost "
        "apikey create`) or log in to the console");
  }
  const auto csrf = request.headers.find(std::string(kCsrfHeader));
  return store.AuthenticateSession(cookie, request.method,
                                   csrf == request.headers.end() ? "" : csrf->second,
                                   request.remote_address);
}

std::string SessionSetCookie(std::string_view cookie, std::chrono::seconds max_age) {
  return SetCookie(cookie, max_age.count());
}

std::string ClearSessionSetCookie() { return SetCookie("", 0); }

}  // namespace outpost::server::auth
