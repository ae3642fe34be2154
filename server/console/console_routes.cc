#include "server/console/console_routes.h"

#include <string_view>

#include "server/console/assets.h"

namespace outpost::server::console {
namespace {

const Asset* FindAsset(std::string_view name) {
  for (const Asset& asset : Assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

net::Response WithHeaders(net::Response res) {
  for (const auto& header : SecurityHeaders()) res.headers.push_back(header);
  return res;
}

net::Response Redirect(int status, std::string location) {
  net::Response res;
  res.status = status;
  res.content_type = "text/plain; charset=utf-8";
  res.body = "See " + location + "\n";
  res.headers.emplace_back("Location", std::move(location));
  res.headers.emplace_back("Cache-Control", "no-store");
  return WithHeaders(std::move(res));
}

// If-None-Match may list several ETags ("a", "b") or be "*".
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view candidate = if_none_match.substr(0, comma);
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    while (!candidate.empty() && candidate.back() == ' ') candidate.remove_suffix(1);
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);
    if (candidate == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

net::Response Serve(const net::Request& req, std::string_view name) {
  const Asset* asset = FindAsset(name);
  if (asset == nullptr) {
    net::Response res;
    res.status = 404;
    res.content_type = "text/plain; charset=utf-8";
    res.body =
        "No console file named '" + std::string(name) + "'. Open /console/ to start the console.\n";
    res.headers.emplace_back("Cache-Control", "no-store");
    return WithHeaders(std::move(res));
  }
  net::Response res;
  // The names are not content-hashed, so the browser revalidates each time; a 304 costs a
  // round trip but no bytes, and an upgraded satellite never serves a stale script.
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("ETag", std::string(asset->etag));
  if (EtagMatches(req.Header("if-none-match"), asset->etag)) {
    res.status = 304;
    return WithHeaders(std::move(res));
  }
  res.content_type = std::string(asset->content_type);
  res.body = std::string(asset->bytes);
  return WithHeaders(std::move(res));
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Security-Policy", kContentSecurityPolicy},
      {"Strict-Transport-Security", "max-age=31536000"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return headers;
}

void AddConsoleRoutes(net::Router& router) {
  router.Add("GET", "/",
             [](net::Request&, net::Reply reply) { reply(Redirect(302, "/console/")); });
  router.Add("GET", "/console",
             [](net::Request&, net::Reply reply) { reply(Redirect(301, "/console/")); });
  router.Add("GET", "/console/",
             [](net::Request& req, net::Reply reply) { reply(Serve(req, "index.html")); });
  router.Add("GET", "/console/{name}", [](net::Request& req, net::Reply reply) {
    reply(Serve(req, req.path_params["name"]));
  });
}

}  // namespace outpost::server::console
