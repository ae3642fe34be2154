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

}  // namespace outpost
