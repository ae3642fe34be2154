#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/net/request.h"

namespace outpost::net {

// Maps (method, path) to a handler. Patterns are literal segments or "{name}" placeholders,
// e.g. "/v1/admin/tokens/{id}". Built once at start-up, then read-only and thread-safe.
class Router {
 public:
  // A route's index in routes(); stable for the router's lifetime (metrics use it as a key).
  struct Match {
    const Handler* handler = nullptr;
    int route_index = -1;
    // Set when the path matched but the method did not: the methods that would match.
    std::vector<std::string> allowed_methods;
  };

  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
  };

  // Registers a route. Registering the same (method, pattern) twice is a programmer error.
  void Add(std::string method, std::string pattern, Handler handler);

  // Finds the handler for the request and fills request.path_params. Returns a Match whose
  // handler is null when nothing matched (allowed_methods says whether it was the method).
  Match Find(Request& request) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  static bool MatchPattern(std::string_view pattern, std::string_view path,
                           std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

// Splits "a=1&b=x%20y" into a map, percent-decoding names and values. Malformed escapes are
// kept literally.
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view in);

}  // namespace outpost::net
