#include "common/text.h"

#include <utility>

namespace outpost {

std::string Plural(int64_t count, std::string_view noun, std::string_view plural) {
  std::string out = std::to_string(count) + " ";
  if (count == 1 || count == -1) return out + std::string(noun);
  return out + (plural.empty() ? std::string(noun) + "s" : std::string(plural));
}

std::string DurationText(int64_t seconds) {
  if (seconds < 0) {
    // Negating INT64_MIN overflows; no real duration is that long.
    return "-" + DurationText(seconds == INT64_MIN ? INT64_MAX : -seconds);
  }
  constexpr std::pair<int64_t, std::string_view> kUnits[] = {
      {86'400, "day"}, {3'600, "hour"}, {60, "minute"}};
  for (const auto& [size, name] : kUnits) {
    if (seconds != 0 && seconds % size == 0) return Plural(seconds / size, name);
  }
  return Plural(seconds, "second");
}

std::string_view Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  auto byte = [&text](size_t i) { return static_cast<unsigned char>(text[i]); };
  // text[max_bytes] is the first byte left out. If it continues a sequence (10xxxxxx), find the
  // lead byte of its character (at most 3 bytes back); if that character reaches past the cut,
  // leave it out whole. Stray continuation bytes (not UTF-8) are cut like single bytes.
  size_t lead = max_bytes;
  while (lead > 0 && max_bytes - lead < 3 && (byte(lead) & 0xC0) == 0x80) --lead;
  const unsigned char b = byte(lead);
  const size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  if (lead < max_bytes && b >= 0xC0 && lead + length > max_bytes) return text.substr(0, lead);
  return text.substr(0, max_bytes);
}

}  // namespace outpost
