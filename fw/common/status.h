// Muzzle's one error type. A Status carries a message a person can act on: what was wrong,
// where (file:line, field path, interface) and, where it helps, what to do, and a code saying
// what kind of failure it is (the management plane maps codes to gRPC status codes in one
// place, mgmt/server/convert.cc). Result<T> is a value or a Status. Neither throws; both are
// cheap to move.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace muzzle {

// Kinds of failure, named after the gRPC codes they map to.
enum class StatusCode {
  kOk,
  kUnknown,             // default for errors that did not say (I/O, kernel, internal)
  kInvalidArgument,     // bad input: a policy, a config, a request field
  kNotFound,
  kAborted,             // a concurrent change won (stale expected revision)
  kFailedPrecondition,  // not now: e.g. another commit awaits confirmation
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kUnavailable,
};

class Status {
 public:
  Status() = default;  // OK
  static Status error(std::string message) { return Status(StatusCode::kUnknown, std::move(message)); }
  static Status error(StatusCode code, std::string message) {
    assert(code != StatusCode::kOk);
    return Status(code, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepends context ("loading policy.yaml: ") to the message of a failed status.
  Status withContext(const std::string& context) const {
    return ok() ? *this : Status(code_, context + message_);
  }
  // The same failure with another code (e.g. a policy compile error becomes kInvalidArgument
  // when it came from a request).
  Status withCode(StatusCode code) const { return ok() ? *this : Status(code, message_); }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace muzzle
