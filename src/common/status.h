// Status and Result<T>: how Vigil reports expected failures.
//
// Bad input, a missing model, a full queue: these are values, not exceptions.
// A Status carries one of a small fixed set of codes and a message written
// for the person who caused it ("inputs[0].shape: ..."). The HTTP edge maps
// codes to status codes (see http/error_mapping.h); nothing else inspects the
// message text.
//
// Thread-safety: values; safe to copy between threads.
#ifndef VIGIL_COMMON_STATUS_H_
#define VIGIL_COMMON_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vigil {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // The caller sent something malformed or inconsistent.
  kNotFound,            // A named model, version or route does not exist.
  kAlreadyExists,       // What the caller would create exists already (and differs).
  kFailedPrecondition,  // The request is valid but the system is not in a state to do it.
  kUnavailable,         // Not ready now; retrying later may succeed.
  kResourceExhausted,   // A bound (body size, queue length) was exceeded.
  kPermissionDenied,    // The operation is disabled by configuration.
  kInternal,            // A bug or a failure of a dependency; never the caller's fault.
  kCancelled,           // Stopped on request (a cancelled job).
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. Accessing value() of an error is a
// programmer error (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design.
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design.
    assert(!status_.ok() && "Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vigil

// Returns early from the enclosing function when `expr` is a non-OK Status.
#define VIGIL_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::vigil::Status vigil_status_ = (expr);    \
    if (!vigil_status_.ok()) return vigil_status_; \
  } while (0)

#endif  // VIGIL_COMMON_STATUS_H_
