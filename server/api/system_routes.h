#pragma once

#include <functional>
#include <map>
#include <string>

#include "server/http/metrics.h"
#include "server/http/router.h"

namespace outpost::server::api {

// Readiness checks by name ("database", "keys"); each returns "" when ready or what is wrong.
using ReadinessChecks = std::map<std::string, std::function<std::string()>>;

// Runs blocking work (SQL, waiting for a lock) off the I/O threads, e.g. on a BlockingPool.
using RunBlocking = std::function<void(std::function<void()>)>;

// GET /healthz (the process answers), GET /readyz (every check passes; 503 otherwise) and
// GET /metrics (Prometheus text). These need no authentication: they reveal no secrets. The
// readiness checks may block (they query the database), so they run through `run_blocking`.
void AddSystemRoutes(http::Router& router, std::shared_ptr<http::Metrics> metrics,
                     ReadinessChecks checks, std::string version, RunBlocking run_blocking);

}  // namespace outpost::server::api
