#include "server/api/system_routes.h"

#include "common/net/codec.h"
#include "outpost/v1/common.pb.h"

namespace outpost::server::api {

void AddSystemRoutes(net::Router& router, std::shared_ptr<net::Metrics> metrics,
                     ReadinessChecks checks, std::string version, RunBlocking run_blocking,
                     MetricsAuthorizer authorize_metrics) {
  router.Add("GET", "/healthz", [version](net::Request& req, net::Reply reply) {
    v1::HealthResponse health;
    health.set_status("ok");
    health.set_version(version);
    reply(net::Encode(req, health));
  });
  router.Add("GET", "/readyz",
             [checks = std::make_shared<const ReadinessChecks>(std::move(checks)), version,
              run_blocking](net::Request& req, net::Reply reply) {
               run_blocking(
                   [checks, version, format = net::ResponseFormat(req), reply = std::move(reply)] {
                     v1::HealthResponse health;
                     bool ready = true;
                     for (const auto& [name, check] : *checks) {
                       const std::string problem = check();
                       (*health.mutable_checks())[name] = problem.empty() ? "ok" : problem;
                       ready = ready && problem.empty();
                     }
                     health.set_status(ready ? "ok" : "unavailable");
                     health.set_version(version);
                     reply(net::Encode(format, health, ready ? 200 : 503));
                   });
             });
  auto render = [metrics] {
    net::Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics->Render();
    return response;
  };
  if (!authorize_metrics) {
    router.Add("GET", "/metrics", [render](net::Request&, net::Reply reply) { reply(render()); });
    return;
  }
  router.Add("GET", "/metrics",
             [render, run_blocking, authorize = std::move(authorize_metrics)](net::Request& req,
                                                                              net::Reply reply) {
               // The request lives only as long as this call: the check gets a copy.
               run_blocking([render, authorize, req, reply = std::move(reply)] {
                 if (Status s = authorize(req); !s.ok()) return reply(net::ErrorResponse(req, s));
                 reply(render());
               });
             });
}

}  // namespace outpost::server::api
