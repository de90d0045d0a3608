#include "ctl/report.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "mount/units.h"

namespace zsfs::ctl {

using mount::format_bytes;
using mount::format_count;
using mount::format_percent;
using mount::to_json_text;

namespace {

// Block and page size of the figures the core reports in blocks and pages.
constexpr uint64_t kBlockBytes = 4096;

std::optional<uint64_t> u64(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.find(key);
  return value != nullptr ? value->as_u64() : std::nullopt;
}

std::optional<double> real(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.find(key);
  return value != nullptr ? value->as_double() : std::nullopt;
}

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

DuFigures du_figures(const JsonValue& file) {
  DuFigures f;
  f.files = u64(file, "files").value_or(0);
  f.logical = u64(file, "logical_bytes").value_or(0);
  f.data = u64(file, "data_blocks").value_or(0) * kBlockBytes;
  f.stored = u64(file, "stored_bytes").value_or(0);
  f.shared = u64(file, "shared_blocks").value_or(0) * kBlockBytes;
  return f;
}

std::string du_line(const DuFigures& f, const std::string& path) {
  return pad_left(format_count(f.files), 10) + "  " + pad_left(format_bytes(f.logical), 10) + "  " +
         pad_left(format_bytes(f.data), 10) + "  " + pad_left(format_bytes(f.stored), 10) + "  " +
         pad_left(format_percent(ratio(f.stored, f.data)), 7) + "  " +
         pad_left(format_bytes(f.shared), 10) + "  " + path + "\n";
}

// "N (write N, getxattr N, ...)": the total and the most frequent operations, most frequent first.
std::string requests_summary(const JsonValue& requests, uint64_t total) {
  constexpr size_t kShown = 6;
  std::vector<std::pair<uint64_t, std::string>> counts;
  if (const JsonValue::Object* members = requests.as_object()) {
    for (const auto& [name, value] : *members) {
      const auto count = value.as_u64();
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

}  // namespace

std::string render_stats(const JsonValue& stats, std::string_view mount_point) {
  Table table;
  table.row("Mounted on", std::string(mount_point));

  const JsonValue* algorithm = stats.find("algorithm");
  const auto level = stats.find("level") != nullptr ? stats.find("level")->as_i64() : std::nullopt;
  const JsonValue* dedup = stats.find("dedup");
  if (algorithm != nullptr && algorithm->as_string() != nullptr) {
    std::string settings = *algorithm->as_string();
    if (level && settings != "none") settings += " level " + std::to_string(*level);
    if (dedup != nullptr && dedup->as_bool()) {
      settings += std::string(", dedup ") + (*dedup->as_bool() ? "on" : "off");
    }
    table.row("Compression", settings);
  }

  const auto used = u64(stats, "mem_used_total");
  const auto limit = u64(stats, "mem_limit");
  if (used && limit) {
    std::string value = format_bytes(*used) + " of " + format_bytes(*limit) + " (" +
                        format_percent(ratio(*used, *limit)) + ")";
    if (auto peak = u64(stats, "mem_used_max")) value += ", peak " + format_bytes(*peak);
    table.row("Memory used", value);
  }
  if (auto pages = u64(stats, "pool_pages")) {
    std::string value =
        format_bytes(*pages * kBlockBytes) + " in " + format_count(*pages) + " pages";
    if (auto efficiency = real(stats, "pool_efficiency")) {
      value += ", " + format_percent(*efficiency) + " filled";
    }
    table.row("  pool", value);
  }
  if (auto metadata = u64(stats, "metadata_bytes")) {
    std::string value = format_bytes(*metadata);
    const auto inodes = u64(stats, "inode_bytes");
    const auto maps = u64(stats, "block_map_bytes");
    const auto dedup_bytes = u64(stats, "dedup_bytes");
    const auto pool_meta = u64(stats, "pool_metadata_bytes");
    if (inodes && maps && dedup_bytes && pool_meta) {
      value += " (inodes " + format_bytes(*inodes) + ", block maps " + format_bytes(*maps) +
               ", dedup " + format_bytes(*dedup_bytes) + ", pool " + format_bytes(*pool_meta) + ")";
    }
    table.row("  metadata", value);
  }

  const auto inodes = u64(stats, "inodes");
  const auto inode_limit = u64(stats, "inode_limit");
  if (inodes && inode_limit) {
    table.row("Inodes", format_count(*inodes) + " of " + format_count(*inode_limit));
  }
  if (auto logical = u64(stats, "logical_bytes")) {
    std::string value = format_bytes(*logical);
    if (auto holes = u64(stats, "hole_bytes")) value += " (" + format_bytes(*holes) + " in holes)";
    table.row("File sizes", value);
  }
  const auto orig = u64(stats, "orig_data_size");
  if (orig) {
    std::string value = format_bytes(*orig);
    if (auto blocks = u64(stats, "data_blocks"))
      value += " in " + format_count(*blocks) + " blocks";
    table.row("Data", value);
  }
  if (auto same = u64(stats, "same_pages")) {
    table.row("  same-filled", format_bytes(*same * kBlockBytes) + " (" + format_count(*same) +
                                   " blocks, kept without memory)");
  }
  if (auto saved = u64(stats, "dedup_saved_bytes")) {
    std::string value = format_bytes(*saved) + " saved";
    if (auto refs = u64(stats, "shared_refs")) {
      value += " (" + format_count(*refs) + " shared references)";
    }
    table.row("  deduplicated", value);
  }
  const auto unique = u64(stats, "unique_blocks");
  const auto compressed = u64(stats, "compr_data_size");
  if (unique && compressed) {
    std::string value = format_bytes(*unique * kBlockBytes) + " in " + format_count(*unique) +
                        " unique blocks, compressed to " + format_bytes(*compressed) + " (" +
                        format_percent(ratio(*compressed, *unique * kBlockBytes)) + ")";
    table.row("  stored", value);
  }
  if (auto staged = u64(stats, "staged_blocks"); staged && *staged > 0) {
    table.row("  to compress",
              format_count(*staged) + " blocks kept raw until the background compresses them");
  }
  if (auto huge = u64(stats, "huge_pages")) {
    table.row("  incompressible", format_count(*huge) + " blocks kept as they are");
  }
  if (orig && used && *used > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f:1",
                  static_cast<double>(*orig) / static_cast<double>(*used));
    table.row("Data to memory", std::string(buf) + " (" + format_bytes(*orig) + " of data in " +
                                    format_bytes(*used) + " of memory)");
  }
  const auto runs = u64(stats, "compactions");
  const auto compacted = u64(stats, "pages_compacted");
  if (runs && compacted) {
    table.row("Compaction", format_count(*runs) + " runs, " + format_count(*compacted) +
                                " pages freed (" + format_bytes(*compacted * kBlockBytes) + ")");
  }
  if (const JsonValue* requests = stats.find("requests")) {
    if (auto total = u64(*requests, "total"))
      table.row("FUSE requests", requests_summary(*requests, *total));
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
  JsonValue::Array items;
  for (const DuRow& row : rows) {
    JsonValue::Object members;
    members.emplace_back("path", JsonValue::string(row.path));
    if (const JsonValue::Object* fields = row.file.as_object()) {
      for (const auto& member : *fields) {
        if (member.first != "path") members.push_back(member);
      }
    }
    items.push_back(JsonValue::object(std::move(members)));
  }
  return to_json_text(JsonValue::array(std::move(items)));
}

std::string render_compact(const JsonValue& result) {
  for (std::string_view key : {"pages_freed", "freed_pages", "pages"}) {
    if (auto pages = u64(result, key)) {
      return "compacted: " + format_count(*pages) + " pages freed (" +
             format_bytes(*pages * kBlockBytes) + ")\n";
    }
  }
  return "compacted: " + to_json_text(result) + "\n";
}

std::string render_check(const JsonValue& report, bool& consistent) {
  const JsonValue* ok = report.find("ok");
  consistent = ok != nullptr && ok->as_bool() == true;
  if (consistent) return "consistent\n";
  const JsonValue* found = report.find("problems");
  const JsonValue::Array* problems = found != nullptr ? found->as_array() : nullptr;
  if (problems == nullptr || problems->empty()) {
    return "INCONSISTENT: " + to_json_text(report) + "\n";
  }
  std::string text = "INCONSISTENT: " + std::to_string(problems->size()) +
                     (problems->size() == 1 ? " problem\n" : " problems\n");
  for (const JsonValue& problem : *problems) {
    text += "  " + (problem.as_string() != nullptr ? *problem.as_string() : to_json_text(problem)) +
            "\n";
  }
  return text;
}

}  // namespace zsfs::ctl
