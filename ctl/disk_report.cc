#include "ctl/disk_report.h"

#include <cstdio>

#include "mount/json_reader.h"
#include "mount/units.h"

namespace zsfs::ctl {

using mount::format_bytes;
using mount::format_count;
using mount::json_bool;
using mount::json_member;
using mount::json_number;
using mount::json_string;
using mount::json_u64;

namespace {

std::string string_or(const Json& json, std::string_view key, const char* otherwise) {
  const std::string* s = json_string(json, key);
  return s != nullptr ? *s : otherwise;
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  return buf;
}

// "377 MiB, 78,579 inodes, 317,021 blocks in 1.23 s (writes paused 0.045 s)"
std::string save_figures(const Json& last) {
  std::string text = format_bytes(json_u64(last, "bytes").value_or(0)) + ", " +
                     format_count(json_u64(last, "inodes").value_or(0)) + " inodes, " +
                     format_count(json_u64(last, "blocks").value_or(0)) + " blocks in " +
                     seconds_text(json_number(last, "seconds").value_or(0));
  if (auto pause = json_number(last, "pause_seconds")) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " (writes paused %.3f s)", *pause);
    text += buf;
  }
  return text;
}

}  // namespace

std::optional<std::string> image_summary(const Json& stats) {
  const Json* image = json_member(stats, "image");
  if (image == nullptr) return std::nullopt;
  std::string text = string_or(*image, "path", "?");
  const Json* last = json_member(*image, "last");
  if (last != nullptr && last->is_object()) {
    if (json_bool(*last, "ok").value_or(false)) {
      text += "; last saved " + save_figures(*last);
    } else {
      text += "; LAST SAVE FAILED: " + string_or(*last, "error", "?");
    }
  } else {
    text += "; not saved since mounted";
  }
  if (auto interval = json_u64(*image, "save_interval"); interval && *interval > 0) {
    text += "; every " + std::to_string(*interval) + " s when changed";
  }
  if (json_bool(*image, "busy").value_or(false)) text += "; saving now";
  return text;
}

std::optional<std::string> backing_summary(const Json& stats) {
  const Json* b = json_member(stats, "backing");
  if (b == nullptr) return std::nullopt;
  std::string text = string_or(*b, "path", "?") + ": " +
                     format_bytes(json_u64(*b, "bd_bytes").value_or(0)) + " in " +
                     format_count(json_u64(*b, "bd_count").value_or(0)) + " blocks (" +
                     format_bytes(json_u64(*b, "disk_bytes").value_or(0)) + " on disk";
  if (auto limit = json_u64(*b, "limit_bytes"); limit && *limit > 0) {
    text += ", at most " + format_bytes(*limit);
  }
  text += "); " + format_count(json_u64(*b, "bd_reads").value_or(0)) + " reads, " +
          format_count(json_u64(*b, "bd_writes").value_or(0)) + " writes";
  if (auto promoted = json_u64(*b, "promoted"); promoted && *promoted > 0) {
    text += ", " + format_count(*promoted) + " brought back";
  }
  if (auto errors = json_u64(*b, "read_errors"); errors && *errors > 0) {
    text += ", " + format_count(*errors) + " CORRUPT READS";
  }
  if (!json_bool(*b, "direct_io").value_or(true)) text += "; no direct I/O";
  return text;
}

std::string render_writeback(const Json& before, const Json& after) {
  const Json* b0 = json_member(before, "backing");
  const Json* b1 = json_member(after, "backing");
  auto delta = [&](const char* key) {
    const uint64_t a = b0 == nullptr ? 0 : json_u64(*b0, key).value_or(0);
    const uint64_t b = b1 == nullptr ? 0 : json_u64(*b1, key).value_or(0);
    return b > a ? b - a : 0;
  };
  const uint64_t blocks = delta("bd_writes");
  std::string text = "moved " + format_count(blocks) + " blocks to the backing file";
  if (b1 != nullptr) {
    text += "; it holds " + format_bytes(json_u64(*b1, "bd_bytes").value_or(0)) + " in " +
            format_count(json_u64(*b1, "bd_count").value_or(0)) + " blocks";
  }
  return text + "\n";
}

std::string render_save(const Json& image, bool& ok) {
  const Json* last = json_member(image, "last");
  const std::string path = string_or(image, "path", "?");
  ok = last != nullptr && last->is_object() && json_bool(*last, "ok").value_or(false);
  if (!ok) {
    const std::string error =
        last != nullptr && last->is_object() ? string_or(*last, "error", "?") : "?";
    return "zsfsctl: the save failed: " + error + "\n";
  }
  return "saved " + path + ": " + save_figures(*last) + "\n";
}

}  // namespace zsfs::ctl
