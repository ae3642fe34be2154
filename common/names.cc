#include "common/names.h"

#include <cstdio>

#include "common/text.h"

namespace outpost {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "'";
  // Cut between characters: a split multi-byte character would make the message invalid UTF-8.
  const std::string_view shown = Utf8Prefix(text, kMaxShown);
  for (size_t i = 0; i < shown.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(shown[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

Status CheckName(std::string_view text, std::string_view what, size_t max_length,
                 std::string_view extra, std::string_view alphabet, bool alnum_first) {
  if (text.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (text.size() > max_length) {
    return InvalidArgument(std::string(what) + " " + QuoteForMessage(text) + " is " +
                           std::to_string(text.size()) + " characters long; at most " +
                           std::to_string(max_length) + " are allowed");
  }
  for (char c : text) {
    if (IsAlnum(c) || extra.find(c) != std::string_view::npos) continue;
    return InvalidArgument(std::string(what) + " " + QuoteForMessage(text) + " contains " +
                           QuoteForMessage(std::string_view(&c, 1)) + "; allowed are " +
                           std::string(alphabet));
  }
  if (alnum_first && !IsAlnum(text.front())) {
    return InvalidArgument(std::string(what) + " " + QuoteForMessage(text) +
                           " must start with a letter or digit");
  }
  return Status::Ok();
}

Status ValidateVaName(std::string_view va) {
  return CheckName(va, "virtual account name", 64, "._-", "letters, digits, '.', '_' and '-'");
}

Status ValidateTag(std::string_view tag) {
  return CheckName(tag, "license tag", 128, "._:-", "letters, digits, '.', '_', ':' and '-'",
                   /*alnum_first=*/true);
}

}  // namespace outpost
