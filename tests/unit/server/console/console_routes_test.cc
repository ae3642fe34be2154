#include "server/console/console_routes.h"

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>

#include "server/console/assets.h"

namespace outpost::server::console {
namespace {

class ConsoleRoutesTest : public ::testing::Test {
 protected:
  ConsoleRoutesTest() { AddConsoleRoutes(router_); }

  // Runs GET `target` through the router as the server would; nullopt when no route matched.
  std::optional<net::Response> Get(const std::string& target,
                                   const std::string& if_none_match = "") {
    net::Request req;
    req.method = "GET";
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    if (!if_none_match.empty()) req.headers["if-none-match"] = if_none_match;
    auto match = router_.Find(req);
    if (match.handler == nullptr) return std::nullopt;
    std::optional<net::Response> out;
    (*match.handler)(req, [&out](net::Response res) { out = std::move(res); });
    return out;
  }

  static std::string Header(const net::Response& res, const std::string& name) {
    for (const auto& [n, v] : res.headers) {
      if (n == name) return v;
    }
    return "";
  }

  static void ExpectSecurityHeaders(const net::Response& res) {
    const std::string csp = Header(res, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
    EXPECT_NE(Header(res, "Strict-Transport-Security").find("max-age="), std::string::npos);
    EXPECT_EQ(Header(res, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(res, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(Header(res, "X-Frame-Options"), "DENY");
  }

  net::Router router_;
};

TEST_F(ConsoleRoutesTest, RootRedirectsToTheConsole) {
  auto res = Get("/");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 302);
  EXPECT_EQ(Header(*res, "Location"), "/console/");
  ExpectSecurityHeaders(*res);
}

TEST_F(ConsoleRoutesTest, ConsoleWithoutSlashRedirectsSoRelativeAssetPathsResolve) {
  auto res = Get("/console");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 301);
  EXPECT_EQ(Header(*res, "Location"), "/console/");
}

TEST_F(ConsoleRoutesTest, ConsoleRootServesTheIndexAsHtml) {
  auto res = Get("/console/");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->content_type, "text/html; charset=utf-8");
  EXPECT_NE(res->body.find("<title>Outpost console</title>"), std::string::npos);
  EXPECT_FALSE(Header(*res, "ETag").empty());
  EXPECT_EQ(Header(*res, "Cache-Control"), "no-cache");
  ExpectSecurityHeaders(*res);
  auto same = Get("/console/index.html");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->body, res->body);
}

TEST_F(ConsoleRoutesTest, ScriptsStylesAndIconsHaveTheirContentTypes) {
  auto js = Get("/console/app.js");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(js->body.find("import"), std::string::npos);
  auto css = Get("/console/console.css");
  ASSERT_TRUE(css.has_value());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  auto icon = Get("/console/favicon.svg");
  ASSERT_TRUE(icon.has_value());
  EXPECT_EQ(icon->content_type, "image/svg+xml");
}

TEST_F(ConsoleRoutesTest, EveryAssetIsServedWithTheSecurityHeaders) {
  ASSERT_GE(Assets().size(), 5u);
  for (const Asset& asset : Assets()) {
    SCOPED_TRACE(std::string(asset.name));
    auto res = Get("/console/" + std::string(asset.name));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, asset.bytes);
    EXPECT_EQ(Header(*res, "ETag"), asset.etag);
    ExpectSecurityHeaders(*res);
  }
}

TEST_F(ConsoleRoutesTest, UnknownAssetIs404WithTheSecurityHeaders) {
  auto res = Get("/console/nope.js");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->content_type, "text/plain; charset=utf-8");
  EXPECT_NE(res->body.find("nope.js"), std::string::npos);
  ExpectSecurityHeaders(*res);
}

TEST_F(ConsoleRoutesTest, NoDirectoryTraversal) {
  // Encoded slashes decode into the one path segment, which names no embedded asset.
  for (const char* target : {"/console/..%2F..%2Foutpost.toml", "/console/..%2fkeys%2fca.key",
                             "/console/%2e%2e%2fadmin.apikey", "/console/..", "/console/.",
                             "/console/%2Fetc%2Fpasswd"}) {
    SCOPED_TRACE(target);
    auto res = Get(target);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 404);
    EXPECT_EQ(res->body.find("[server]"), std::string::npos);
  }
  // Plain dot segments and nested paths match no console route at all (the router's 404).
  EXPECT_FALSE(Get("/console/../outpost.toml").has_value());
  EXPECT_FALSE(Get("/console/a/../../keys/ca.key").has_value());
}

TEST_F(ConsoleRoutesTest, MatchingEtagAnswers304WithoutBody) {
  auto first = Get("/console/app.js");
  ASSERT_TRUE(first.has_value());
  const std::string etag = Header(*first, "ETag");
  ASSERT_EQ(etag.size(), 34u);  // 32 hex digits in quotes
  auto again = Get("/console/app.js", etag);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(Header(*again, "ETag"), etag);
  ExpectSecurityHeaders(*again);
  auto listed = Get("/console/app.js", "\"0000\", W/" + etag);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->status, 304);
  auto other = Get("/console/app.js", "\"0000\"");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 200);
}

// What the CSP forbids must not be in the assets in the first place, and server text must
// never be parsed as HTML.
TEST_F(ConsoleRoutesTest, AssetsHaveNoInlineScriptNoHtmlInjectionSinksAndNoOtherHosts) {
  const std::regex inline_script("<script(?![^>]*\\bsrc=)[^>]*>", std::regex::icase);
  const std::regex inline_handler("\\son[a-z]+\\s*=", std::regex::icase);
  const std::regex remote("https?://(?!www\\.w3\\.org/2000/svg)", std::regex::icase);
  for (const Asset& asset : Assets()) {
    SCOPED_TRACE(std::string(asset.name));
    const std::string text(asset.bytes);
    if (asset.name.ends_with(".html") || asset.name.ends_with(".svg")) {
      EXPECT_FALSE(std::regex_search(text, inline_script));
      EXPECT_FALSE(std::regex_search(text, inline_handler));
      EXPECT_EQ(text.find("style="), std::string::npos);
      EXPECT_EQ(text.find("<style"), std::string::npos);
    }
    if (asset.name.ends_with(".js")) {
      for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                               "eval(", "new Function", ".style."}) {
        EXPECT_EQ(text.find(sink), std::string::npos) << sink;
      }
    }
    EXPECT_FALSE(std::regex_search(text, remote));
  }
}

}  // namespace
}  // namespace outpost::server::console
