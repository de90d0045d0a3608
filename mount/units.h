// Numbers people type and read: sizes with binary suffixes, counts, octal modes, user and group
// ids, on/off switches; and the reverse, sizes and ratios formatted for tables.
//
// Parsers are strict: the whole text must match, nothing is silently clamped or truncated, and a
// failure names the text and what would have been accepted. Messages name the option as
// "key=value" so they can be shown as they are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mount/expected.h"

namespace zsfs::mount {

// "key=value", as the messages show a bad option.
std::string option_text(std::string_view key, std::string_view value);

// A byte count: decimal digits with an optional binary suffix k, m, g or t (case-insensitive;
// 1k = 1024), or a whole percentage "N%" of total_ram_bytes (1..100). Overflow is an error.
Expected<uint64_t> parse_size(std::string_view key, std::string_view text,
                              uint64_t total_ram_bytes);

// A count: decimal digits with an optional binary suffix k, m or g (case-insensitive).
Expected<uint64_t> parse_count(std::string_view key, std::string_view text);

// Permission bits in octal, 0..07777.
Expected<uint32_t> parse_mode(std::string_view key, std::string_view text);

// A user or group id: a decimal number below 2^32-1 ((uid_t)-1 means "no change" to the kernel),
// or the name of a user (for uid) or group (for gid) known to this system.
enum class IdKind { kUser, kGroup };
Expected<uint32_t> parse_id(std::string_view key, std::string_view text, IdKind kind);

// A decimal integer in [min, max] (a leading '-' allowed when min < 0).
Expected<int64_t> parse_int_in_range(std::string_view key, std::string_view text, int64_t min,
                                     int64_t max);

// A duration in whole seconds: decimal digits with an optional suffix s, m, h or d
// (case-insensitive; no suffix means seconds), at most max_seconds.
Expected<uint64_t> parse_seconds(std::string_view key, std::string_view text, uint64_t max_seconds);

// on|off (also yes/no, true/false, 1/0, as mount options often are).
Expected<bool> parse_switch(std::string_view key, std::string_view text);

// 1536 -> "1.50 KiB"; three significant digits from KiB on, exact bytes below.
std::string format_bytes(uint64_t bytes);
// 0.256 -> "25.6%"
std::string format_percent(double fraction);
// 1234567 -> "1,234,567"
std::string format_count(uint64_t count);

}  // namespace zsfs::mount
