#include "server/licensing/core/types.h"

#include "common/names.h"
#include "common/time.h"

namespace outpost::server::licensing {
namespace {

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
  OUTPOST_RETURN_IF_ERROR(outpost::CheckName(udi.pid, "UDI product id", 64, "._-", kUdiAlphabet));
  return outpost::CheckName(udi.serial, "UDI serial number", 64, "._-", kUdiAlphabet);
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

Status ValidateTag(std::string_view tag) { return outpost::ValidateTag(tag); }

Status ValidateVaName(std::string_view va) { return outpost::ValidateVaName(va); }

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

Status ValidateEntitlement(const Entitlement& e) {
  // Central names the piece a move splits off "<original id>@<target VA>" (and so does the
  // satellite's PoolBook::ApplyMove): '@' is allowed once, followed by the entitlement's own VA.
  const size_t at = e.id.find('@');
  const std::string_view base = std::string_view(e.id).substr(0, at);
  OUTPOST_RETURN_IF_ERROR(
      CheckName(base, "entitlement id", 128, "._:-", "letters, digits, '.', '_', ':' and '-'"));
  if (at != std::string::npos && std::string_view(e.id).substr(at + 1) != e.va) {
    return InvalidArgument("entitlement id " + Quote(e.id) +
                           " has a '@' suffix that is not its virtual account " + Quote(e.va) +
                           "; a moved piece is named '<original id>@<virtual account>'");
  }
  const std::string context = "entitlement " + Quote(e.id) + ": ";
  if (Status s = ValidateVaName(e.va); !s.ok()) return s.WithContext(context);
  if (Status s = ValidateTag(e.tag); !s.ok()) return s.WithContext(context);
  if (e.quantity < 0 || e.quantity > kMaxEntitlementQuantity) {
    return InvalidArgument(context + "quantity " + std::to_string(e.quantity) + " is outside 0.." +
                           std::to_string(kMaxEntitlementQuantity));
  }
  if (e.end && *e.end <= e.start) {
    return InvalidArgument(context + "end " + FormatRfc3339(*e.end) + " is not after start " +
                           FormatRfc3339(e.start));
  }
  return Status::Ok();
}

Status ValidateReservation(const Reservation& r) {
  OUTPOST_RETURN_IF_ERROR(ValidateVaName(r.va));
  OUTPOST_RETURN_IF_ERROR(ValidateTag(r.tag));
  OUTPOST_RETURN_IF_ERROR(ValidateUdi(r.udi));
  return ValidateCount(r.count, "reserved count");
}

std::string Quote(std::string_view text) { return QuoteForMessage(text); }

}  // namespace outpost::server::licensing
