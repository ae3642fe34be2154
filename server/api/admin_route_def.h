#pragma once

// Private to server/api: one admin route's definition (its spec and its body), shared by
// admin_routes.cc and console_routes.cc so that every route goes through the same authentication
// and role check (AddAdminRoutes) and is listed in AdminRouteTable().

#include <cstdint>
#include <functional>
#include <string>

#include "common/net/router.h"
#include "common/status.h"
#include "server/api/admin_routes.h"
#include "server/auth/principal.h"

namespace outpost::server::api {

// The body of one admin handler: runs off the I/O threads with an authenticated principal.
using AdminFn = std::function<net::Response(const auth::Principal&, net::Request&)>;

struct RouteDef {
  AdminRouteSpec spec;
  AdminFn fn;
};

// ?name= as a whole number in [min, max]; kInvalidArgument naming the parameter otherwise.
Result<int64_t> ParseCount(const std::string& name, const std::string& text, int64_t min,
                           int64_t max);
// ?name=, or `fallback` when absent.
std::string QueryOr(const net::Request& req, const std::string& name, std::string fallback);

// The console's routes (console_routes.cc), in registration order.
std::vector<RouteDef> ConsoleRoutes(const AdminContext& context);

}  // namespace outpost::server::api
