// Muzzle's one error type. A Status carries a message a person can act on: what was wrong,
// where (file:line, field path, interface) and, where it helps, what to do. Result<T> is a
// value or a Status. Neither throws; both are cheap to move.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace muzzle {

class Status {
 public:
  Status() = default;  // OK
  static Status error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

  // Prepends context ("loading policy.yaml: ") to the message of a failed status.
  Status withContext(const std::string& context) const {
    return ok() ? *this : Status(context + message_);
  }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
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
