#pragma once

// Points in time, their conversion to the Unix seconds stored in the database and sent on the
// wire, and their one text form: RFC 3339 in UTC, "2026-05-28T20:26:40Z". Every message,
// listing and export that shows a time formats it here; every input that takes one (the admin
// API's since/until, `outpost apikey create --expires`, `outpost central license add
// --start/--end`) parses it here.
//
// Thread-safety: pure functions.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

// Seconds since the Unix epoch (a fraction is truncated towards zero), and back.
inline int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixSeconds(int64_t s) { return TimePoint(std::chrono::seconds(s)); }

// "2026-05-28T20:26:40Z": UTC, whole seconds (a fraction is dropped, rounding down).
std::string FormatRfc3339(TimePoint t);
// The same for seconds since the epoch, as stored in a database or read from a bundle. Defined
// for every int64: a year outside 0000..9999 (which RFC 3339 cannot write) is printed with as
// many digits as it needs, and a '-' before the year 0, so a tampered value shows as what it is.
std::string FormatRfc3339Seconds(int64_t unix_seconds);
// "2026-05-28T20:26:40.123Z": with exactly three fractional digits (the audit trail's times);
// every int64 as above.
std::string FormatRfc3339Millis(int64_t unix_millis);

// Parses a time in UTC, "2026-11-28T15:12:22Z", with an optional fraction of a second
// ("2026-11-28T15:12:22.5Z"; digits beyond nanoseconds are dropped), or a date, "2026-11-28"
// (midnight UTC). 'T' and 'Z' may be lower case (RFC 3339, section 5.6); a second of 60 is read
// only at 23:59 (a leap second) and counts as the next day's first. Errors, kInvalidArgument
// quoting `text`: not this shape; a UTC offset ("+01:00": write the time in UTC); a field out of
// range (month 13, hour 24) or a day the calendar does not have (2027-02-29); a time outside
// what a TimePoint holds (1677-09-22 to 2262-04-11).
Result<TimePoint> ParseRfc3339(std::string_view text);
// The same as whole seconds since the epoch (a fraction is dropped), for any year 0000..9999.
Result<int64_t> ParseRfc3339Seconds(std::string_view text);

}  // namespace outpost
