#pragma once

// Hex and base64 encodings. Decoders are strict: anything that is not exactly the canonical
// encoding (wrong alphabet, whitespace, bad length or padding, non-zero trailing bits) is
// rejected, so that one value has one encoding.
//
// Thread-safety: all functions are pure and may be called concurrently.
// Errors: decoders return kInvalidArgument naming the offset of the first bad character;
// the input itself is never echoed (it may be a secret).

#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::crypto {

// Lowercase hex.
std::string HexEncode(std::string_view bytes);
// Accepts upper- and lowercase digits; rejects odd lengths.
Result<std::string> HexDecode(std::string_view hex);

// RFC 4648 section 4: standard alphabet, '=' padding.
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

// RFC 4648 section 5: URL- and filename-safe alphabet, no padding (tokens, URLs).
std::string Base64UrlEncode(std::string_view bytes);
// Rejects '=' padding and the standard alphabet's '+' and '/'.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace outpost::crypto
