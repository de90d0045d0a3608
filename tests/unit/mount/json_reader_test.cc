// The strict JSON reader (nlohmann-json plus zsfs's rules) and the typed reads zsfsctl uses: what
// the daemon writes reads back exactly, and what RFC 8259 or zsfs forbids is refused with a
// message that says what and where.
#include "mount/json_reader.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

Json parse_ok(std::string_view text) {
  auto result = parse_json(text);
  EXPECT_TRUE(result.ok()) << text << ": " << (result.ok() ? "" : result.message());
  return result.ok() ? *result : Json();
}

std::string error_of(std::string_view text) {
  auto result = parse_json(text);
  return result.ok() ? "<parsed>" : result.message();
}

// The value of a one-member document {"v": text}.
Json member(std::string_view text) {
  return parse_ok("{\"v\":" + std::string(text) + "}");
}

TEST(JsonReader, Scalars) {
  EXPECT_TRUE(parse_ok("null").is_null());
  EXPECT_EQ(json_bool(member("true"), "v"), true);
  EXPECT_EQ(json_bool(member("false"), "v"), false);
  EXPECT_EQ(json_u64(member("0"), "v"), 0u);
  EXPECT_EQ(json_i64(member("-0"), "v"), 0);
  EXPECT_EQ(json_u64(member("42"), "v"), 42u);
  EXPECT_EQ(json_i64(member("-42"), "v"), -42);
  EXPECT_DOUBLE_EQ(*json_number(member("1.5e3"), "v"), 1500.0);
  EXPECT_DOUBLE_EQ(*json_number(member("-0.25"), "v"), -0.25);
  EXPECT_DOUBLE_EQ(*json_number(member("2E-2"), "v"), 0.02);
  EXPECT_DOUBLE_EQ(*json_number(member("7"), "v"), 7.0);  // an integer is a number too
  EXPECT_EQ(*json_string(member("\"hi\""), "v"), "hi");
  EXPECT_EQ(json_u64(parse_ok(" \t\r\n {\"v\": 7} \n"), "v"), 7u);
}

// Counters are 64-bit: they must read back to the last bit, which a double (53 bits) cannot.
TEST(JsonReader, CountersReadExactly) {
  EXPECT_EQ(json_u64(member("18446744073709551615"), "v"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(json_u64(member("18446744073709551616"), "v"), std::nullopt);   // does not fit
  EXPECT_EQ(json_u64(member("9007199254740993"), "v"), 9007199254740993u);  // 2^53 + 1
  EXPECT_EQ(json_i64(member("-9223372036854775808"), "v"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(json_i64(member("9223372036854775807"), "v"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(json_i64(member("9223372036854775808"), "v"), std::nullopt);
  EXPECT_EQ(json_u64(member("-1"), "v"), std::nullopt);
  EXPECT_EQ(json_u64(member("1.0"), "v"), std::nullopt);
  EXPECT_EQ(json_i64(member("1e2"), "v"), std::nullopt);
  EXPECT_EQ(json_u64(member("\"5\""), "v"), std::nullopt);  // a string is not a number
  EXPECT_EQ(json_u64(member("5"), "w"), std::nullopt);      // no such member
  EXPECT_EQ(json_u64(parse_ok("[5]"), "v"), std::nullopt);  // not an object
  // Written and read back: the text is the same digits.
  const Json written = {{"max", std::numeric_limits<uint64_t>::max()}, {"odd", 9007199254740993u}};
  EXPECT_EQ(to_json_text(written), R"({"max":18446744073709551615,"odd":9007199254740993})");
  EXPECT_EQ(json_u64(parse_ok(to_json_text(written)), "odd"), 9007199254740993u);
}

TEST(JsonReader, Strings) {
  EXPECT_EQ(parse_ok(R"("a\"b\\c\/d\b\f\n\r\t")"), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse_ok(R"("\u0041\u00e9\u20ac")"), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parse_ok(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(parse_ok("\"caf\xc3\xa9\""), "caf\xc3\xa9");
  EXPECT_EQ(parse_ok(R"("\u0000")"), std::string(1, '\0'));
}

TEST(JsonReader, ContainersKeepDocumentOrder) {
  const Json v = parse_ok(R"({"z": [1, 2, {"b": null}], "c": {}, "d": [], "e": "x"})");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v.begin().key(), "z");
  const Json* z = json_member(v, "z");
  ASSERT_NE(z, nullptr);
  ASSERT_EQ(z->size(), 3u);
  EXPECT_TRUE(json_member(z->at(2), "b")->is_null());
  EXPECT_TRUE(json_member(v, "c")->empty());
  EXPECT_EQ(json_member(v, "missing"), nullptr);
  EXPECT_EQ(json_member(*z, "x"), nullptr);  // not an object
}

TEST(JsonReader, RejectsWhatRfc8259Rejects) {
  for (const char* bad :
       {"",           " ",     "nul",       "tru",       "True",        "NaN",  "Infinity", "-",
        "01",         "-01",   "+1",        ".5",        "1.",          "1e",   "1e+",      "0x10",
        "'a'",        "\"abc", "\"a\\x\"",  "\"\\u12\"", "\"\\uzzzz\"", "[1,]", "[,1]",     "[1 2]",
        "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{\"a\":}",  "{1:2}",       "[",    "]",        "{",
        "}",          "1 2",   "[] x",      "/* c */ 1", "1 // c"}) {
    EXPECT_NE(error_of(bad), "<parsed>") << "accepted: " << bad;
  }
}

TEST(JsonReader, RejectsBadStrings) {
  for (const char* bad :
       {"\"a\nb\"", "\"a\tb\"",                               // raw control characters
        "\"\\ud83d\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"",  // high surrogate alone
        "\"\\ude00\"",                                        // low surrogate alone
        "\"\xff\"", "\"\xc0\x80\"", "\"\xe0\x80\x80\"",       // not UTF-8, overlong
        "\"\xed\xa0\x80\"",                                   // an encoded surrogate
        "\"\xf4\x90\x80\x80\"",                               // above U+10FFFF
        "\"\xe2\x82\""}) {                                    // truncated
    EXPECT_NE(error_of(bad).find("invalid JSON at byte "), std::string::npos) << bad;
  }
}

// nlohmann would keep the last of two values under one key; a document the daemon wrote never
// repeats one, so a repeat means something else wrote it.
TEST(JsonReader, RejectsDuplicateKeys) {
  EXPECT_EQ(error_of(R"({"a":1,"a":2})"), "invalid JSON: duplicate object key \"a\"");
  EXPECT_EQ(error_of(R"({"o":{"b":1,"c":{"b":2},"b":3}})"),
            "invalid JSON: duplicate object key \"b\"");
  // The same key in sibling objects is no repeat.
  EXPECT_EQ(json_u64(parse_ok(R"({"x":{"a":1},"y":{"a":2},"a":3})"), "a"), 3u);
}

TEST(JsonReader, MessagesSayWhatAndWhere) {
  const std::string trailing_comma = error_of("[1,]");
  EXPECT_EQ(trailing_comma.rfind("invalid JSON at byte 3: ", 0), 0u) << trailing_comma;
  EXPECT_NE(trailing_comma.find("unexpected ']'"), std::string::npos) << trailing_comma;
  const std::string after = error_of("{} x");
  EXPECT_EQ(after.rfind("invalid JSON at byte 3: ", 0), 0u) << after;
  EXPECT_NE(after.find("expected end of input"), std::string::npos) << after;
}

TEST(JsonReader, NestingIsBounded) {
  const std::string ok_depth = std::string(kJsonMaxDepth, '[') + std::string(kJsonMaxDepth, ']');
  EXPECT_TRUE(parse_json(ok_depth).ok());
  const std::string too_deep =
      std::string(kJsonMaxDepth + 1, '[') + std::string(kJsonMaxDepth + 1, ']');
  EXPECT_EQ(error_of(too_deep), "invalid JSON: nested deeper than 128 levels");
  std::string objects;
  for (int i = 0; i <= kJsonMaxDepth; ++i)
    objects += "{\"a\":";
  EXPECT_EQ(error_of(objects + "1" + std::string(kJsonMaxDepth + 1, '}')),
            "invalid JSON: nested deeper than 128 levels");
  // A megabyte of '[' is refused at the bound, not followed down.
  EXPECT_EQ(error_of(std::string(1 << 20, '[')), "invalid JSON: nested deeper than 128 levels");
}

TEST(JsonReader, RoundTrip) {
  const std::string text =
      R"({"s":"a\"b\\c\n\u0001","n":[0,-1,1.5e-07,18446744073709551615],"t":true,"f":false,"z":null,"o":{}})";
  const Json v = parse_ok(text);
  EXPECT_EQ(to_json_text(v), text);
  EXPECT_EQ(to_json_text(parse_ok(to_json_text(v))), text);
}

// A file name is bytes: one that is not UTF-8 still gives a document (its bad bytes replaced),
// never an exception in the middle of a report.
TEST(JsonReader, WritingBadUtf8ReplacesIt) {
  const std::string text = to_json_text(Json{{"path", "/m/caf\xe9"}});
  EXPECT_EQ(text, "{\"path\":\"/m/caf\xef\xbf\xbd\"}");
  EXPECT_TRUE(parse_json(text).ok());
}

}  // namespace
}  // namespace zsfs::mount
