// Rendering of pool statistics: efficiency, JSON (snake_case keys) and the debugfs-like table.
//
// Owns nothing: pure functions of a PoolStats snapshot. Invariant: JSON keys are snake_case and
// the table's columns match zs_stats_size_show() (plus a last "compacted" column).
#include "pool/stats.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "base/check.h"
#include "base/json.h"
#include "pool/pool.h"

namespace zsfs::pool {

double PoolStats::efficiency() const {
  if (pages_held == 0) return 1.0;
  return static_cast<double>(bytes_stored) / static_cast<double>(pages_held * kPageSize);
}

Json PoolStats::to_json(bool with_classes) const {
  Json json = {
      {"pages_held", pages_held},           {"objects", objects},
      {"bytes_stored", bytes_stored},       {"efficiency", efficiency()},
      {"huge_objects", huge_objects},       {"huge_class_size", huge_class_size},
      {"pages_compacted", pages_compacted}, {"metadata_bytes", metadata_bytes},
  };
  if (!with_classes) return json;
  Json& out = json["classes"] = Json::array();
  for (const ClassStats& c : classes) {
    if (c.zspages == 0) continue;
    out.push_back({
        {"index", c.size_class.index},
        {"size_bytes", c.size_class.size_bytes},
        {"pages_per_zspage", c.size_class.pages_per_zspage},
        {"objects_per_zspage", c.size_class.objects_per_zspage},
        {"huge", c.size_class.huge},
        {"zspages", c.zspages},
        {"pages", c.pages},
        {"objects_allocated", c.objects_allocated},
        {"objects_in_use", c.objects_in_use},
        {"bytes_in_use", c.bytes_in_use},
        {"fullness", c.fullness},
        {"pages_compacted", c.pages_compacted},
        {"freeable_pages", c.freeable_pages},
        {"metadata_bytes", c.metadata_bytes},
    });
  }
  return json;
}

namespace {

// Appends printf-style text (each call formats one table cell or a few: well under 256 bytes).
[[gnu::format(printf, 2, 3)]] void appendf(std::string& out, const char* format, ...) {
  char text[256];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  ZSFS_CHECK(n >= 0 && static_cast<size_t>(n) < sizeof text);
  out.append(text, static_cast<size_t>(n));
}

}  // namespace

std::string PoolStats::classes_text() const {
  // Column layout of zs_stats_size_show(): the fullness groups 1..11 are "10%" ... "99%", "100%".
  static constexpr const char* kGroupNames[kFullnessGroups] = {
      "0%", "10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%", "90%", "99%", "100%"};
  std::string out;
  appendf(out, " %5s %5s ", "class", "size");
  for (size_t g = 1; g < kFullnessGroups; ++g)
    appendf(out, "%9s ", kGroupNames[g]);
  appendf(out, "%13s %10s %10s %16s %8s %9s\n", "obj_allocated", "obj_used", "pages_used",
          "pages_per_zspage", "freeable", "compacted");

  std::array<uint64_t, kFullnessGroups> group_totals{};
  uint64_t objects_allocated = 0, objects_used = 0, pages = 0, freeable = 0, compacted = 0;
  for (const ClassStats& c : classes) {
    if (c.zspages == 0) continue;
    const auto kernel_index =
        static_cast<unsigned>((c.size_class.size_bytes - kMinClassSize) / kClassDelta);
    appendf(out, " %5u %5u ", kernel_index, c.size_class.size_bytes);
    for (size_t g = 1; g < kFullnessGroups; ++g) {
      appendf(out, "%9" PRIu64 " ", c.fullness[g]);
      group_totals[g] += c.fullness[g];
    }
    appendf(out, "%13" PRIu64 " %10" PRIu64 " %10" PRIu64 " %16u %8" PRIu64 " %9" PRIu64 "\n",
            c.objects_allocated, c.objects_in_use, c.pages, c.size_class.pages_per_zspage,
            c.freeable_pages, c.pages_compacted);
    objects_allocated += c.objects_allocated;
    objects_used += c.objects_in_use;
    pages += c.pages;
    freeable += c.freeable_pages;
    compacted += c.pages_compacted;
  }
  out += '\n';
  appendf(out, " %5s %5s ", "Total", "");
  for (size_t g = 1; g < kFullnessGroups; ++g)
    appendf(out, "%9" PRIu64 " ", group_totals[g]);
  appendf(out, "%13" PRIu64 " %10" PRIu64 " %10" PRIu64 " %16s %8" PRIu64 " %9" PRIu64 "\n",
          objects_allocated, objects_used, pages, "", freeable, compacted);
  return out;
}

}  // namespace zsfs::pool
