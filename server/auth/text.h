#pragma once

// Checks on user-supplied text (names, descriptions, passwords). Internal to server/auth.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::server::auth {

// The number of code points in `text` if it is well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF); nullopt otherwise.
std::optional<size_t> Utf8Length(std::string_view text);

// True if `text` contains an ASCII control character (U+0000..U+001F or U+007F).
bool HasControlCharacter(std::string_view text);

// A wait for people, the way the CLI prints durations: the largest of hours, minutes and
// seconds that divides it exactly, e.g. "1 hour", "2 minutes", "37 seconds", "1 second".
std::string WaitText(int64_t seconds);

}  // namespace outpost::server::auth
