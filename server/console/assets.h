#pragma once

// The console's static files, compiled into the binary (the generated console_assets.cc, made
// by embed_assets.cmake from server/console/assets/). Nothing is read from disk at run time.

#include <string_view>
#include <vector>

namespace outpost::server::console {

struct Asset {
  std::string_view name;          // file name under /console/, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, e.g. "\"3f2a...\"": a digest of the bytes
  std::string_view bytes;
};

// Every asset, in the order the build listed them. Static storage; thread-safe.
const std::vector<Asset>& Assets();

}  // namespace outpost::server::console
