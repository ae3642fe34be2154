#include "common/net/system_routes.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/proto_json.h"
#include "outpost/v1/common.pb.h"
#include "tests/testing/test_util.h"

namespace outpost::net {
namespace {

// Blocking work held until the test runs it, so a test sees what runs where.
struct HeldWork {
  std::vector<std::function<void()>> queue;
  RunBlocking Runner() {
    return [this](std::function<void()> work) { queue.push_back(std::move(work)); };
  }
  void RunAll() {
    auto work = std::move(queue);
    queue.clear();
    for (auto& w : work) w();
  }
};

class SystemRoutesTest : public ::testing::Test {
 protected:
  SystemRoutesTest() {
    metrics_->AddCallback("outpost_test_value", "A value for the test.", "gauge",
                          [] { return 42.0; });
  }

  SystemRoutesOptions Options() {
    SystemRoutesOptions o;
    o.metrics = metrics_;
    o.version = "1.2.3";
    return o;
  }

  // Sends GET `path` with `headers`; nullopt when no answer came (yet).
  std::optional<Response> Get(const Router& router, const std::string& path,
                              std::map<std::string, std::string> headers = {}) {
    Request req;
    req.method = "GET";
    req.path = path;
    req.target = path;
    req.headers = std::move(headers);
    auto match = router.Find(req);
    EXPECT_NE(match.handler, nullptr) << path;
    if (match.handler == nullptr) return std::nullopt;
    answer_.reset();
    (*match.handler)(req, [this](Response r) { answer_ = std::move(r); });
    return answer_;
  }

  v1::HealthResponse Health(const Response& r) {
    v1::HealthResponse health;
    EXPECT_OK(FromJson(r.body, &health));
    return health;
  }

  std::shared_ptr<Metrics> metrics_ = std::make_shared<Metrics>();
  std::optional<Response> answer_;
};

TEST_F(SystemRoutesTest, HealthzAnswersOkWithTheVersion) {
  Router router;
  AddSystemRoutes(router, Options());
  auto r = Get(router, "/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Health(*r).status(), "ok");
  EXPECT_EQ(Health(*r).version(), "1.2.3");
}

TEST_F(SystemRoutesTest, ReadyzNamesEveryCheckAndIs503WhenOneFails) {
  Router router;
  SystemRoutesOptions o = Options();
  std::string disk_problem;
  o.readiness = ReadinessChecks{{"database", [] { return std::string(); }},
                                {"disk", [&disk_problem] { return disk_problem; }}};
  HeldWork held;
  o.run_blocking = held.Runner();
  AddSystemRoutes(router, std::move(o));

  // The checks may block: nothing is answered on the I/O thread.
  EXPECT_FALSE(Get(router, "/readyz").has_value());
  ASSERT_EQ(held.queue.size(), 1u);
  held.RunAll();
  ASSERT_TRUE(answer_.has_value());
  EXPECT_EQ(answer_->status, 200);
  EXPECT_EQ(Health(*answer_).status(), "ok");
  EXPECT_EQ(Health(*answer_).checks().at("database"), "ok");
  EXPECT_EQ(Health(*answer_).checks().at("disk"), "ok");

  disk_problem = "disk full";
  Get(router, "/readyz");
  held.RunAll();
  ASSERT_TRUE(answer_.has_value());
  EXPECT_EQ(answer_->status, 503);
  EXPECT_EQ(Health(*answer_).status(), "unavailable");
  EXPECT_EQ(Health(*answer_).checks().at("disk"), "disk full");
  EXPECT_EQ(Health(*answer_).version(), "1.2.3");
}

TEST_F(SystemRoutesTest, NoReadyzWithoutReadinessChecks) {
  Router router;
  AddSystemRoutes(router, Options());
  Request req;
  req.method = "GET";
  req.path = "/readyz";
  EXPECT_EQ(router.Find(req).handler, nullptr);
}

TEST_F(SystemRoutesTest, MetricsAreOpenWithoutAnAuthorizer) {
  Router router;
  AddSystemRoutes(router, Options());
  auto r = Get(router, "/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("outpost_test_value 42"), std::string::npos) << r->body;
}

TEST_F(SystemRoutesTest, RefusedMetricsAreAnErrorWithTheStatusOfTheirErrc) {
  Router router;
  SystemRoutesOptions o = Options();
  HeldWork held;
  o.run_blocking = held.Runner();
  o.authorize_metrics = [](const Request& req) -> Status {
    const std::string& key = req.Header("authorization");
    if (key.empty()) return Unauthenticated("send an API key");
    if (key != "Bearer reader") return PermissionDenied("this key may not read metrics");
    return Status::Ok();
  };
  AddSystemRoutes(router, std::move(o));

  // The check runs on run_blocking, with a copy of the request that outlives the handler call.
  const std::vector<std::pair<std::string, int>> cases = {
      {"", 401}, {"Bearer other", 403}, {"Bearer reader", 200}};
  for (const auto& [key, status] : cases) {
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["authorization"] = key;
    EXPECT_FALSE(Get(router, "/metrics", headers).has_value()) << key;
    held.RunAll();
    ASSERT_TRUE(answer_.has_value()) << key;
    EXPECT_EQ(answer_->status, status) << key;
    EXPECT_EQ(answer_->body.find("outpost_test_value") != std::string::npos, status == 200)
        << key << ": " << answer_->body;
  }
}

// The central's way: the check runs where the request arrived, and its refusal is its own.
TEST_F(SystemRoutesTest, RefusalCanBeAnsweredInTheCallersOwnWay) {
  Router router;
  SystemRoutesOptions o = Options();
  o.authorize_metrics = [](const Request& req) -> Status {
    return req.Header("authorization") == "Bearer t" ? Status::Ok()
                                                     : Unauthenticated("send the token");
  };
  o.refuse_metrics = [](const Request&, const Status& why) {
    Response r;
    r.status = 499;
    r.body = why.message();
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  };
  AddSystemRoutes(router, std::move(o));
  auto refused = Get(router, "/metrics");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 499);
  EXPECT_EQ(refused->body, "send the token");
  ASSERT_EQ(refused->headers.size(), 1u);
  EXPECT_EQ(refused->headers[0].first, "WWW-Authenticate");
  auto allowed = Get(router, "/metrics", {{"authorization", "Bearer t"}});
  ASSERT_TRUE(allowed.has_value());
  EXPECT_EQ(allowed->status, 200);
  EXPECT_NE(allowed->body.find("outpost_test_value 42"), std::string::npos);
}

}  // namespace
}  // namespace outpost::net
