// A binary bundle file or POST /v1/sync body: sync::ParseBundleBytes, then everything done with a
// parsed bundle (bundle_checks.h): opened for each kind against the fixed test key, inspected,
// re-serialized and armored.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/bundle_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto bundle = outpost::sync::ParseBundleBytes(bytes, "fuzz input");
  // DecodeBundle takes the same path for anything that does not look armored.
  auto decoded = outpost::sync::DecodeBundle(bytes, "fuzz input");
  if (!outpost::sync::LooksArmored(bytes)) {
    outpost::fuzz::Check(bundle.ok() == decoded.ok(), "DecodeBundle disagrees on binary input");
  }
  if (bundle.ok()) outpost::fuzz::ExerciseParsedBundle(*bundle);
  return 0;
}
