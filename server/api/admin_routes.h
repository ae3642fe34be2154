#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/crypto/keys.h"
#include "common/net/router.h"
#include "common/rate_limiter.h"
#include "common/sqlite/reader_pool.h"
#include "common/sqlite/writer.h"
#include "outpost/v1/reload.pb.h"
#include "server/audit/audit_log.h"
#include "server/auth/roles.h"
#include "server/auth/store.h"

namespace outpost::server::licensing {
class OperatorService;
class TokenStore;
}  // namespace outpost::server::licensing
namespace outpost::server::sync {
class SatelliteSync;
}  // namespace outpost::server::sync

namespace outpost::server::api {

// Who may call a route.
enum class Access {
  kPublic,         // no credentials (login only)
  kAuthenticated,  // any user; the store checks ownership (own API keys, logout, whoami)
  kPermission,     // a role that has `permission`
};

// One admin route as documented in docs/security.md. The test of that table walks this list.
struct AdminRouteSpec {
  std::string method;
  std::string pattern;
  Access access;
  std::optional<auth::Permission> permission;  // set for Access::kPermission
  std::string summary;
};

// Every admin route, in registration order.
const std::vector<AdminRouteSpec>& AdminRouteTable();

// What the admin handlers use. Everything must outlive the router.
struct AdminContext {
  auth::AuthStore* auth = nullptr;
  licensing::TokenStore* tokens = nullptr;
  licensing::OperatorService* licensing = nullptr;
  sync::SatelliteSync* sync = nullptr;
  sqlite::Writer* writer = nullptr;
  sqlite::ReaderPool* readers = nullptr;
  const crypto::PrivateKey* signing_key = nullptr;
  const Clock* clock = nullptr;
  // Runs blocking work (waiting for a commit, SQL) off the I/O threads.
  std::function<void(std::function<void()>)> run_blocking;
  // Runs a password hash (login, setting a password) on its own bounded pool, so that a flood of
  // bogus logins neither delays API-key requests nor queues without end; false: the pool is
  // full (the request is answered 503 with Retry-After). Unset: run_blocking.
  std::function<bool(std::function<void()>)> run_password_work;
  // Password logins per client address (429 with Retry-After beyond it); null: no limit.
  RateLimiter* login_limiter = nullptr;
  // Re-reads outpost.toml and the TLS files (server/reloader.h); unset: the route answers 503.
  std::function<Result<v1::ReloadReport>(const audit::Actor& by)> reload;
};

// Registers /v1/admin/... Each handler authenticates the caller (bearer API key or console
// session + CSRF token), checks the route's access, then does its work on run_blocking.
void AddAdminRoutes(net::Router& router, AdminContext context);

}  // namespace outpost::server::api
