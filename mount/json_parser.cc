#include "mount/json_parser.h"

#include <unordered_set>

namespace zsfs::mount {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Expected<JsonValue> document() {
    skip_whitespace();
    JsonValue root;
    if (!value(root, 0)) return Unexpected{error_};
    skip_whitespace();
    if (pos_ != text_.size()) {
      fail("unexpected text after the JSON value");
      return Unexpected{error_};
    }
    return root;
  }

 private:
  bool fail(std::string_view what) {
    if (error_.empty()) {
      error_ = "invalid JSON at byte " + std::to_string(pos_) + ": " + std::string(what);
    }
    return false;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return fail("expected a value (object, array, string, number, true, false or null)");
    }
    pos_ += word.size();
    return true;
  }

  bool value(JsonValue& out, int depth) {
    if (at_end()) return fail("unexpected end of input; expected a value");
    switch (peek()) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = JsonValue::string(std::move(s));
        return true;
      }
      case 't':
        out = JsonValue::boolean(true);
        return literal("true");
      case 'f':
        out = JsonValue::boolean(false);
        return literal("false");
      case 'n':
        out = JsonValue::null();
        return literal("null");
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number(out);
        return fail("expected a value (object, array, string, number, true, false or null)");
    }
  }

  bool object(JsonValue& out, int depth) {
    if (depth > kJsonMaxDepth) return fail("nested too deeply");
    ++pos_;  // '{'
    JsonValue::Object members;
    std::unordered_set<std::string> keys;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      out = JsonValue::object(std::move(members));
      return true;
    }
    for (;;) {
      skip_whitespace();
      if (at_end() || peek() != '"') return fail("expected a string as object key");
      const size_t key_pos = pos_;
      std::string key;
      if (!string(key)) return false;
      if (!keys.insert(key).second) {
        pos_ = key_pos;
        return fail("duplicate object key \"" + key + "\"");
      }
      skip_whitespace();
      if (at_end() || peek() != ':') return fail("expected ':' after object key");
      ++pos_;
      skip_whitespace();
      JsonValue member;
      if (!value(member, depth)) return false;
      members.emplace_back(std::move(key), std::move(member));
      skip_whitespace();
      if (at_end()) return fail("unexpected end of input in object; expected ',' or '}'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        out = JsonValue::object(std::move(members));
        return true;
      }
      return fail("expected ',' or '}' in object");
    }
  }

  bool array(JsonValue& out, int depth) {
    if (depth > kJsonMaxDepth) return fail("nested too deeply");
    ++pos_;  // '['
    JsonValue::Array items;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      out = JsonValue::array(std::move(items));
      return true;
    }
    for (;;) {
      skip_whitespace();
      JsonValue item;
      if (!value(item, depth)) return false;
      items.push_back(std::move(item));
      skip_whitespace();
      if (at_end()) return fail("unexpected end of input in array; expected ',' or ']'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        out = JsonValue::array(std::move(items));
        return true;
      }
      return fail("expected ',' or ']' in array");
    }
  }

  bool digits() {
    const size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9')
      ++pos_;
    return pos_ > start;
  }

  bool number(JsonValue& out) {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (at_end()) return fail("expected digits after '-'");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') return fail("leading zero in number");
    } else if (!digits()) {
      return fail("expected digits in number");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits()) return fail("expected digits after decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return fail("expected digits in exponent");
    }
    out = JsonValue::number(std::string(text_.substr(start, pos_ - start)));
    return true;
  }

  bool hex4(uint32_t& out) {
    if (text_.size() - pos_ < 4) return fail("expected four hex digits after \\u");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      uint32_t digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        --pos_;
        return fail("expected a hex digit in \\u escape");
      }
      out = out * 16 + digit;
    }
    return true;
  }

  static void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool escape(std::string& out) {
    ++pos_;  // '\\'
    if (at_end()) return fail("unexpected end of input in string escape");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        --pos_;
        return fail("invalid escape in string");
    }
    uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") return fail("high surrogate without a low surrogate");
      pos_ += 2;
      uint32_t low = 0;
      if (!hex4(low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return fail("high surrogate without a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(cp, out);
    return true;
  }

  // Copies one UTF-8 encoded character, checking it is well formed (no overlong forms, no
  // surrogates, nothing above U+10FFFF).
  bool utf8(std::string& out) {
    const auto lead = static_cast<unsigned char>(peek());
    size_t length = 0;
    uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      cp = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      cp = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      cp = lead & 0x07u;
    } else {
      return fail("invalid UTF-8 in string");
    }
    if (text_.size() - pos_ < length) return fail("truncated UTF-8 sequence in string");
    for (size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80) return fail("invalid UTF-8 in string");
      cp = (cp << 6) | (next & 0x3Fu);
    }
    const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return fail("invalid UTF-8 in string");
    }
    out.append(text_.substr(pos_, length));
    pos_ += length;
    return true;
  }

  bool string(std::string& out) {
    ++pos_;  // '"'
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x20) {
        return fail("control character in string (must be escaped)");
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
      } else if (!utf8(out)) {
        return false;
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Expected<JsonValue> parse_json(std::string_view text) {
  return Parser(text).document();
}

}  // namespace zsfs::mount
