#include "mount/json_parser.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

JsonValue parse_ok(std::string_view text) {
  auto result = parse_json(text);
  EXPECT_TRUE(result.ok()) << text << ": " << (result.ok() ? "" : result.message());
  return result.ok() ? *result : JsonValue();
}

std::string error_of(std::string_view text) {
  auto result = parse_json(text);
  return result.ok() ? "<parsed>" : result.message();
}

TEST(JsonParser, Scalars) {
  EXPECT_TRUE(parse_ok("null").is_null());
  EXPECT_EQ(parse_ok("true").as_bool(), true);
  EXPECT_EQ(parse_ok("false").as_bool(), false);
  EXPECT_EQ(parse_ok("0").as_u64(), 0u);
  EXPECT_EQ(parse_ok("-0").as_i64(), 0);
  EXPECT_EQ(parse_ok("42").as_u64(), 42u);
  EXPECT_EQ(parse_ok("-42").as_i64(), -42);
  EXPECT_DOUBLE_EQ(*parse_ok("1.5e3").as_double(), 1500.0);
  EXPECT_DOUBLE_EQ(*parse_ok("-0.25").as_double(), -0.25);
  EXPECT_DOUBLE_EQ(*parse_ok("2E-2").as_double(), 0.02);
  EXPECT_EQ(*parse_ok("\"hi\"").as_string(), "hi");
  EXPECT_EQ(*parse_ok(" \t\r\n 7 \n").as_u64(), 7u);
}

TEST(JsonParser, NumbersReadExactly) {
  EXPECT_EQ(parse_ok("18446744073709551615").as_u64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_ok("18446744073709551616").as_u64(), std::nullopt);   // does not fit
  EXPECT_EQ(parse_ok("9007199254740993").as_u64(), 9007199254740993u);  // beyond a double's 53 bits
  EXPECT_EQ(parse_ok("-9223372036854775808").as_i64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(parse_ok("-9223372036854775809").as_i64(), std::nullopt);
  EXPECT_EQ(parse_ok("9223372036854775807").as_i64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_ok("-1").as_u64(), std::nullopt);
  EXPECT_EQ(parse_ok("1.0").as_u64(), std::nullopt);
  EXPECT_EQ(parse_ok("1e2").as_i64(), std::nullopt);
  EXPECT_EQ(parse_ok("123.456").number_text(), "123.456");
  EXPECT_EQ(parse_ok("\"5\"").as_u64(), std::nullopt);  // a string is not a number
}

TEST(JsonParser, Strings) {
  EXPECT_EQ(*parse_ok(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(*parse_ok(R"("\u0041\u00e9\u20ac")").as_string(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(*parse_ok(R"("\ud83d\ude00")").as_string(), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(*parse_ok("\"caf\xc3\xa9\"").as_string(), "caf\xc3\xa9");
  EXPECT_EQ(*parse_ok(R"("\u0000")").as_string(), std::string(1, '\0'));
}

TEST(JsonParser, Containers) {
  const JsonValue v = parse_ok(R"({"a": [1, 2, {"b": null}], "c": {}, "d": [], "e": "x"})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.as_object()->size(), 4u);
  EXPECT_EQ(v.as_object()->at(0).first, "a");  // document order
  const JsonValue* a = v.find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->as_array()->size(), 3u);
  EXPECT_EQ(a->as_array()->at(1).as_u64(), 2u);
  EXPECT_TRUE(a->as_array()->at(2).find("b")->is_null());
  EXPECT_TRUE(v.find("c")->as_object()->empty());
  EXPECT_TRUE(v.find("d")->as_array()->empty());
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(a->find("x"), nullptr);  // not an object
}

TEST(JsonParser, RejectsWhatRfc8259Rejects) {
  for (const char* bad :
       {"",           " ",     "nul",       "tru",       "True",        "NaN",  "Infinity", "-",
        "01",         "-01",   "+1",        ".5",        "1.",          "1e",   "1e+",      "0x10",
        "'a'",        "\"abc", "\"a\\x\"",  "\"\\u12\"", "\"\\uzzzz\"", "[1,]", "[,1]",     "[1 2]",
        "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{\"a\":}",  "{1:2}",       "[",    "]",        "{",
        "}",          "1 2",   "[] x",      "/* c */ 1", "1 // c"}) {
    EXPECT_NE(error_of(bad), "<parsed>") << "accepted: " << bad;
  }
}

TEST(JsonParser, RejectsBadStrings) {
  EXPECT_NE(error_of("\"a\nb\"").find("control character"), std::string::npos);
  EXPECT_NE(error_of("\"a\tb\"").find("control character"), std::string::npos);
  EXPECT_NE(error_of("\"\\ud83d\"").find("high surrogate"), std::string::npos);
  EXPECT_NE(error_of("\"\\ud83dx\"").find("high surrogate"), std::string::npos);
  EXPECT_NE(error_of("\"\\ud83d\\u0041\"").find("high surrogate"), std::string::npos);
  EXPECT_NE(error_of("\"\\ude00\"").find("low surrogate"), std::string::npos);
  EXPECT_NE(error_of("\"\xff\"").find("UTF-8"), std::string::npos);
  EXPECT_NE(error_of("\"\xc0\x80\"").find("UTF-8"), std::string::npos);          // overlong
  EXPECT_NE(error_of("\"\xe0\x80\x80\"").find("UTF-8"), std::string::npos);      // overlong
  EXPECT_NE(error_of("\"\xed\xa0\x80\"").find("UTF-8"), std::string::npos);      // surrogate
  EXPECT_NE(error_of("\"\xf4\x90\x80\x80\"").find("UTF-8"), std::string::npos);  // > U+10FFFF
  EXPECT_NE(error_of("\"\xe2\x82\"").find("UTF-8"), std::string::npos);          // truncated
}

TEST(JsonParser, RejectsDuplicateKeys) {
  EXPECT_EQ(error_of(R"({"a":1,"a":2})"), "invalid JSON at byte 7: duplicate object key \"a\"");
}

TEST(JsonParser, MessagesGiveTheOffset) {
  EXPECT_EQ(error_of("[1,]"),
            "invalid JSON at byte 3: expected a value (object, array, string, number, true, "
            "false or null)");
  EXPECT_EQ(error_of("{} x"), "invalid JSON at byte 3: unexpected text after the JSON value");
  EXPECT_EQ(error_of("01"), "invalid JSON at byte 1: leading zero in number");
}

TEST(JsonParser, NestingIsBounded) {
  const std::string ok_depth = std::string(kJsonMaxDepth, '[') + std::string(kJsonMaxDepth, ']');
  EXPECT_TRUE(parse_json(ok_depth).ok());
  const std::string too_deep =
      std::string(kJsonMaxDepth + 1, '[') + std::string(kJsonMaxDepth + 1, ']');
  EXPECT_NE(error_of(too_deep).find("nested too deeply"), std::string::npos);
  // Deep enough to overflow a stack without the bound.
  EXPECT_NE(error_of(std::string(1 << 20, '[')).find("nested too deeply"), std::string::npos);
}

TEST(JsonParser, RoundTrip) {
  const std::string text =
      R"({"s":"a\"b\\c\n\u0001","n":[0,-1,1.5e-7,18446744073709551615],"t":true,"f":false,"z":null,"o":{}})";
  const JsonValue v = parse_ok(text);
  EXPECT_EQ(to_json_text(v), text);
  EXPECT_EQ(to_json_text(parse_ok(to_json_text(v))), text);
}

TEST(JsonParser, ValuesAreCopyable) {
  JsonValue copy;
  {
    const JsonValue original = parse_ok(R"({"a":[1,2,3]})");
    copy = original;
  }
  EXPECT_EQ(copy.find("a")->as_array()->size(), 3u);
}

}  // namespace
}  // namespace zsfs::mount
