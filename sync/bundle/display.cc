#include "sync/bundle/display.h"

namespace outpost::sync {

std::string Printable(std::string_view text, size_t max_chars) {
  std::string out;
  const bool cut = text.size() > max_chars;
  if (cut) text = text.substr(0, max_chars);
  out.reserve(text.size() + 3);
  for (const char c : text) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (cut) out += "...";
  return out;
}

}  // namespace outpost::sync
