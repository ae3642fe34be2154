#pragma once

// Checks of what the vendor types into `outpost central ...`, with messages that say what was
// wrong and what is allowed. Virtual account names and license tags follow the same rules as
// the satellite's, so that everything central grants can be imported.
//
// Thread-safety: pure functions. Errors: kInvalidArgument.

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"
#include "outpost/v1/sync.pb.h"

namespace outpost::central {

inline constexpr int64_t kMaxQuantity = 1'000'000'000;

// 1..64 of [a-z0-9._-], starting with a letter or digit: the vendor's name for a customer
// account, e.g. "acme" or "acme-emea" (also carried in enrollment bundles and sync bundles).
Status ValidateAccountId(std::string_view account_id);
// 1..64 of [A-Za-z0-9._-].
Status ValidateVaName(std::string_view va);
// 1..128 of [A-Za-z0-9._:-], starting with a letter or digit.
Status ValidateTag(std::string_view tag);
// 1..kMaxQuantity; `what` names the value ("--count").
Status ValidateQuantity(int64_t quantity, std::string_view what);
// 1..128 bytes without control characters; `what` names the value ("--name").
Status ValidateDisplayName(std::string_view name, std::string_view what);

// A license date: ParseRfc3339Seconds (common/time.h), from 1970 on; `what` names the flag in
// the message.
Result<int64_t> ParseDate(std::string_view text, std::string_view what);

// What an order or a license key grants (besides VA and tag).
struct LicenseTerms {
  int64_t quantity = 0;
  std::optional<int64_t> start;  // unset: when the license is added
  int64_t end = 0;               // 0: perpetual; else after start
  bool enforced = false;
  bool floating = false;
  bool export_controlled = false;
};

// The quantity and dates of `terms` (start as resolved by the caller).
Status ValidateTerms(const LicenseTerms& terms, int64_t start);

}  // namespace outpost::central
