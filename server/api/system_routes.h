#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/net/metrics.h"
#include "common/net/router.h"
#include "common/status.h"

namespace outpost::server::api {

// Readiness checks by name ("database", "keys"); each returns "" when ready or what is wrong.
using ReadinessChecks = std::map<std::string, std::function<std::string()>>;

// Runs blocking work (SQL, waiting for a lock) off the I/O threads, e.g. on a BlockingPool.
using RunBlocking = std::function<void(std::function<void()>)>;

// Decides whether a /metrics request may have the metrics: Ok, or the error to answer with
// (kUnauthenticated: 401, kPermissionDenied: 403). May block (SQL): it runs on run_blocking.
using MetricsAuthorizer = std::function<Status(const net::Request&)>;

// GET /healthz (the process answers), GET /readyz (every check passes; 503 otherwise) and
// GET /metrics (Prometheus text). /healthz and /readyz need no authentication: they reveal no
// secrets. /metrics needs none when `authorize_metrics` is null (server.metrics_require_auth
// false); otherwise every request goes through it first. The readiness checks may block (they
// query the database), so they run through `run_blocking`.
void AddSystemRoutes(net::Router& router, std::shared_ptr<net::Metrics> metrics,
                     ReadinessChecks checks, std::string version, RunBlocking run_blocking,
                     MetricsAuthorizer authorize_metrics = nullptr);

}  // namespace outpost::server::api
