#include "common/net/router.h"

#include <gtest/gtest.h>

namespace outpost::net {
namespace {

Handler Named(std::string* called, std::string name) {
  return [called, name](Request&, Reply) { *called = name; };
}

Request Make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, MatchesLiteralAndPlaceholderSegments) {
  std::string called;
  Router router;
  router.Add("GET", "/v1/admin/tokens", Named(&called, "list"));
  router.Add("DELETE", "/v1/admin/tokens/{id}", Named(&called, "revoke"));

  Request list = Make("GET", "/v1/admin/tokens");
  auto m = router.Find(list);
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(list, nullptr);
  EXPECT_EQ(called, "list");
  EXPECT_EQ(m.route_index, 0);

  Request revoke = Make("DELETE", "/v1/admin/tokens/abc%2Fdef");
  m = router.Find(revoke);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route_index, 1);
  EXPECT_EQ(revoke.path_params.at("id"), "abc/def");
}

TEST(RouterTest, WrongMethodReportsAllowedMethods) {
  std::string called;
  Router router;
  router.Add("GET", "/healthz", Named(&called, "h"));
  router.Add("HEAD", "/healthz", Named(&called, "h2"));
  Request r = Make("POST", "/healthz");
  auto m = router.Find(r);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"GET", "HEAD"}));
}

TEST(RouterTest, UnknownPathMatchesNothing) {
  std::string called;
  Router router;
  router.Add("GET", "/v1/admin/tokens/{id}", Named(&called, "get"));
  for (const char* path : {"/", "", "/v1/admin/tokens", "/v1/admin/tokens/", "/v1/admin/tokens/a/b",
                           "/v1/admin/tokensx/a", "v1/admin/tokens/a"}) {
    Request r = Make("GET", path);
    auto m = router.Find(r);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_TRUE(m.allowed_methods.empty()) << path;
  }
}

TEST(RouterDeathTest, DuplicateRouteIsAProgrammerError) {
  Router router;
  router.Add("GET", "/x", [](Request&, Reply) {});
  EXPECT_DEATH(router.Add("GET", "/x", [](Request&, Reply) {}), "");
}

TEST(QueryTest, ParsesAndDecodes) {
  auto q = ParseQuery("va=lab%20east&since=2026-01-01T00%3A00%3A00Z&flag&&x=a+b");
  EXPECT_EQ(q.at("va"), "lab east");
  EXPECT_EQ(q.at("since"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(q.at("flag"), "");
  EXPECT_EQ(q.at("x"), "a b");
  EXPECT_EQ(q.size(), 4u);
}

TEST(QueryTest, MalformedEscapesAreKeptLiterally) {
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz"), "%zz");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%41"), "A");
}

}  // namespace
}  // namespace outpost::net
