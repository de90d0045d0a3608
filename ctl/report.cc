#include "ctl/report.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "ctl/disk_report.h"
#include "mount/json_reader.h"
#include "mount/units.h"

namespace zsfs::ctl {

using mount::format_bytes;
using mount::format_count;
using mount::format_percent;
using mount::json_bool;
using mount::json_i64;
using mount::json_member;
using mount::json_number;
using mount::json_string;
using mount::json_u64;

namespace {

// Block and page size of the figures the core reports in blocks and pages.
constexpr uint64_t kBlockBytes = 4096;

double ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Rows of "label   value", labels padded to the widest.
class Table {
 public:
  void row(std::string label, std::string value) {
    rows_.emplace_back(std::move(label), std::move(value));
  }
  std::string str() const {
    size_t width = 0;
    for (const auto& [label, value] : rows_)
      width = std::max(width, label.size());
    std::string out;
    for (const auto& [label, value] : rows_) {
      out += label;
      out.append(width - label.size() + 2, ' ');
      out += value;
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

std::string pad_left(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

struct DuFigures {
  uint64_t files = 0;
  uint64_t logical = 0;
  uint64_t data = 0;
  uint64_t stored = 0;
  uint64_t shared = 0;
};

DuFigures du_figures(const Json& file) {
  DuFigures f;
  f.files = json_u64(file, "files").value_or(0);
  f.logical = json_u64(file, "logical_bytes").value_or(0);
  f.data = json_u64(file, "data_blocks").value_or(0) * kBlockBytes;
  f.stored = json_u64(file, "stored_bytes").value_or(0);
  f.shared = json_u64(file, "shared_blocks").value_or(0) * kBlockBytes;
  return f;
}

std::string du_line(const DuFigures& f, const std::string& path) {
  return pad_left(format_count(f.files), 10) + "  " + pad_left(format_bytes(f.logical), 10) + "  " +
         pad_left(format_bytes(f.data), 10) + "  " + pad_left(format_bytes(f.stored), 10) + "  " +
         pad_left(format_percent(ratio(f.stored, f.data)), 7) + "  " +
         pad_left(format_bytes(f.shared), 10) + "  " + path + "\n";
}

// "N (write N, getxattr N, ...)": the total and the most frequent operations, most frequent first.
std::string requests_summary(const Json& requests, uint64_t total) {
  constexpr size_t kShown = 6;
  std::vector<std::pair<uint64_t, std::string>> counts;
  if (requests.is_object()) {
    for (const auto& [name, value] : requests.items()) {
      const auto count = json_u64(requests, name);
      if (name != "total" && count && *count > 0) counts.emplace_back(*count, name);
    }
  }
  std::stable_sort(counts.begin(), counts.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text = format_count(total);
  for (size_t i = 0; i < counts.size() && i < kShown; ++i) {
    text += (i == 0 ? " (" : ", ") + counts[i].second + " " + format_count(counts[i].first);
  }
  if (counts.size() > kShown) text += ", ...";
  if (!counts.empty()) text += ")";
  return text;
}

// "lz4, then zstd level 9 with dictionaries after 60 s, dedup on": what writes store, and what
// the recompressor makes of it.
std::optional<std::string> compression_settings(const Json& stats) {
  const std::string* algorithm = json_string(stats, "algorithm");
  if (algorithm == nullptr) return std::nullopt;
  std::string settings = *algorithm;
  const auto level = json_i64(stats, "level");
  if (level && settings == "zstd") settings += " level " + std::to_string(*level);
  const std::string* recompress = json_string(stats, "recompress");
  if (recompress != nullptr && *recompress != "off") {
    settings += ", then " + *recompress;
    if (auto recompress_level = json_i64(stats, "recompress_level")) {
      settings += " level " + std::to_string(*recompress_level);
    }
    if (json_bool(stats, "dict").value_or(false)) settings += " with dictionaries";
    if (auto after = json_i64(stats, "recompress_after")) {
      settings += *after < 0 ? " on request" : " after " + std::to_string(*after) + " s";
    }
  }
  if (auto dedup = json_bool(stats, "dedup")) {
    settings += std::string(", dedup ") + (*dedup ? "on" : "off");
  }
  return settings;
}

// "lz4 1,234 blocks in 2.00 MiB, zstd 5,678 in 9.00 MiB, raw 21": stored blocks by encoding.
std::optional<std::string> encodings_summary(const Json& stats) {
  const Json* encodings = json_member(stats, "encodings");
  if (encodings == nullptr || !encodings->is_object()) return std::nullopt;
  std::string text;
  for (const auto& [name, figures] : encodings->items()) {
    const uint64_t blocks = json_u64(figures, "blocks").value_or(0);
    if (blocks == 0) continue;
    if (!text.empty()) text += ", ";
    text += name + " " + format_count(blocks) + " blocks in " +
            format_bytes(json_u64(figures, "stored_bytes").value_or(0));
  }
  if (text.empty()) return std::nullopt;
  return text;
}

// "1 live: 112 KiB (1.02 MiB in memory), 349,000 blocks; 1 trained".
std::string dictionaries_summary(const Json& dictionaries) {
  const uint64_t live = json_u64(dictionaries, "live").value_or(0);
  const uint64_t installed = json_u64(dictionaries, "installed").value_or(0);
  uint64_t size = 0, blocks = 0;
  if (const Json* list = json_member(dictionaries, "list"); list != nullptr && list->is_array()) {
    for (const Json& d : *list) {
      size += json_u64(d, "size_bytes").value_or(0);
      blocks += json_u64(d, "blocks").value_or(0);
    }
  }
  std::string text = format_count(live) + " live";
  if (live > 0) {
    text += ": " + format_bytes(size) + " (" +
            format_bytes(json_u64(dictionaries, "memory_bytes").value_or(0)) + " in memory), " +
            format_count(blocks) + " blocks";
  }
  return text + "; " + format_count(installed) + " trained";
}

// "361,326 blocks tried, 352,000 smaller (329 MiB -> 255 MiB); 0 waiting; busy".
std::string recompressor_summary(const Json& r, std::optional<uint64_t> unsettled) {
  std::string text = format_count(json_u64(r, "tried").value_or(0)) + " blocks tried, " +
                     format_count(json_u64(r, "kept").value_or(0)) + " smaller (" +
                     format_bytes(json_u64(r, "bytes_before").value_or(0)) + " -> " +
                     format_bytes(json_u64(r, "bytes_after").value_or(0)) + ")";
  if (auto failed = json_u64(r, "failed"); failed && *failed > 0) {
    text += ", " + format_count(*failed) + " failed";
  }
  if (unsettled) text += "; " + format_count(*unsettled) + " waiting";
  if (json_bool(r, "busy").value_or(false)) text += "; busy";
  return text;
}

}  // namespace

std::string render_stats(const Json& stats, std::string_view mount_point) {
  Table table;
  table.row("Mounted on", std::string(mount_point));

  if (std::optional<std::string> settings = compression_settings(stats)) {
    table.row("Compression", *settings);
  }

  const auto used = json_u64(stats, "mem_used_total");
  const auto limit = json_u64(stats, "mem_limit");
  if (used && limit) {
    std::string value = format_bytes(*used) + " of " + format_bytes(*limit) + " (" +
                        format_percent(ratio(*used, *limit)) + ")";
    if (auto peak = json_u64(stats, "mem_used_max")) value += ", peak " + format_bytes(*peak);
    table.row("Memory used", value);
  }
  if (auto pages = json_u64(stats, "pool_pages")) {
    std::string value =
        format_bytes(*pages * kBlockBytes) + " in " + format_count(*pages) + " pages";
    if (auto efficiency = json_number(stats, "pool_efficiency")) {
      value += ", " + format_percent(*efficiency) + " filled";
    }
    table.row("  pool", value);
  }
  if (auto metadata = json_u64(stats, "metadata_bytes")) {
    std::string value = format_bytes(*metadata);
    const auto inodes = json_u64(stats, "inode_bytes");
    const auto maps = json_u64(stats, "block_map_bytes");
    const auto dedup_bytes = json_u64(stats, "dedup_bytes");
    const auto pool_meta = json_u64(stats, "pool_metadata_bytes");
    if (inodes && maps && dedup_bytes && pool_meta) {
      value += " (inodes " + format_bytes(*inodes) + ", block maps " + format_bytes(*maps) +
               ", dedup " + format_bytes(*dedup_bytes) + ", pool " + format_bytes(*pool_meta) + ")";
    }
    table.row("  metadata", value);
  }

  const auto inodes = json_u64(stats, "inodes");
  const auto inode_limit = json_u64(stats, "inode_limit");
  if (inodes && inode_limit) {
    table.row("Inodes", format_count(*inodes) + " of " + format_count(*inode_limit));
  }
  if (auto logical = json_u64(stats, "logical_bytes")) {
    std::string value = format_bytes(*logical);
    if (auto holes = json_u64(stats, "hole_bytes"))
      value += " (" + format_bytes(*holes) + " in holes)";
    table.row("File sizes", value);
  }
  const auto orig = json_u64(stats, "orig_data_size");
  if (orig) {
    std::string value = format_bytes(*orig);
    if (auto blocks = json_u64(stats, "data_blocks"))
      value += " in " + format_count(*blocks) + " blocks";
    table.row("Data", value);
  }
  if (auto same = json_u64(stats, "same_pages")) {
    table.row("  same-filled", format_bytes(*same * kBlockBytes) + " (" + format_count(*same) +
                                   " blocks, kept without memory)");
  }
  if (auto saved = json_u64(stats, "dedup_saved_bytes")) {
    std::string value = format_bytes(*saved) + " saved";
    if (auto refs = json_u64(stats, "shared_refs")) {
      value += " (" + format_count(*refs) + " shared references)";
    }
    table.row("  deduplicated", value);
  }
  const auto unique = json_u64(stats, "unique_blocks");
  const auto compressed = json_u64(stats, "compr_data_size");
  if (unique && compressed) {
    std::string value = format_bytes(*unique * kBlockBytes) + " in " + format_count(*unique) +
                        " unique blocks, compressed to " + format_bytes(*compressed) + " (" +
                        format_percent(ratio(*compressed, *unique * kBlockBytes)) + ")";
    table.row("  stored", value);
  }
  if (auto staged = json_u64(stats, "staged_blocks"); staged && *staged > 0) {
    table.row("  to compress",
              format_count(*staged) + " blocks kept raw until the background compresses them");
  }
  if (auto huge = json_u64(stats, "huge_pages")) {
    table.row("  incompressible", format_count(*huge) + " blocks kept as they are");
  }
  if (std::optional<std::string> encodings = encodings_summary(stats)) {
    table.row("  encodings", *encodings);
  }
  if (const Json* dictionaries = json_member(stats, "dictionaries")) {
    table.row("Dictionaries", dictionaries_summary(*dictionaries));
  }
  if (const Json* recompressor = json_member(stats, "recompressor")) {
    table.row("Recompression",
              recompressor_summary(*recompressor, json_u64(stats, "unsettled_blocks")));
  }
  if (orig && used && *used > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f:1",
                  static_cast<double>(*orig) / static_cast<double>(*used));
    table.row("Data to memory", std::string(buf) + " (" + format_bytes(*orig) + " of data in " +
                                    format_bytes(*used) + " of memory)");
  }
  const auto runs = json_u64(stats, "compactions");
  const auto compacted = json_u64(stats, "pages_compacted");
  if (runs && compacted) {
    table.row("Compaction", format_count(*runs) + " runs, " + format_count(*compacted) +
                                " pages freed (" + format_bytes(*compacted * kBlockBytes) + ")");
  }
  if (const Json* requests = json_member(stats, "requests")) {
    if (auto total = json_u64(*requests, "total"))
      table.row("FUSE requests", requests_summary(*requests, *total));
  }
  if (std::optional<std::string> backing = backing_summary(stats)) {
    table.row("Backing file", *backing);
  }
  if (std::optional<std::string> image = image_summary(stats)) table.row("Image", *image);
  return table.str();
}

std::string render_recompress(const Json& before, const Json& after) {
  Table table;
  const Json* r0 = json_member(before, "recompressor");
  const Json* r1 = json_member(after, "recompressor");
  auto delta = [&](std::string_view key) {
    const uint64_t a = r0 == nullptr ? 0 : json_u64(*r0, key).value_or(0);
    const uint64_t b = r1 == nullptr ? 0 : json_u64(*r1, key).value_or(0);
    return b >= a ? b - a : 0;
  };
  table.row("Recompressed", format_count(delta("tried")) + " blocks, " +
                                format_count(delta("kept")) + " smaller (" +
                                format_bytes(delta("bytes_before")) + " -> " +
                                format_bytes(delta("bytes_after")) + ")");
  if (const uint64_t trained = delta("trainings"); trained > 0) {
    table.row("Dictionaries", format_count(trained) + " trained");
  }
  const auto used_before = json_u64(before, "mem_used_total");
  const auto used_after = json_u64(after, "mem_used_total");
  if (used_before && used_after) {
    table.row("Memory used", format_bytes(*used_before) + " -> " + format_bytes(*used_after));
  }
  if (auto unsettled = json_u64(after, "unsettled_blocks")) {
    table.row("Not recompressed",
              format_count(*unsettled) + " blocks (written since, or outside --idle/--huge)");
  }
  return table.str();
}

std::string render_du(const std::vector<DuRow>& rows) {
  std::string out = pad_left("Files", 10) + "  " + pad_left("Size", 10) + "  " +
                    pad_left("Data", 10) + "  " + pad_left("Stored", 10) + "  " +
                    pad_left("Stored%", 7) + "  " + pad_left("Shared", 10) + "  Path\n";
  DuFigures total;
  for (const DuRow& row : rows) {
    const DuFigures f = du_figures(row.file);
    out += du_line(f, row.path);
    total.files += f.files;
    total.logical += f.logical;
    total.data += f.data;
    total.stored += f.stored;
    total.shared += f.shared;
  }
  if (rows.size() > 1) out += du_line(total, "total");
  return out;
}

std::string render_du_json(const std::vector<DuRow>& rows) {
  Json items = Json::array();
  for (const DuRow& row : rows) {
    Json members = {{"path", row.path}};
    if (row.file.is_object()) {
      for (const auto& [key, value] : row.file.items()) {
        if (key != "path") members[key] = value;
      }
    }
    items.push_back(std::move(members));
  }
  return to_json_text(items);
}

std::string render_compact(const Json& result) {
  for (std::string_view key : {"pages_freed", "freed_pages", "pages"}) {
    if (auto pages = json_u64(result, key)) {
      return "compacted: " + format_count(*pages) + " pages freed (" +
             format_bytes(*pages * kBlockBytes) + ")\n";
    }
  }
  return "compacted: " + to_json_text(result) + "\n";
}

std::string render_check(const Json& report, bool& consistent) {
  consistent = json_bool(report, "ok") == true;
  if (consistent) return "consistent\n";
  const Json* problems = json_member(report, "problems");
  if (problems == nullptr || !problems->is_array() || problems->empty()) {
    return "INCONSISTENT: " + to_json_text(report) + "\n";
  }
  std::string text = "INCONSISTENT: " + std::to_string(problems->size()) +
                     (problems->size() == 1 ? " problem\n" : " problems\n");
  for (const Json& problem : *problems) {
    text +=
        "  " + (problem.is_string() ? problem.get<std::string>() : to_json_text(problem)) + "\n";
  }
  return text;
}

}  // namespace zsfs::ctl
