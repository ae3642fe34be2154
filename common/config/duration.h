#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace outpost::config {

// Parses a configuration duration: one or more `<whole number><unit>` parts, largest unit
// first, each unit at most once, no spaces. Units: d (24 h), h, m, s, ms.
// Accepted: "500ms", "30s", "15m", "1h", "90d", "1h30m", "0s".
// Rejected with InvalidArgument naming the value and the accepted form: empty text, a sign,
// a number without unit, an unknown unit, units out of order or repeated, and values that do
// not fit in a Duration.
Result<Duration> ParseDuration(std::string_view text);

// Formats `d` in the form ParseDuration reads, as the canonical largest-unit-first
// decomposition without zero parts: 90 days -> "90d", 5400 s -> "1h30m", 1500 ms -> "1s500ms",
// zero -> "0s". Sub-millisecond precision is truncated toward zero (configuration durations
// are whole milliseconds, so ParseDuration(FormatDuration(d)) == d for them). A negative
// duration is rendered with a leading '-', which ParseDuration rejects.
std::string FormatDuration(Duration d);

}  // namespace outpost::config
