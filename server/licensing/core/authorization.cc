#include "server/licensing/core/authorization.h"

#include "common/text.h"

namespace outpost::server::licensing {
namespace {

std::string Seconds(Duration d) {
  return DurationText(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

}  // namespace

Status AuthorizationPolicy::Validate() const {
  if (renewal <= Duration::zero() || renewal >= validity) {
    return InvalidArgument("authorization renewal (" + Seconds(renewal) +
                           ") must be positive and shorter than the validity (" +
                           Seconds(validity) + ")");
  }
  if (floating_lease < kMinFloatingLease || floating_lease > validity) {
    return InvalidArgument("floating lease (" + Seconds(floating_lease) + ") must be at least " +
                           Seconds(kMinFloatingLease) + " and at most the validity (" +
                           Seconds(validity) + ")");
  }
  return Status::Ok();
}

std::string_view TagStatusName(TagStatus status) {
  switch (status) {
    case TagStatus::kAuthorized:
      return "AUTHORIZED";
    case TagStatus::kOutOfCompliance:
      return "OUT_OF_COMPLIANCE";
    case TagStatus::kDenied:
      return "DENIED";
    case TagStatus::kNotEntitled:
      return "NOT_ENTITLED";
  }
  return "UNKNOWN";
}

}  // namespace outpost::server::licensing
