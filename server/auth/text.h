#pragma once

// Checks on user-supplied text (names, descriptions, passwords). Internal to server/auth.

#include <cstddef>
#include <optional>
#include <string_view>

namespace outpost::server::auth {

// The number of code points in `text` if it is well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF); nullopt otherwise.
std::optional<size_t> Utf8Length(std::string_view text);

// True if `text` contains an ASCII control character (U+0000..U+001F or U+007F).
bool HasControlCharacter(std::string_view text);

}  // namespace outpost::server::auth
