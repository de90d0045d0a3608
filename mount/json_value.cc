// JsonValue's accessors and compact JSON text output. See json_parser.h.
#include <cstdlib>
#include <limits>

#include "mount/json_parser.h"

namespace zsfs::mount {

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::number(std::string text) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(text);
  return v;
}

JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::array(Array items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.array_ = std::make_shared<const Array>(std::move(items));
  return v;
}

JsonValue JsonValue::object(Object members) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.object_ = std::make_shared<const Object>(std::move(members));
  return v;
}

std::optional<bool> JsonValue::as_bool() const {
  if (type_ != Type::kBool) return std::nullopt;
  return bool_;
}

std::optional<uint64_t> JsonValue::as_u64() const {
  if (type_ != Type::kNumber || text_.empty() || text_[0] == '-') return std::nullopt;
  if (text_.find_first_of(".eE") != std::string::npos) return std::nullopt;
  uint64_t value = 0;
  for (char c : text_) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<int64_t> JsonValue::as_i64() const {
  if (type_ != Type::kNumber || text_.find_first_of(".eE") != std::string::npos) {
    return std::nullopt;
  }
  const bool negative = text_[0] == '-';
  uint64_t magnitude = 0;
  for (size_t i = negative ? 1 : 0; i < text_.size(); ++i) {
    const auto digit = static_cast<uint64_t>(text_[i] - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!negative) {
    if (magnitude > max) return std::nullopt;
    return static_cast<int64_t>(magnitude);
  }
  if (magnitude > max + 1) return std::nullopt;
  if (magnitude == max + 1) return std::numeric_limits<int64_t>::min();
  return -static_cast<int64_t>(magnitude);
}

std::optional<double> JsonValue::as_double() const {
  if (type_ != Type::kNumber) return std::nullopt;
  // strtod reads JSON's number grammar (a subset of its own); out-of-range values become
  // +-HUGE_VAL or 0, which is what a reader of statistics wants.
  return std::strtod(text_.c_str(), nullptr);
}

const std::string* JsonValue::as_string() const {
  return type_ == Type::kString ? &text_ : nullptr;
}

const JsonValue::Array* JsonValue::as_array() const {
  return type_ == Type::kArray ? array_.get() : nullptr;
}

const JsonValue::Object* JsonValue::as_object() const {
  return type_ == Type::kObject ? object_.get() : nullptr;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [name, value] : *object_) {
    if (name == key) return &value;
  }
  return nullptr;
}

namespace {

void append_json_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json(const JsonValue& value, std::string& out) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      out += "null";
      return;
    case JsonValue::Type::kBool:
      out += *value.as_bool() ? "true" : "false";
      return;
    case JsonValue::Type::kNumber:
      out += value.number_text();
      return;
    case JsonValue::Type::kString:
      append_json_string(*value.as_string(), out);
      return;
    case JsonValue::Type::kArray: {
      const JsonValue::Array* items = value.as_array();
      if (items == nullptr) return;  // cannot happen: the type says array
      out += '[';
      bool first = true;
      for (const JsonValue& item : *items) {
        if (!first) out += ',';
        first = false;
        append_json(item, out);
      }
      out += ']';
      return;
    }
    case JsonValue::Type::kObject: {
      const JsonValue::Object* members = value.as_object();
      if (members == nullptr) return;  // cannot happen: the type says object
      out += '{';
      bool first = true;
      for (const auto& [key, member] : *members) {
        if (!first) out += ',';
        first = false;
        append_json_string(key, out);
        out += ':';
        append_json(member, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string to_json_text(const JsonValue& value) {
  std::string out;
  append_json(value, out);
  return out;
}

}  // namespace zsfs::mount
