// Result<T>: a value or a positive errno. Errors inside the core are values, never exceptions.
//
// A Result is either ok (holds a T) or failed (holds an errno in 1..4095). Reading the value of a
// failed Result, or the error of an ok one, is a bug and aborts. Result<void> (alias Status)
// carries only the errno.
#pragma once

#include <cerrno>
#include <optional>
#include <utility>

#include "base/check.h"

namespace zsfs {

// Wraps a positive errno so that `return Errno{ENOSPC};` reads as what it is.
struct Errno {
  int code;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Errno e) : error_(e.code) {             // NOLINT(google-explicit-constructor)
    ZSFS_CHECK(e.code > 0);
  }

  bool ok() const { return value_.has_value(); }
  int error() const {
    ZSFS_CHECK(!ok());
    return error_;
  }

  T& value() & {
    ZSFS_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    ZSFS_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    ZSFS_CHECK(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  int error_ = 0;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno e) : error_(e.code) {  // NOLINT(google-explicit-constructor)
    ZSFS_CHECK(e.code > 0);
  }

  bool ok() const { return error_ == 0; }
  int error() const {
    ZSFS_CHECK(!ok());
    return error_;
  }

 private:
  int error_ = 0;
};

using Status = Result<void>;

inline Status ok_status() {
  return {};
}

}  // namespace zsfs

// Evaluates a Result/Status expression and returns its errno from the enclosing function (whose
// return type must be constructible from Errno) when it failed.
#define ZSFS_TRY_STATUS(expr)                         \
  do {                                                \
    auto zsfs_try_status_ = (expr);                   \
    if (!zsfs_try_status_.ok()) {                     \
      return ::zsfs::Errno{zsfs_try_status_.error()}; \
    }                                                 \
  } while (0)
