#include "mount/units.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <vector>

namespace zsfs::mount {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Parses the leading decimal digits of text into value; returns how many characters it used, or
// nothing on overflow or when there is no digit.
std::optional<size_t> parse_digits(std::string_view text, uint64_t& value) {
  size_t i = 0;
  value = 0;
  while (i < text.size() && is_digit(text[i])) {
    auto digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  return i;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Shift for a binary suffix among allowed ("kmgt"), or -1.
int suffix_shift(char c, std::string_view allowed) {
  const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (allowed.find(lower) == std::string_view::npos) return -1;
  switch (lower) {
    case 'k':
      return 10;
    case 'm':
      return 20;
    case 'g':
      return 30;
    case 't':
      return 40;
    default:
      return -1;
  }
}

Expected<uint64_t> parse_suffixed(std::string_view key, std::string_view text,
                                  std::string_view suffixes, std::string_view accepted) {
  uint64_t value = 0;
  auto used = parse_digits(text, value);
  if (!used) {
    if (!text.empty() && is_digit(text[0])) {
      return Unexpected{option_text(key, text) + ": number too large"};
    }
    return Unexpected{option_text(key, text) + ": not a number; expected " + std::string(accepted)};
  }
  std::string_view rest = text.substr(*used);
  if (rest.empty()) return value;
  const int shift = rest.size() == 1 ? suffix_shift(rest[0], suffixes) : -1;
  if (shift < 0) {
    return Unexpected{option_text(key, text) + ": unknown suffix '" + std::string(rest) +
                      "'; expected " + std::string(accepted)};
  }
  if (value > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return Unexpected{option_text(key, text) + ": number too large"};
  }
  return value << shift;
}

}  // namespace

std::string option_text(std::string_view key, std::string_view value) {
  std::string out(key);
  out += '=';
  out += value;
  return out;
}

Expected<uint64_t> parse_size(std::string_view key, std::string_view text,
                              uint64_t total_ram_bytes) {
  static constexpr std::string_view kAccepted =
      "a number of bytes with an optional k, m, g or t suffix (binary: 1k = 1024), or a "
      "percentage of RAM such as 50%";
  if (!text.empty() && text.back() == '%') {
    std::string_view digits = text.substr(0, text.size() - 1);
    uint64_t percent = 0;
    if (!all_digits(digits) || !parse_digits(digits, percent)) {
      return Unexpected{option_text(key, text) + ": not a whole percentage; expected " +
                        std::string(kAccepted)};
    }
    if (percent < 1 || percent > 100) {
      return Unexpected{option_text(key, text) + ": percentage of RAM must be 1% to 100%"};
    }
    // total_ram_bytes is far below 2^64 / 100 on any machine that exists.
    return total_ram_bytes / 100 * percent + total_ram_bytes % 100 * percent / 100;
  }
  return parse_suffixed(key, text, "kmgt", kAccepted);
}

Expected<uint64_t> parse_count(std::string_view key, std::string_view text) {
  return parse_suffixed(key, text, "kmg",
                        "a number with an optional k, m or g suffix (binary: 1k = 1024)");
}

Expected<uint32_t> parse_mode(std::string_view key, std::string_view text) {
  static constexpr std::string_view kAccepted = "octal permission bits 0 to 7777, such as 1777";
  if (text.empty() || text.size() > 12) {
    return Unexpected{option_text(key, text) + ": expected " + std::string(kAccepted)};
  }
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') {
      return Unexpected{option_text(key, text) + ": not an octal number; expected " +
                        std::string(kAccepted)};
    }
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
    if (mode > 07777) {
      return Unexpected{option_text(key, text) + ": too large; expected " + std::string(kAccepted)};
    }
  }
  return mode;
}

Expected<uint32_t> parse_id(std::string_view key, std::string_view text, IdKind kind) {
  const char* what = kind == IdKind::kUser ? "user" : "group";
  if (text.empty()) {
    return Unexpected{option_text(key, text) + ": expected a numeric " + what + " id or a " + what +
                      " name"};
  }
  if (all_digits(text)) {
    uint64_t id = 0;
    // (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to chown(2); they are not ids.
    if (!parse_digits(text, id) || id >= std::numeric_limits<uint32_t>::max()) {
      return Unexpected{option_text(key, text) + ": " + what + " id out of range; expected 0 to " +
                        std::to_string(std::numeric_limits<uint32_t>::max() - 1)};
    }
    return static_cast<uint32_t>(id);
  }
  const std::string name(text);
  long buf_size = sysconf(kind == IdKind::kUser ? _SC_GETPW_R_SIZE_MAX : _SC_GETGR_R_SIZE_MAX);
  std::vector<char> buf(buf_size > 0 ? static_cast<size_t>(buf_size) : 16384);
  for (;;) {
    int err = 0;
    if (kind == IdKind::kUser) {
      passwd pw{};
      passwd* found = nullptr;
      err = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
      if (err == 0 && found != nullptr) return static_cast<uint32_t>(found->pw_uid);
    } else {
      group gr{};
      group* found = nullptr;
      err = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
      if (err == 0 && found != nullptr) return static_cast<uint32_t>(found->gr_gid);
    }
    if (err == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    break;
  }
  return Unexpected{option_text(key, text) + ": no such " + what + "; expected a numeric " + what +
                    " id or a " + what + " name"};
}

Expected<int64_t> parse_int_in_range(std::string_view key, std::string_view text, int64_t min,
                                     int64_t max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.remove_prefix(1);
  uint64_t magnitude = 0;
  if (!all_digits(digits) || !parse_digits(digits, magnitude)) {
    return Unexpected{option_text(key, text) + ": not an integer; expected " + range};
  }
  const auto limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (magnitude > limit) {
    return Unexpected{option_text(key, text) + ": out of range; expected " + range};
  }
  const int64_t value =
      negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  if (value < min || value > max) {
    return Unexpected{option_text(key, text) + ": out of range; expected " + range};
  }
  return value;
}

Expected<uint64_t> parse_seconds(std::string_view key, std::string_view text,
                                 uint64_t max_seconds) {
  const std::string expected = "expected seconds, or a number with s, m, h or d, at most " +
                               std::to_string(max_seconds) + " seconds";
  std::string_view digits = text;
  uint64_t unit = 1;
  if (!digits.empty()) {
    switch (std::tolower(static_cast<unsigned char>(digits.back()))) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 60 * 60;
        break;
      case 'd':
        unit = 24 * 60 * 60;
        break;
      default:
        unit = 0;
        break;
    }
    if (unit != 0) {
      digits.remove_suffix(1);
    } else {
      unit = 1;
    }
  }
  uint64_t count = 0;
  if (!all_digits(digits) || !parse_digits(digits, count)) {
    return Unexpected{option_text(key, text) + ": not a duration; " + expected};
  }
  if (count > max_seconds / unit) {
    return Unexpected{option_text(key, text) + ": too long; " + expected};
  }
  return count * unit;
}

Expected<bool> parse_switch(std::string_view key, std::string_view text) {
  std::string lower;
  for (char c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "on" || lower == "yes" || lower == "true" || lower == "1") return true;
  if (lower == "off" || lower == "no" || lower == "false" || lower == "0") return false;
  return Unexpected{option_text(key, text) + ": expected on or off"};
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<const char*, 7> kUnits = {"B",   "KiB", "MiB", "GiB",
                                                        "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  // Three significant digits; a value that rounds up to 1024 moves to the next unit.
  char buf[32];
  const int decimals = value < 9.995 ? 2 : value < 99.95 ? 1 : 0;
  if (decimals == 0 && value >= 1023.5 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
    std::snprintf(buf, sizeof buf, "%.2f %s", value, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f %s", decimals, value, kUnits[unit]);
  }
  return buf;
}

std::string format_percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string format_count(uint64_t count) {
  std::string digits = std::to_string(count);
  std::string out;
  const size_t first_group = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i >= first_group && (i - first_group) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace zsfs::mount
