#pragma once

// The routes a server built on common/net answers besides its own: GET /healthz (the process
// answers), GET /readyz (every readiness check passes) and GET /metrics (Prometheus text). The
// satellite and the reference central both add them here, with what differs between them: the
// readiness checks, what the metrics show (the callbacks registered on `metrics`) and who may
// read /metrics.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/net/metrics.h"
#include "common/net/router.h"
#include "common/status.h"

namespace outpost::net {

// Readiness checks by name ("database", "keys"); each returns "" when ready or what is wrong.
using ReadinessChecks = std::map<std::string, std::function<std::string()>>;

// Runs blocking work (SQL, waiting for a lock) off the I/O threads, e.g. on a thread pool.
using RunBlocking = std::function<void(std::function<void()>)>;

// Decides whether a /metrics request may have the metrics: Ok, or why not (e.g.
// kUnauthenticated, kPermissionDenied).
using MetricsAuthorizer = std::function<Status(const Request&)>;

// The answer to a /metrics request that MetricsAuthorizer refused with `why`.
using MetricsRefusal = std::function<Response(const Request&, const Status& why)>;

struct SystemRoutesOptions {
  std::shared_ptr<Metrics> metrics;  // what /metrics renders; required
  std::string version;               // the program's version, in /healthz and /readyz answers
  // GET /readyz answers 200 when every check returns "" and 503 otherwise, naming each check's
  // result. nullopt: no /readyz route.
  std::optional<ReadinessChecks> readiness;
  // Where the readiness checks and `authorize_metrics` run when they may block (they query a
  // database). Null: on the I/O thread that received the request.
  RunBlocking run_blocking;
  // Null: /metrics is open to anyone. Otherwise every /metrics request goes through it first.
  MetricsAuthorizer authorize_metrics;
  // How a refusal is answered. Null: net::ErrorResponse(request, why) (the HTTP status of why's
  // Errc, in the request's format).
  MetricsRefusal refuse_metrics;
};

// Registers the routes above. /healthz and /readyz need no authentication: they reveal no
// secrets. Their answers are v1::HealthResponse ({"status": "ok", "version": ...}).
void AddSystemRoutes(Router& router, SystemRoutesOptions options);

}  // namespace outpost::net
