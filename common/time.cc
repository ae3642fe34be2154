#include "common/time.h"

#include "common/names.h"

namespace outpost {
namespace {

constexpr int64_t kSecondsPerDay = 86'400;

// Floor division and its remainder: times before 1970 fall into the previous day, not towards
// zero. Neither multiplies back, which would overflow near the ends of the int64 range (a
// tampered row may hold such a value).
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t FloorMod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// Howard Hinnant's days-to-civil and civil-to-days algorithms (proleptic Gregorian calendar),
// exact for any day count that an int64 of seconds or milliseconds gives.
struct CivilDay {
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
};

CivilDay CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  CivilDay out;
  out.day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  out.month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  out.year = yoe + era * 400 + (out.month <= 2 ? 1 : 0);
  return out;
}

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Writes the `width` lowest decimal digits of `value` (>= 0) at `at`.
void PutDigits(char* at, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
}

// `millis` < 0: whole seconds, no fraction. By hand rather than with snprintf or strftime: every
// signed authorization carries several of these times.
std::string Format(int64_t unix_seconds, int millis) {
  const CivilDay d = CivilFromDays(FloorDiv(unix_seconds, kSecondsPerDay));
  const int64_t second_of_day = FloorMod(unix_seconds, kSecondsPerDay);
  std::string out;
  if (d.year >= 0 && d.year <= 9999) {
    out.resize(4);
    PutDigits(out.data(), d.year, 4);
  } else {
    // The sign apart, so that the year -1 reads "-0001" rather than "-001".
    const uint64_t magnitude =
        d.year < 0 ? uint64_t{0} - static_cast<uint64_t>(d.year) : static_cast<uint64_t>(d.year);
    std::string digits = std::to_string(magnitude);
    if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
    out = (d.year < 0 ? "-" : "") + digits;
  }
  char rest[] = "-MM-DDTHH:MM:SS.mmmZ";
  PutDigits(rest + 1, d.month, 2);
  PutDigits(rest + 4, d.day, 2);
  PutDigits(rest + 7, second_of_day / 3600, 2);
  PutDigits(rest + 10, second_of_day / 60 % 60, 2);
  PutDigits(rest + 13, second_of_day % 60, 2);
  if (millis >= 0) {
    PutDigits(rest + 16, millis, 3);
    out.append(rest, sizeof(rest) - 1);
  } else {
    out.append(rest, 15).push_back('Z');
  }
  return out;
}

// Reads `count` decimal digits at text[at]; false unless all of them are digits.
bool ReadDigits(std::string_view text, size_t at, size_t count, int64_t& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

struct ParsedTime {
  int64_t unix_seconds = 0;
  int64_t nanoseconds = 0;  // 0..999'999'999
};

constexpr std::string_view kExample = "like 2026-11-28T15:12:22Z";

Result<ParsedTime> Parse(std::string_view text) {
  const std::string quoted = QuoteForMessage(text);
  const auto not_a_time = [&] {
    return InvalidArgument(quoted +
                           " is not a time; write YYYY-MM-DD (midnight UTC) or "
                           "YYYY-MM-DDTHH:MM:SSZ (RFC 3339 in UTC), " +
                           std::string(kExample));
  };
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day)) {
    return not_a_time();
  }
  ParsedTime out;
  if (text.size() > 10) {
    if ((text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, hour) ||
        text.size() < 19 || text[13] != ':' || !ReadDigits(text, 14, 2, minute) ||
        text[16] != ':' || !ReadDigits(text, 17, 2, second)) {
      return not_a_time();
    }
    size_t at = 19;
    if (at < text.size() && text[at] == '.') {
      const size_t first = ++at;
      int64_t scale = 100'000'000;
      for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
        out.nanoseconds += (text[at] - '0') * scale;
        scale /= 10;
      }
      if (at == first) return not_a_time();
    }
    const std::string_view zone = text.substr(at);
    if (zone.empty()) {
      return InvalidArgument(quoted + " has no time zone; end it with Z for UTC, " +
                             std::string(kExample));
    }
    if (zone[0] == '+' || zone[0] == '-') {
      return InvalidArgument(quoted + " has a UTC offset; write the time in UTC with a Z, " +
                             std::string(kExample));
    }
    if (zone != "Z" && zone != "z") return not_a_time();
  }
  const auto out_of_range = [&](std::string what) {
    return InvalidArgument(quoted + " has " + what + "; write RFC 3339 in UTC, " +
                           std::string(kExample));
  };
  if (month < 1 || month > 12) return out_of_range("month " + std::to_string(month));
  const unsigned days_in_month = DaysInMonth(year, static_cast<unsigned>(month));
  if (day < 1 || day > days_in_month) {
    return InvalidArgument(quoted + " is not a day of the calendar: " + std::string(text, 0, 7) +
                           " has days 01 to " + std::to_string(days_in_month));
  }
  if (hour > 23) return out_of_range("hour " + std::to_string(hour));
  if (minute > 59) return out_of_range("minute " + std::to_string(minute));
  // A leap second (23:59:60) is the next day's first second in Unix time.
  if (second > 60 || (second == 60 && (hour != 23 || minute != 59))) {
    return out_of_range("second " + std::to_string(second));
  }
  out.unix_seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                         kSecondsPerDay +
                     hour * 3600 + minute * 60 + second;
  return out;
}

}  // namespace

std::string FormatRfc3339(TimePoint t) {
  return Format(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count(), -1);
}

std::string FormatRfc3339Seconds(int64_t unix_seconds) { return Format(unix_seconds, -1); }

std::string FormatRfc3339Millis(int64_t unix_millis) {
  return Format(FloorDiv(unix_millis, 1000), static_cast<int>(FloorMod(unix_millis, 1000)));
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  OUTPOST_ASSIGN_OR_RETURN(const ParsedTime parsed, Parse(text));
  // One second inside the ends, so that adding the fraction cannot overflow.
  using std::chrono::seconds;
  const int64_t min_s = std::chrono::ceil<seconds>(TimePoint::min().time_since_epoch()).count();
  const int64_t max_s = std::chrono::floor<seconds>(TimePoint::max().time_since_epoch()).count();
  if (parsed.unix_seconds <= min_s || parsed.unix_seconds >= max_s) {
    return InvalidArgument(QuoteForMessage(text) + " is outside the times this program holds (" +
                           FormatRfc3339Seconds(min_s + 1) + " to " +
                           FormatRfc3339Seconds(max_s - 1) + ")");
  }
  return TimePoint(seconds(parsed.unix_seconds)) +
         std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(parsed.nanoseconds));
}

Result<int64_t> ParseRfc3339Seconds(std::string_view text) {
  OUTPOST_ASSIGN_OR_RETURN(const ParsedTime parsed, Parse(text));
  return parsed.unix_seconds;
}

}  // namespace outpost
