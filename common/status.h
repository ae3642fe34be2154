#pragma once

#include <cassert>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace outpost {

// Error codes used across module boundaries. Each maps to exactly one HTTP status and one
// machine-readable reason (see HttpStatusFor / ReasonFor).
enum class Errc {
  kOk = 0,
  kInvalidArgument,       // malformed or out-of-range input (400)
  kUnauthenticated,       // missing or bad credentials (401)
  kPermissionDenied,      // authenticated but the role does not allow it (403)
  kNotFound,              // no such object or route (404)
  kMethodNotAllowed,      // route exists, method does not (405)
  kAlreadyExists,         // would overwrite something that must not be overwritten (409)
  kFailedPrecondition,    // state does not allow the operation now (409)
  kPayloadTooLarge,       // body or file above the configured limit (413)
  kUnsupportedMediaType,  // Content-Type we do not speak (415)
  kHeaderTooLarge,        // request header above the configured limit (431)
  kResourceExhausted,     // rate or quota limit (429)
  kDataLoss,              // stored data is corrupt or was tampered with (500)
  kInternal,              // a bug or an environment failure (500)
  kUnavailable,           // temporarily unable; retry later (503)
  kDeadlineExceeded,      // timed out (504)
};

// Snake-case reason string for an Errc, e.g. "invalid_argument". Stable: clients match on it.
std::string_view ReasonFor(Errc code);
// HTTP status code for an Errc.
int HttpStatusFor(Errc code);
// Inverse of ReasonFor; unknown reasons map to kInternal.
Errc ErrcFromReason(std::string_view reason);

// The outcome of an operation: a code and a human message that says what was wrong and, where
// the caller can act on it, what to do. Cheap to copy when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Errc::kOk; }
  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string_view reason() const { return ReasonFor(code_); }

  // Prefixes the message with context, e.g. "reading outpost.toml: ".
  Status WithContext(std::string_view context) const;
  std::string ToString() const;

 private:
  Errc code_ = Errc::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Errc::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Errc::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Errc::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {Errc::kFailedPrecondition, std::move(m)};
}
inline Status PermissionDenied(std::string m) { return {Errc::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Errc::kUnauthenticated, std::move(m)}; }
inline Status DataLoss(std::string m) { return {Errc::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {Errc::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Errc::kUnavailable, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Errc::kResourceExhausted, std::move(m)}; }

// A value or an error Status. Accessing value() of an error is a programmer error and aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<T, Status>, "use Status directly");

  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) std::abort();   // an ok Status carries no value
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }

  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }

 private:
  T& Checked() {
    if (!ok()) std::abort();
    return std::get<0>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace outpost

// Returns early from the enclosing function with the error of `expr` (a Status or Result).
#define OUTPOST_RETURN_IF_ERROR(expr)                         \
  do {                                                        \
    if (auto outpost_status_ = (expr); !outpost_status_.ok()) \
      return ::outpost::internal::ToStatus(outpost_status_);  \
  } while (0)

#define OUTPOST_CONCAT_INNER_(a, b) a##b
#define OUTPOST_CONCAT_(a, b) OUTPOST_CONCAT_INNER_(a, b)
// `OUTPOST_ASSIGN_OR_RETURN(auto x, Foo());` binds the value of a Result or returns its error.
#define OUTPOST_ASSIGN_OR_RETURN(lhs, expr)                     \
  auto OUTPOST_CONCAT_(outpost_result_, __LINE__) = (expr);     \
  if (!OUTPOST_CONCAT_(outpost_result_, __LINE__).ok())         \
    return OUTPOST_CONCAT_(outpost_result_, __LINE__).status(); \
  lhs = std::move(OUTPOST_CONCAT_(outpost_result_, __LINE__)).value()

namespace outpost::internal {
inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
const Status& ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace outpost::internal
