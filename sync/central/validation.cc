#include "sync/central/validation.h"

#include <string>

#include "common/names.h"
#include "common/time.h"

namespace outpost::central {
namespace {

std::string Quote(std::string_view text) { return QuoteForMessage(text); }

}  // namespace

Status ValidateAccountId(std::string_view account_id) {
  constexpr std::string_view kAlphabet = "lower-case letters, digits, '.', '_' and '-'";
  OUTPOST_RETURN_IF_ERROR(CheckName(account_id, "account", 64, "._-", kAlphabet, true));
  for (char c : account_id) {
    if (c >= 'A' && c <= 'Z') {
      return InvalidArgument("account " + Quote(account_id) + " contains " +
                             Quote(std::string_view(&c, 1)) + "; allowed are " +
                             std::string(kAlphabet));
    }
  }
  return Status::Ok();
}

// The satellite's rules (common/names.h): everything central grants must be importable.
Status ValidateVaName(std::string_view va) { return outpost::ValidateVaName(va); }

Status ValidateTag(std::string_view tag) { return outpost::ValidateTag(tag); }

Status ValidateQuantity(int64_t quantity, std::string_view what) {
  if (quantity < 1 || quantity > kMaxQuantity) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(quantity) +
                           "; it must be between 1 and " + std::to_string(kMaxQuantity));
  }
  return Status::Ok();
}

Status ValidateDisplayName(std::string_view name, std::string_view what) {
  if (name.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (name.size() > 128) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(name.size()) +
                           " bytes long; at most 128 are allowed");
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return InvalidArgument(std::string(what) + " contains a control character");
    }
  }
  return Status::Ok();
}

Result<int64_t> ParseDate(std::string_view text, std::string_view what) {
  auto seconds = ParseRfc3339Seconds(text);
  if (!seconds.ok()) return seconds.status().WithContext(what);
  if (*seconds < 0) {
    return InvalidArgument(std::string(what) + " " + Quote(text) +
                           " is before 1970; a license's dates are from 1970-01-01 on");
  }
  return *seconds;
}

Status ValidateTerms(const LicenseTerms& terms, int64_t start) {
  OUTPOST_RETURN_IF_ERROR(ValidateQuantity(terms.quantity, "--count"));
  if (terms.end != 0 && terms.end <= start) {
    return InvalidArgument("--end " + FormatRfc3339Seconds(terms.end) + " is not after the start " +
                           FormatRfc3339Seconds(start) +
                           "; a license must end after it starts (omit --end for perpetual)");
  }
  return Status::Ok();
}

}  // namespace outpost::central
