#pragma once

// The names of the licensing vocabulary (DESIGN.md section 1) that the satellite and central
// must agree on — virtual accounts and license tags — and the checks of identifier-like names
// behind them. One definition, so that everything central grants the satellite can import.
// Every check returns kInvalidArgument with a message that names the field, quotes the
// (truncated, escaped) input and says what is allowed.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost {

// `text` in single quotes for a message: at most 64 characters, control characters, quotes and
// backslashes escaped as \xNN.
std::string QuoteForMessage(std::string_view text);

// 1..max_length characters of [A-Za-z0-9] plus those in `extra`; with `alnum_first`, starting
// with a letter or digit. `what` names the field, `alphabet` describes the allowed characters.
Status CheckName(std::string_view text, std::string_view what, size_t max_length,
                 std::string_view extra, std::string_view alphabet, bool alnum_first = false);

// A virtual account name: 1..64 characters of [A-Za-z0-9._-] (e.g. "branch-east").
Status ValidateVaName(std::string_view va);
// A license tag: 1..128 characters of [A-Za-z0-9._:-], starting with a letter or digit
// (e.g. "regid.2026-01.com.example.fw.base").
Status ValidateTag(std::string_view tag);

}  // namespace outpost
