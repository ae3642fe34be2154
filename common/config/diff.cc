#include "common/config/diff.h"

#include "common/config/key_table.h"
#include "common/proxy_url.h"

namespace outpost::config {
namespace {

// A proxy URL as it may be shown: without USER:PASSWORD.
std::string Shown(const internal::Key& key, const internal::Value& value) {
  if (key.name == "sync.proxy") {
    const std::string& url = std::get<std::string>(value);
    if (url.empty()) return internal::QuoteToml(url);
    auto parsed = ParseProxyUrl(url);
    std::string shown = parsed.ok() ? parsed->display : "(not shown)";
    if (parsed.ok() && !parsed->credentials.empty()) {
      shown.insert(std::string_view("http://").size(), "***@");
    }
    return internal::QuoteToml(shown);
  }
  return internal::RenderValue(key.kind, value);
}

}  // namespace

std::vector<KeyChange> DiffConfigs(const Config& before, const Config& after) {
  std::vector<KeyChange> out;
  for (const internal::Key& key : internal::Keys()) {
    const internal::Value a = key.get(before);
    const internal::Value b = key.get(after);
    if (a == b) continue;
    std::string shown_before = Shown(key, a);
    std::string shown_after = Shown(key, b);
    if (shown_before == shown_after) {
      // Only the proxy's credentials differ: say so without showing them.
      shown_after.insert(shown_after.size() - 1, " (new credentials)");
    }
    out.push_back({std::string(key.name), std::move(shown_before), std::move(shown_after)});
  }
  return out;
}

std::string Describe(const KeyChange& change) {
  return change.key + " changed (" + change.before + " -> " + change.after + ")";
}

}  // namespace outpost::config
