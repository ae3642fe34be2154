#include "sync/bundle/display.h"

#include <ctime>

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

std::string UnixSecondsText(int64_t seconds) {
  // 1970 to 9999 only: outside it strftime's %Y would print more or fewer than 4 digits, and
  // no time in a bundle is meaningfully before the epoch.
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds < 0 || seconds > kMax) return std::to_string(seconds);
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return std::to_string(seconds);
  char buffer[32];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (n == 0) return std::to_string(seconds);
  return std::string(buffer, n);
}

}  // namespace outpost::sync
