// An armored bundle pasted by an operator: sync::DecodeBundle / Dearmor (with a small size limit
// too, so the limit checks run), then everything done with a parsed bundle (bundle_checks.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/bundle_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)outpost::sync::Dearmor(text, "fuzz input", /*max_bytes=*/64);
  (void)outpost::sync::ArmoredSizeLimit(size);
  auto bundle = outpost::sync::DecodeBundle(text, "fuzz input");
  if (bundle.ok()) outpost::fuzz::ExerciseParsedBundle(*bundle);
  return 0;
}
