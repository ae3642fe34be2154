#pragma once

// Authentication of admin API requests: credentials from HTTP headers, and the console cookie.
// No sockets here: pure functions over net::Request and the AuthStore.

#include <chrono>
#include <string>
#include <string_view>

#include "common/net/request.h"
#include "common/status.h"
#include "server/auth/principal.h"
#include "server/auth/store.h"

namespace outpost::server::auth {

inline constexpr std::string_view kSessionCookieName = "outpost_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";  // lower-case, as in Request

// The caller of an admin request:
//   - "Authorization: Bearer <API key>" (the CLI and scripts), else
//   - the outpost_session cookie (the console), with the x-csrf-token header for any method but
//     GET and HEAD.
// kUnauthenticated if neither is present, the Authorization scheme is not Bearer, or the
// credential is not valid (see AuthStore); kPermissionDenied for a missing or wrong CSRF token.
// A request carrying both uses the API key.
Result<Principal> Authenticate(AuthStore& store, const net::Request& request);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "" if absent.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

// Set-Cookie value that stores a new session in the browser:
//   outpost_session=<cookie>; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=<max_age>
std::string SessionSetCookie(std::string_view cookie, std::chrono::seconds max_age);
// Set-Cookie value that removes it (on logout): empty value, Max-Age=0.
std::string ClearSessionSetCookie();

}  // namespace outpost::server::auth
