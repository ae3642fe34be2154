#include "server/licensing/types.h"

#include <time.h>

#include <cstdio>

namespace outpost::server::licensing {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Checks `text` against 1..max_length characters of [A-Za-z0-9] plus `extra`. `what` names the
// field, `allowed` describes the alphabet for the message.
Status CheckName(std::string_view text, std::string_view what, size_t max_length,
                 std::string_view extra, std::string_view allowed) {
  if (text.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (text.size() > max_length) {
    return InvalidArgument(std::string(what) + " " + Quote(text) + " is " +
                           std::to_string(text.size()) + " characters long; at most " +
                           std::to_string(max_length) + " are allowed");
  }
  for (char c : text) {
    if (IsAlnum(c) || extra.find(c) != std::string_view::npos) continue;
    return InvalidArgument(std::string(what) + " " + Quote(text) + " contains " +
                           Quote(std::string_view(&c, 1)) + "; allowed are " +
                           std::string(allowed));
  }
  return Status::Ok();
}

constexpr std::string_view kUdiAlphabet = "letters, digits, '.', '_' and '-'";

}  // namespace

std::string_view EnforcementName(Enforcement enforcement) {
  switch (enforcement) {
    case Enforcement::kReported:
      return "REPORTED";
    case Enforcement::kEnforced:
      return "ENFORCED";
  }
  return "UNKNOWN";
}

Status ValidateUdi(const Udi& udi) {
  OUTPOST_RETURN_IF_ERROR(CheckName(udi.pid, "UDI product id", 64, "._-", kUdiAlphabet));
  return CheckName(udi.serial, "UDI serial number", 64, "._-", kUdiAlphabet);
}

Result<Udi> ParseUdi(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    return InvalidArgument("malformed UDI " + Quote(text) +
                           ": expected PID:SN, a product id and a serial number separated by "
                           "exactly one ':' (e.g. C9300-24T:FOC2231X0AB)");
  }
  Udi udi{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(udi));
  return udi;
}

Status ValidateTag(std::string_view tag) {
  OUTPOST_RETURN_IF_ERROR(
      CheckName(tag, "license tag", 128, "._:-", "letters, digits, '.', '_', ':' and '-'"));
  if (!IsAlnum(tag.front())) {
    return InvalidArgument("license tag " + Quote(tag) + " must start with a letter or digit");
  }
  return Status::Ok();
}

Status ValidateVaName(std::string_view va) {
  return CheckName(va, "virtual account name", 64, "._-", kUdiAlphabet);
}

Status ValidateInstanceId(std::string_view instance_id) {
  return CheckName(instance_id, "instance id", 64, "._:-",
                   "letters, digits, '.', '_', ':' and '-'");
}

Status ValidateCount(int64_t count, std::string_view what) {
  if (count < 1 || count > kMaxCount) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(count) +
                           "; it must be between 1 and " + std::to_string(kMaxCount));
  }
  return Status::Ok();
}

Status ValidateEntitlement(const Entitlement& e, bool allow_move_ids) {
  // A moved piece is "<id>@<va>": room for a central id and a VA name.
  const std::string extra = allow_move_ids ? "._:@-" : "._:-";
  OUTPOST_RETURN_IF_ERROR(CheckName(e.id, "entitlement id", allow_move_ids ? 200 : 128, extra,
                                    "letters, digits, '.', '_', ':' and '-'"));
  const std::string context = "entitlement " + Quote(e.id) + ": ";
  if (Status s = ValidateVaName(e.va); !s.ok()) return s.WithContext(context);
  if (Status s = ValidateTag(e.tag); !s.ok()) return s.WithContext(context);
  if (e.quantity < 0 || e.quantity > kMaxEntitlementQuantity) {
    return InvalidArgument(context + "quantity " + std::to_string(e.quantity) + " is outside 0.." +
                           std::to_string(kMaxEntitlementQuantity));
  }
  if (e.end && *e.end <= e.start) {
    return InvalidArgument(context + "end " + FormatTime(*e.end) + " is not after start " +
                           FormatTime(e.start));
  }
  return Status::Ok();
}

Status ValidateReservation(const Reservation& r) {
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(r.va));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(r.tag));
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(r.udi));
  return ValidateCount(r.count, "reserved count");
}

std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "'";
}

std::string FormatTime(TimePoint t) {
  const time_t seconds = static_cast<time_t>(ToUnixSeconds(t));
  struct tm utc;
  if (gmtime_r(&seconds, &utc) == nullptr) return std::to_string(seconds) + "s";
  char buffer[32];
  const size_t n = strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer, n);
}

}  // namespace outpost::server::licensing
