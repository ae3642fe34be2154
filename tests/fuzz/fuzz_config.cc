// The configuration file (outpost.toml, common/config ParseConfig) and the text forms of values
// that flags and environment variables give (ApplyOverride, durations, listen addresses).
// Properties: a parsed configuration passes Validate, and RenderConfig of it (what `outpost init`
// writes) parses back to the same configuration.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/config/config_file.h"
#include "common/config/duration.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace outpost;

void CheckRendersBack(const config::Config& config) {
  const std::string rendered = config::RenderConfig(config);
  auto again = config::ParseConfig(rendered, "rendered.toml");
  if (!again.ok()) std::fprintf(stderr, "%s\n", again.status().message().c_str());
  fuzz::Check(again.ok(), "RenderConfig output does not parse");
  fuzz::Check(config::RenderConfig(*again) == rendered, "RenderConfig does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto parsed = config::ParseConfig(text, "fuzz.toml"); parsed.ok()) {
    fuzz::Check(config::Validate(*parsed).ok(), "ParseConfig result fails Validate");
    CheckRendersBack(*parsed);
  }
  (void)config::ParseDuration(text);
  (void)config::ParseListenAddress(text);

  // "key=value" as a flag or an environment variable gives it.
  if (size_t eq = text.find('='); eq != std::string_view::npos) {
    auto config = config::ParseConfig("", "empty.toml");
    fuzz::Check(config.ok(), "defaults do not parse");
    if (config::ApplyOverride(*config, text.substr(0, eq), text.substr(eq + 1)).ok() &&
        config::Validate(*config).ok()) {
      CheckRendersBack(*config);
    }
  }
  return 0;
}
