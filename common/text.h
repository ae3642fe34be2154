#pragma once

// Counts and durations in words, one way for every message a person reads (CLI output, errors
// from the server, log lines).
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost {

// "1 device", "2 devices", "0 devices": `count` and the noun, plural unless count is 1 or -1.
// `plural` defaults to `noun` + "s" (pass it for "entry" / "entries").
std::string Plural(int64_t count, std::string_view noun, std::string_view plural = "");

// A duration: in the largest of days, hours, minutes and seconds that divides it exactly, e.g.
// "30 days", "1 hour", "90 minutes", "45 seconds" (so "36 hours", not "1.5 days"). 0 is
// "0 seconds"; negative values get a "-".
std::string DurationText(int64_t seconds);

}  // namespace outpost
