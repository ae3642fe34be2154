#pragma once

// UTF-8 checks for audit fields (exports are JSON, which must be UTF-8), also used by licensing
// to check the text devices send (hostnames).

#include <string>
#include <string_view>

namespace outpost::server::audit {

// True iff `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). NUL is allowed.
bool IsValidUtf8(std::string_view text);

// `text` with every byte that is not part of a well-formed sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace outpost::server::audit
