// Strict reading of the JSON the daemon writes (base/json.h), for zsfsctl and the tests, with
// nlohmann-json doing the parsing.
//
// Strict: one value with optional whitespace around it; no comments, trailing commas, single
// quotes, leading zeros, leading '+', NaN or Infinity; strings must be valid UTF-8 with no raw
// control characters, and \u escapes must pair surrogates correctly (all of this is nlohmann's
// own RFC 8259 grammar). On top of it: an object may not repeat a key (nlohmann would keep the
// last), and nesting is limited (kJsonMaxDepth). Non-negative integers read back as exact
// unsigned 64-bit values (a double holds only 53 bits); one beyond 2^64-1 becomes a double,
// which json_u64 refuses.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/json.h"
#include "mount/expected.h"

namespace zsfs::mount {

// Deepest nesting of arrays and objects accepted.
inline constexpr int kJsonMaxDepth = 128;

// Parses a whole document. The message says what was wrong and where.
Expected<Json> parse_json(std::string_view text);

// Typed reads of an object's member: nothing when json is not an object, has no such member, or
// the member has another type (or, for integers, does not fit).
const Json* json_member(const Json& json, std::string_view key);
std::optional<uint64_t> json_u64(const Json& json, std::string_view key);   // no fraction, >= 0
std::optional<int64_t> json_i64(const Json& json, std::string_view key);    // no fraction
std::optional<double> json_number(const Json& json, std::string_view key);  // any number
std::optional<bool> json_bool(const Json& json, std::string_view key);
const std::string* json_string(const Json& json, std::string_view key);

}  // namespace zsfs::mount
