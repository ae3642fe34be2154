#include "client/tag_use.h"

#include <charconv>
#include <set>
#include <string>

namespace outpost::client {

Result<v1::TagUse> ParseTagUse(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  // Split at the last ':' so that the count is always the final field.
  const size_t colon = text.rfind(':');
  const std::string_view tag = text.substr(0, colon);
  if (tag.empty()) {
    return InvalidArgument("--tag " + quoted + " has no license tag; use TAG or TAG:COUNT");
  }
  for (char c : tag) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return InvalidArgument("--tag " + quoted +
                             ": a license tag holds no spaces or control characters");
    }
  }
  v1::TagUse use;
  use.set_tag(std::string(tag));
  use.set_count(1);
  if (colon == std::string_view::npos) return use;

  const std::string_view digits = text.substr(colon + 1);
  int64_t count = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  // from_chars accepts a leading '-'; a count is digits only.
  if (digits.empty() || digits.front() == '-' || ec != std::errc() ||
      end != digits.data() + digits.size() || count < 1 || count > kMaxTagCount) {
    return InvalidArgument("--tag " + quoted + ": COUNT must be a whole number from 1 to " +
                           std::to_string(kMaxTagCount) + " (use TAG or TAG:COUNT)");
  }
  use.set_count(count);
  return use;
}

Result<std::vector<v1::TagUse>> ParseTagUses(const std::vector<std::string>& texts) {
  std::vector<v1::TagUse> uses;
  std::set<std::string> seen;
  for (const auto& text : texts) {
    OUTPOST_ASSIGN_OR_RETURN(v1::TagUse use, ParseTagUse(text));
    if (!seen.insert(use.tag()).second) {
      return InvalidArgument("license tag '" + use.tag() +
                             "' is given twice; give it once with the total count (TAG:COUNT)");
    }
    uses.push_back(std::move(use));
  }
  return uses;
}

}  // namespace outpost::client
