#pragma once

// The web console's static assets on the satellite's HTTPS port (docs/console.md):
//   GET /                  -> 302 to /console/
//   GET /console           -> 301 to /console/
//   GET /console/          -> index.html
//   GET /console/{name}    -> the embedded asset, or 404
// Every answer carries the console's security headers (a strict Content-Security-Policy with
// frame-ancestors 'none', HSTS, nosniff, no referrer) and assets an ETag; a matching
// If-None-Match gets 304. The pages talk to /v1/admin/..., which enforces roles and CSRF.

#include <string>
#include <utility>
#include <vector>

#include "common/net/router.h"

namespace outpost::server::console {

// The Content-Security-Policy of every console answer.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

// The security headers every console answer carries (name, value).
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

// Registers the routes above. The assets are static, so the handlers answer on the I/O thread.
void AddConsoleRoutes(net::Router& router);

}  // namespace outpost::server::console
