// A small, strict JSON reader (RFC 8259) for zsfsctl, which reads the statistics the core writes
// with base/json.h's JsonWriter.
//
// Strict: one value with optional whitespace around it; no comments, trailing commas, single
// quotes, leading zeros, leading '+', NaN or Infinity; strings must be valid UTF-8 with no raw
// control characters, and \u escapes must pair surrogates correctly; an object may not repeat a
// key. Nesting is limited (kMaxDepth) so hostile input cannot exhaust the stack. Numbers keep
// their text, so 64-bit counters read back exactly (a double holds only 53 bits).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mount/expected.h"

namespace zsfs::mount {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<JsonValue>;
  using Object = std::vector<std::pair<std::string, JsonValue>>;  // in document order

  JsonValue() = default;
  static JsonValue null() { return JsonValue(); }
  static JsonValue boolean(bool b);
  static JsonValue number(std::string text);  // text must be a valid JSON number
  static JsonValue string(std::string s);
  static JsonValue array(Array items);
  static JsonValue object(Object members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Typed access; nothing when the value has another type (or, for numbers, does not fit).
  std::optional<bool> as_bool() const;
  std::optional<uint64_t> as_u64() const;  // integers only: no fraction or exponent
  std::optional<int64_t> as_i64() const;
  std::optional<double> as_double() const;
  const std::string* as_string() const;
  const Array* as_array() const;
  const Object* as_object() const;
  // The number as written in the document.
  const std::string& number_text() const { return text_; }

  // The member called key, if this is an object that has one.
  const JsonValue* find(std::string_view key) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;                    // string contents, or a number's text
  std::shared_ptr<const Array> array_;  // immutable once built, so copies may share
  std::shared_ptr<const Object> object_;
};

// Deepest nesting of arrays and objects accepted.
inline constexpr int kJsonMaxDepth = 128;

// Parses a whole document. The message says what was expected and at which byte offset.
Expected<JsonValue> parse_json(std::string_view text);

// Compact JSON text for value; numbers are written as they were read.
std::string to_json_text(const JsonValue& value);

}  // namespace zsfs::mount
