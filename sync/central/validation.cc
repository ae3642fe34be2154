#include "sync/central/validation.h"

#include <time.h>

#include <cstdio>
#include <string>

#include "common/names.h"
#include "sync/bundle/display.h"

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
  const auto bad = [&] {
    return InvalidArgument(std::string(what) + " " + Quote(text) +
                           " is not a date; write YYYY-MM-DD (midnight UTC) or "
                           "YYYY-MM-DDTHH:MM:SSZ, e.g. 2027-01-31");
  };
  const std::string s(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  if (s.size() == 10) {
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3) return bad();
  } else if (s.size() == 20) {
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &year, &month, &day, &hour, &minute,
                    &second, &consumed) != 6) {
      return bad();
    }
  } else {
    return bad();
  }
  if (static_cast<size_t>(consumed) != s.size() || year < 1970 || year > 9999 || month < 1 ||
      month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return bad();
  }
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t t = timegm(&tm);
  // timegm normalises 2027-02-31 to March 3rd: refuse dates that do not exist.
  struct tm back {};
  gmtime_r(&t, &back);
  if (back.tm_mday != day || back.tm_mon != month - 1) {
    return InvalidArgument(std::string(what) + " " + Quote(text) + " is not a day of the calendar");
  }
  return static_cast<int64_t>(t);
}

Status ValidateTerms(const LicenseTerms& terms, int64_t start) {
  OUTPOST_RETURN_IF_ERROR(ValidateQuantity(terms.quantity, "--count"));
  if (terms.end != 0 && terms.end <= start) {
    return InvalidArgument("--end " + sync::UnixSecondsText(terms.end) +
                           " is not after the start " + sync::UnixSecondsText(start) +
                           "; a license must end after it starts (omit --end for perpetual)");
  }
  return Status::Ok();
}

}  // namespace outpost::central
