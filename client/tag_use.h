#pragma once

// The TAG[:COUNT] notation of `outpost device authorize --tag` (DESIGN.md section 6), for
// programs that take license uses from their own command line or configuration.
//
// Thread-safety: pure functions. Errors: kInvalidArgument saying what was wrong with which
// argument.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "outpost/v1/devices.pb.h"

namespace outpost::client {

// The largest count accepted in TAG:COUNT (far above any real pool, far below int64 overflow).
inline constexpr int64_t kMaxTagCount = 1'000'000'000;

// "TAG" is one unit of TAG; "TAG:COUNT" is COUNT units (1 to kMaxTagCount, decimal digits
// only). The tag is what follows up to the last ':'; it must be non-empty and hold no
// whitespace or control characters (the satellite checks the rest).
Result<v1::TagUse> ParseTagUse(std::string_view text);

// ParseTagUse for each argument, in order; the same tag twice is an error (the request states
// the total use, so two lines for one tag would be ambiguous).
Result<std::vector<v1::TagUse>> ParseTagUses(const std::vector<std::string>& texts);

}  // namespace outpost::client
