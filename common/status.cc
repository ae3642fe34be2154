#include "common/status.h"

namespace outpost {

std::string_view ReasonFor(Errc code) {
  switch (code) {
    case Errc::kOk:
      return "ok";
    case Errc::kInvalidArgument:
      return "invalid_argument";
    case Errc::kUnauthenticated:
      return "unauthenticated";
    case Errc::kPermissionDenied:
      return "permission_denied";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kMethodNotAllowed:
      return "method_not_allowed";
    case Errc::kAlreadyExists:
      return "already_exists";
    case Errc::kFailedPrecondition:
      return "failed_precondition";
    case Errc::kPayloadTooLarge:
      return "payload_too_large";
    case Errc::kUnsupportedMediaType:
      return "unsupported_media_type";
    case Errc::kHeaderTooLarge:
      return "header_too_large";
    case Errc::kResourceExhausted:
      return "resource_exhausted";
    case Errc::kDataLoss:
      return "data_loss";
    case Errc::kInternal:
      return "internal";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kDeadlineExceeded:
      return "deadline_exceeded";
  }
  return "internal";
}

int HttpStatusFor(Errc code) {
  switch (code) {
    case Errc::kOk:
      return 200;
    case Errc::kInvalidArgument:
      return 400;
    case Errc::kUnauthenticated:
      return 401;
    case Errc::kPermissionDenied:
      return 403;
    case Errc::kNotFound:
      return 404;
    case Errc::kMethodNotAllowed:
      return 405;
    case Errc::kAlreadyExists:
      return 409;
    case Errc::kFailedPrecondition:
      return 409;
    case Errc::kPayloadTooLarge:
      return 413;
    case Errc::kUnsupportedMediaType:
      return 415;
    case Errc::kHeaderTooLarge:
      return 431;
    case Errc::kResourceExhausted:
      return 429;
    case Errc::kDataLoss:
      return 500;
    case Errc::kInternal:
      return 500;
    case Errc::kUnavailable:
      return 503;
    case Errc::kDeadlineExceeded:
      return 504;
  }
  return 500;
}

Errc ErrcFromReason(std::string_view reason) {
  for (int i = 0; i <= static_cast<int>(Errc::kDeadlineExceeded); ++i) {
    if (ReasonFor(static_cast<Errc>(i)) == reason) return static_cast<Errc>(i);
  }
  return Errc::kInternal;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ReasonFor(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace outpost
