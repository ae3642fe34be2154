#include "common/config/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace outpost::config {
namespace {

using std::chrono::nanoseconds;
static_assert(std::is_same_v<Duration, nanoseconds>, "ParseDuration sums nanoseconds");

struct Unit {
  std::string_view suffix;
  std::int64_t nanos;
};

// Largest first: both the order ParseDuration requires and the order FormatDuration writes.
constexpr std::array<Unit, 5> kUnits = {{
    {"d", 86'400'000'000'000},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
}};

constexpr std::string_view kAccepted =
    "use whole numbers with units d, h, m, s or ms, largest unit first and without spaces, "
    "e.g. \"500ms\", \"30s\", \"15m\", \"1h30m\", \"90d\"";

Status Invalid(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                         "; " + std::string(kAccepted));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Invalid(text, "it is empty");
  if (text.front() == '-') return Invalid(text, "negative durations are not allowed");

  // Durations are stored in nanoseconds; sum in that unit and check every step for overflow.
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total_nanos = 0;
  std::size_t previous_unit = kUnits.size();  // none yet
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      return Invalid(text, "expected a number at \"" + std::string(text.substr(i)) + "\"");
    }
    std::int64_t number = 0;
    bool overflow = false;
    while (i < text.size() && IsDigit(text[i])) {
      const int digit = text[i] - '0';
      if (number > (kMax - digit) / 10) overflow = true;
      if (!overflow) number = number * 10 + digit;
      ++i;
    }
    const std::size_t unit_begin = i;
    while (i < text.size() && IsLetter(text[i])) ++i;
    const std::string_view suffix = text.substr(unit_begin, i - unit_begin);
    if (suffix.empty()) {
      if (i < text.size() && text[i] == '.') return Invalid(text, "fractions are not allowed");
      return Invalid(text, "a number is missing its unit");
    }

    std::size_t unit = 0;
    while (unit < kUnits.size() && kUnits[unit].suffix != suffix) ++unit;
    if (unit == kUnits.size()) return Invalid(text, "unknown unit \"" + std::string(suffix) + "\"");
    if (previous_unit != kUnits.size() && unit <= previous_unit) {
      return Invalid(text, "unit \"" + std::string(suffix) + "\" is repeated or out of order");
    }
    previous_unit = unit;

    if (overflow || number > (kMax - total_nanos) / kUnits[unit].nanos) {
      return Invalid(text, "it is too large");
    }
    total_nanos += number * kUnits[unit].nanos;
  }
  return Duration(total_nanos);
}

std::string FormatDuration(Duration d) {
  // Milliseconds truncate toward zero, and their magnitude always fits, so negation is safe.
  std::int64_t millis = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (millis == 0) return "0s";
  std::string out;
  if (millis < 0) {
    out = "-";
    millis = -millis;
  }
  for (const Unit& unit : kUnits) {
    const std::int64_t unit_millis = unit.nanos / 1'000'000;
    const std::int64_t count = millis / unit_millis;
    if (count == 0) continue;
    out += std::to_string(count);
    out += unit.suffix;
    millis -= count * unit_millis;
  }
  return out;
}

}  // namespace outpost::config
