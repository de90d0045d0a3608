#include "mount/units.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

constexpr uint64_t kRam = 8ull << 30;

// The message of a failed parse, or a marker when it unexpectedly succeeded.
template <class T>
std::string message_of(const Expected<T>& result) {
  return result.ok() ? std::string("<parsed>") : result.message();
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(*parse_size("size", "0", kRam), 0u);
  EXPECT_EQ(*parse_size("size", "4096", kRam), 4096u);
  EXPECT_EQ(*parse_size("size", "18446744073709551615", kRam), UINT64_MAX);
}

TEST(ParseSize, BinarySuffixesAnyCase) {
  EXPECT_EQ(*parse_size("size", "1k", kRam), 1024u);
  EXPECT_EQ(*parse_size("size", "1K", kRam), 1024u);
  EXPECT_EQ(*parse_size("size", "2m", kRam), 2u << 20);
  EXPECT_EQ(*parse_size("size", "2M", kRam), 2u << 20);
  EXPECT_EQ(*parse_size("size", "3g", kRam), 3ull << 30);
  EXPECT_EQ(*parse_size("size", "3G", kRam), 3ull << 30);
  EXPECT_EQ(*parse_size("size", "1t", kRam), 1ull << 40);
  EXPECT_EQ(*parse_size("size", "1T", kRam), 1ull << 40);
}

TEST(ParseSize, PercentOfRam) {
  EXPECT_EQ(*parse_size("size", "50%", kRam), kRam / 2);
  EXPECT_EQ(*parse_size("size", "100%", kRam), kRam);
  EXPECT_EQ(*parse_size("size", "1%", 1000), 10u);
  EXPECT_EQ(*parse_size("size", "33%", 1001), 330u);  // rounds down
}

TEST(ParseSize, RejectsBadText) {
  EXPECT_EQ(message_of(parse_size("size", "2X", kRam)),
            "size=2X: unknown suffix 'X'; expected a number of bytes with an optional k, m, g or "
            "t suffix (binary: 1k = 1024), or a percentage of RAM such as 50%");
  EXPECT_NE(message_of(parse_size("size", "", kRam)).find("size=: not a number"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "k", kRam)).find("not a number"), std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "-1", kRam)).find("not a number"), std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "1.5G", kRam)).find("unknown suffix '.5G'"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "12kb", kRam)).find("unknown suffix 'kb'"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "1p", kRam)).find("unknown suffix 'p'"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", " 1", kRam)).find("not a number"), std::string::npos);
}

TEST(ParseSize, RejectsOverflow) {
  EXPECT_EQ(message_of(parse_size("size", "18446744073709551616", kRam)),
            "size=18446744073709551616: number too large");
  EXPECT_EQ(message_of(parse_size("size", "16777216t", kRam)), "size=16777216t: number too large");
  EXPECT_EQ(*parse_size("size", "16777215t", kRam), 16777215ull << 40);
}

TEST(ParseSize, RejectsBadPercentages) {
  EXPECT_EQ(message_of(parse_size("size", "0%", kRam)),
            "size=0%: percentage of RAM must be 1% to 100%");
  EXPECT_EQ(message_of(parse_size("size", "101%", kRam)),
            "size=101%: percentage of RAM must be 1% to 100%");
  EXPECT_NE(message_of(parse_size("size", "12.5%", kRam)).find("not a whole percentage"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "%", kRam)).find("not a whole percentage"),
            std::string::npos);
  EXPECT_NE(message_of(parse_size("size", "1k%", kRam)).find("not a whole percentage"),
            std::string::npos);
}

TEST(ParseCount, Suffixes) {
  EXPECT_EQ(*parse_count("nr_inodes", "10"), 10u);
  EXPECT_EQ(*parse_count("nr_inodes", "1k"), 1024u);
  EXPECT_EQ(*parse_count("nr_inodes", "1M"), 1u << 20);
  EXPECT_EQ(*parse_count("nr_inodes", "2g"), 2ull << 30);
  EXPECT_EQ(message_of(parse_count("nr_inodes", "1t")),
            "nr_inodes=1t: unknown suffix 't'; expected a number with an optional k, m or g "
            "suffix (binary: 1k = 1024)");
  EXPECT_NE(message_of(parse_count("nr_inodes", "50%")).find("unknown suffix '%'"),
            std::string::npos);
}

TEST(ParseMode, Octal) {
  EXPECT_EQ(*parse_mode("mode", "1777"), 01777u);
  EXPECT_EQ(*parse_mode("mode", "0755"), 0755u);
  EXPECT_EQ(*parse_mode("mode", "0"), 0u);
  EXPECT_EQ(*parse_mode("mode", "7777"), 07777u);
  EXPECT_EQ(*parse_mode("mode", "000000755"), 0755u);
}

TEST(ParseMode, RejectsBadModes) {
  EXPECT_EQ(message_of(parse_mode("mode", "10000")),
            "mode=10000: too large; expected octal permission bits 0 to 7777, such as 1777");
  EXPECT_EQ(message_of(parse_mode("mode", "8")),
            "mode=8: not an octal number; expected octal permission bits 0 to 7777, such as 1777");
  EXPECT_NE(message_of(parse_mode("mode", "")).find("mode=: expected octal"), std::string::npos);
  EXPECT_NE(message_of(parse_mode("mode", "u+rwx")).find("not an octal number"), std::string::npos);
  EXPECT_NE(message_of(parse_mode("mode", "-1")).find("not an octal number"), std::string::npos);
}

TEST(ParseId, NumbersAndNames) {
  EXPECT_EQ(*parse_id("uid", "0", IdKind::kUser), 0u);
  EXPECT_EQ(*parse_id("uid", "1000", IdKind::kUser), 1000u);
  EXPECT_EQ(*parse_id("uid", "4294967294", IdKind::kUser), 4294967294u);
  EXPECT_EQ(*parse_id("uid", "root", IdKind::kUser), 0u);
  EXPECT_EQ(*parse_id("gid", "root", IdKind::kGroup), 0u);
}

TEST(ParseId, RejectsBadIds) {
  EXPECT_EQ(message_of(parse_id("uid", "4294967295", IdKind::kUser)),
            "uid=4294967295: user id out of range; expected 0 to 4294967294");
  EXPECT_EQ(message_of(parse_id("gid", "99999999999", IdKind::kGroup)),
            "gid=99999999999: group id out of range; expected 0 to 4294967294");
  EXPECT_EQ(message_of(parse_id("uid", "no-such-user-zsfs", IdKind::kUser)),
            "uid=no-such-user-zsfs: no such user; expected a numeric user id or a user name");
  EXPECT_EQ(message_of(parse_id("gid", "no-such-group-zsfs", IdKind::kGroup)),
            "gid=no-such-group-zsfs: no such group; expected a numeric group id or a group name");
  EXPECT_NE(message_of(parse_id("uid", "", IdKind::kUser)).find("uid=: expected"),
            std::string::npos);
  EXPECT_NE(message_of(parse_id("uid", "-1", IdKind::kUser)).find("no such user"),
            std::string::npos);
}

TEST(ParseIntInRange, Bounds) {
  EXPECT_EQ(*parse_int_in_range("level", "3", -7, 22), 3);
  EXPECT_EQ(*parse_int_in_range("level", "-7", -7, 22), -7);
  EXPECT_EQ(*parse_int_in_range("level", "22", -7, 22), 22);
  EXPECT_EQ(message_of(parse_int_in_range("level", "23", -7, 22)),
            "level=23: out of range; expected -7 to 22");
  EXPECT_EQ(message_of(parse_int_in_range("level", "-8", -7, 22)),
            "level=-8: out of range; expected -7 to 22");
  EXPECT_EQ(message_of(parse_int_in_range("level", "3x", -7, 22)),
            "level=3x: not an integer; expected -7 to 22");
  EXPECT_NE(message_of(parse_int_in_range("level", "", -7, 22)).find("not an integer"),
            std::string::npos);
  EXPECT_NE(message_of(parse_int_in_range("level", "-", -7, 22)).find("not an integer"),
            std::string::npos);
  EXPECT_NE(message_of(parse_int_in_range("level", "+3", -7, 22)).find("not an integer"),
            std::string::npos);
  EXPECT_NE(message_of(parse_int_in_range("level", "99999999999999999999", -7, 22))
                .find("not an integer"),
            std::string::npos);
}

TEST(ParseSwitch, OnAndOff) {
  for (const char* on : {"on", "ON", "yes", "true", "1"})
    EXPECT_TRUE(*parse_switch("dedup", on));
  for (const char* off : {"off", "Off", "no", "false", "0"}) {
    EXPECT_FALSE(*parse_switch("dedup", off));
  }
  EXPECT_EQ(message_of(parse_switch("dedup", "maybe")), "dedup=maybe: expected on or off");
  EXPECT_EQ(message_of(parse_switch("writeback", "")), "writeback=: expected on or off");
}

TEST(FormatBytes, ThreeSignificantDigits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(10 * 1024), "10.0 KiB");
  EXPECT_EQ(format_bytes(100 * 1024), "100 KiB");
  EXPECT_EQ(format_bytes((1 << 20) - 1), "1.00 MiB");
  EXPECT_EQ(format_bytes(64ull << 20), "64.0 MiB");
  EXPECT_EQ(format_bytes(3ull << 30), "3.00 GiB");
  EXPECT_EQ(format_bytes(std::numeric_limits<uint64_t>::max()), "16.0 EiB");
}

TEST(FormatPercentAndCount, Render) {
  EXPECT_EQ(format_percent(0.256), "25.6%");
  EXPECT_EQ(format_percent(0), "0.0%");
  EXPECT_EQ(format_percent(1), "100.0%");
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(1000), "1,000");
  EXPECT_EQ(format_count(1234567), "1,234,567");
  EXPECT_EQ(format_count(123456), "123,456");
}

}  // namespace
}  // namespace zsfs::mount
