// JsonWriter: a minimal streaming JSON writer for the statistics that scripts parse.
//
// Produces compact, valid JSON (RFC 8259): strings are escaped, non-finite doubles become null.
// Keys and values must alternate correctly inside objects; a misuse is a bug and aborts.
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"

namespace zsfs {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{', true); }
  JsonWriter& end_object() { return close('}', true); }
  JsonWriter& begin_array() { return open('[', false); }
  JsonWriter& end_array() { return close(']', false); }

  JsonWriter& key(std::string_view k) {
    ZSFS_CHECK(!stack_.empty() && stack_.back().is_object && !stack_.back().expect_value);
    separate();
    append_string(k);
    out_ += ':';
    stack_.back().expect_value = true;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    before_value();
    append_string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) {
    before_value();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& value(uint64_t v) {
    before_value();
    char buf[24];
    std::snprintf(buf, sizeof buf, "%" PRIu64, v);
    out_ += buf;
    return *this;
  }
  JsonWriter& value(int64_t v) {
    before_value();
    char buf[24];
    std::snprintf(buf, sizeof buf, "%" PRId64, v);
    out_ += buf;
    return *this;
  }
  JsonWriter& value(uint32_t v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(double v) {
    before_value();
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
  }

  template <class T>
  JsonWriter& field(std::string_view k, T v) {
    key(k);
    return value(v);
  }

  // The finished document. All objects and arrays must be closed.
  const std::string& str() const {
    ZSFS_CHECK(stack_.empty());
    return out_;
  }

 private:
  struct Level {
    bool is_object;
    bool expect_value = false;
    bool has_items = false;
  };

  JsonWriter& open(char c, bool is_object) {
    before_value();
    out_ += c;
    stack_.push_back(Level{is_object});
    return *this;
  }
  JsonWriter& close(char c, bool is_object) {
    ZSFS_CHECK(!stack_.empty() && stack_.back().is_object == is_object &&
               !stack_.back().expect_value);
    stack_.pop_back();
    out_ += c;
    return *this;
  }
  void separate() {
    if (stack_.back().has_items) out_ += ',';
    stack_.back().has_items = true;
  }
  void before_value() {
    if (stack_.empty()) {
      ZSFS_CHECK_MSG(out_.empty(), "a JSON document has one top-level value");
      return;
    }
    Level& level = stack_.back();
    if (level.is_object) {
      ZSFS_CHECK_MSG(level.expect_value, "JSON object value without a key");
      level.expect_value = false;
    } else {
      separate();
    }
  }
  void append_string(std::string_view s) {
    out_ += '"';
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += ch;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<Level> stack_;
};

}  // namespace zsfs
