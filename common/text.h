#pragma once

// Counts and durations in words, one way for every message a person reads (CLI output, errors
// from the server, log lines).
//
// Thread-safety: pure functions.

#include <cstddef>
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

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence: where a cut would split a multi-byte character, the whole character is left out.
// Every place that shortens text for a message, a log line or an answer cuts with this, so
// that what was valid UTF-8 stays valid (a protobuf string must be). Bytes that are not UTF-8
// are cut like single bytes.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace outpost
