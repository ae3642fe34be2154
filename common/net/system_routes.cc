#include "common/net/system_routes.h"

#include <utility>

#include "common/net/codec.h"
#include "outpost/v1/common.pb.h"

namespace outpost::net {
namespace {

// Runs `work` on run_blocking, or here when there is none.
void RunMaybeBlocking(const RunBlocking& run_blocking, std::function<void()> work) {
  if (run_blocking) return run_blocking(std::move(work));
  work();
}

}  // namespace

void AddSystemRoutes(Router& router, SystemRoutesOptions options) {
  router.Add("GET", "/healthz", [version = options.version](Request& req, Reply reply) {
    v1::HealthResponse health;
    health.set_status("ok");
    health.set_version(version);
    reply(Encode(req, health));
  });
  if (options.readiness.has_value()) {
    router.Add("GET", "/readyz",
               [checks = std::make_shared<const ReadinessChecks>(std::move(*options.readiness)),
                version = options.version,
                run_blocking = options.run_blocking](Request& req, Reply reply) {
                 RunMaybeBlocking(run_blocking, [checks, version, format = ResponseFormat(req),
                                                 reply = std::move(reply)] {
                   v1::HealthResponse health;
                   bool ready = true;
                   for (const auto& [name, check] : *checks) {
                     const std::string problem = check();
                     (*health.mutable_checks())[name] = problem.empty() ? "ok" : problem;
                     ready = ready && problem.empty();
                   }
                   health.set_status(ready ? "ok" : "unavailable");
                   health.set_version(version);
                   reply(Encode(format, health, ready ? 200 : 503));
                 });
               });
  }
  auto render = [metrics = std::move(options.metrics)] {
    Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics->Render();
    return response;
  };
  if (!options.authorize_metrics) {
    router.Add("GET", "/metrics", [render](Request&, Reply reply) { reply(render()); });
    return;
  }
  MetricsRefusal refuse = std::move(options.refuse_metrics);
  if (!refuse)
    refuse = [](const Request& req, const Status& why) { return ErrorResponse(req, why); };
  auto answer = [render, refuse = std::move(refuse),
                 authorize = std::move(options.authorize_metrics)](const Request& req,
                                                                   const Reply& reply) {
    if (Status why = authorize(req); !why.ok()) return reply(refuse(req, why));
    reply(render());
  };
  router.Add("GET", "/metrics",
             [answer, run_blocking = options.run_blocking](Request& req, Reply reply) {
               if (!run_blocking) return answer(req, reply);
               // The request lives only as long as this call: the blocking check gets a copy.
               run_blocking([answer, req, reply = std::move(reply)] { answer(req, reply); });
             });
}

}  // namespace outpost::net
