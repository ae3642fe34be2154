// Values read back from storage and identifiers checked on the way in: satellite_meta integers
// (licensing::ParseStoredInt), UDIs ("PID:SN"), instance ids, VA names and tags, the compact
// in-memory forms of instance ids and certificate serials (which must give back exactly their
// text), UUIDs, and the client library's TAG[:COUNT] notation.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/tag_use.h"
#include "common/ids.h"
#include "common/names.h"
#include "server/licensing/core/compact.h"
#include "server/licensing/core/types.h"
#include "server/licensing/store.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outpost;
  namespace lic = server::licensing;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto value = lic::ParseStoredInt("clock_high_water", text); value.ok()) {
    int64_t expected = 0;
    if (!text.empty()) {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), expected);
      fuzz::Check(ec == std::errc() && ptr == text.data() + text.size(),
                  "ParseStoredInt accepted what from_chars does not");
    }
    fuzz::Check(*value == expected, "ParseStoredInt value");
  } else {
    fuzz::Check(value.status().code() == Errc::kDataLoss, "ParseStoredInt error is not kDataLoss");
  }

  if (auto udi = lic::ParseUdi(text); udi.ok()) {
    fuzz::Check(udi->ToString() == text, "ParseUdi does not give back the text");
    fuzz::Check(lic::ValidateUdi(*udi).ok(), "a parsed UDI fails ValidateUdi");
  }
  const bool valid_instance = lic::ValidateInstanceId(text).ok();
  (void)lic::ValidateTag(text);
  (void)lic::ValidateVaName(text);
  (void)outpost::ValidateTag(text);
  (void)outpost::ValidateVaName(text);
  (void)lic::Quote(text);

  lic::StringTable others;
  lic::InstanceKey key = lic::MakeInstanceKey(text, others);
  fuzz::Check(lic::InstanceKeyText(key, others) == text, "InstanceKey does not give back its text");
  auto found = lic::FindInstanceKey(text, others);
  fuzz::Check(found.has_value() && *found == key, "FindInstanceKey misses a made key");
  if (IsUuid(text)) fuzz::Check(key.other == 0, "a UUID was not packed");
  (void)valid_instance;
  lic::PackedHex packed = lic::PackHex(text, others);
  fuzz::Check(lic::UnpackHex(packed, others) == text, "PackedHex does not give back its text");
  fuzz::Check(lic::PackedHexEquals(packed, text, others), "PackedHexEquals misses its text");

  // Keys order as their texts do (listings sort by key), here for the two halves of the input.
  const std::string_view left = text.substr(0, size / 2), right = text.substr(size / 2);
  lic::InstanceKey a = lic::MakeInstanceKey(left, others);
  lic::InstanceKey b = lic::MakeInstanceKey(right, others);
  fuzz::Check(lic::InstanceKeyLess(a, b, others) == (left < right), "InstanceKeyLess order");

  if (auto use = client::ParseTagUse(text); use.ok()) {
    fuzz::Check(!use->tag().empty(), "ParseTagUse accepted an empty tag");
    fuzz::Check(use->count() >= 1 && use->count() <= client::kMaxTagCount, "tag count range");
  }
  return 0;
}
