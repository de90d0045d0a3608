// Expected<T>: a value or a message for a person.
//
// The command line and zsfsctl report bad input as sentences that name the bad value and what is
// accepted ("size=2X: unknown suffix 'X'; use k, m, g or t ..."), not as errno values, so their
// parsers return Expected<T> rather than base/result.h's Result<T>. Reading the value of a failed
// Expected, or the message of an ok one, is a bug and aborts.
//
// Why not std::expected: libstdc++ 12 (Debian 12) offers <expected> only in C++23 mode, and even
// then not to clang 14 (the clang and fuzz presets), whose __cpp_concepts is below what the
// header asks for; the project builds as C++20 with both compilers. This class is the small
// part of it zsfs uses; when the toolchains allow, std::expected<T, std::string> replaces it
// call for call (ok() -> has_value(), message() -> error()).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "base/check.h"

namespace zsfs::mount {

// The failure side: `return Unexpected{"size=0: must be at least 1 MiB"};`
struct Unexpected {
  std::string message;
};

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Expected(Unexpected failure)                     // NOLINT(google-explicit-constructor)
      : message_(std::move(failure.message)) {}

  bool ok() const { return value_.has_value(); }
  const T& value() const& {
    ZSFS_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    ZSFS_CHECK(ok());
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const std::string& message() const {
    ZSFS_CHECK(!ok());
    return message_;
  }

 private:
  std::optional<T> value_;
  std::string message_;
};

// Success without a value.
struct Done {};
using Check = Expected<Done>;

}  // namespace zsfs::mount
