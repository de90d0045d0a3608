#include "ctl/top.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "ctl/metrics.h"
#include "mount/json_reader.h"
#include "mount/units.h"

namespace zsfs::ctl {
namespace {

using mount::format_bytes;
using mount::format_count;
using mount::format_percent;
using mount::json_u64;

// The requests section shows at most this many operations.
constexpr size_t kTopOperations = 8;

// One short formatted figure (well under 64 bytes).
[[gnu::format(printf, 1, 2)]] std::string printf_string(const char* format, ...) {
  char buf[64];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

// "1,234/s", "0.5/s": whole numbers from 10 on, one decimal below.
std::string rate_text(double per_second) {
  if (per_second >= 10) return format_count(static_cast<uint64_t>(std::llround(per_second))) + "/s";
  return printf_string("%.1f/s", per_second);
}

// A gauge's value by its unit, which its metric name ends with.
std::string gauge_text(std::string_view name, const Json& value) {
  const std::optional<double> number = leaf_number(value);
  if (!number) return "-";
  if (name == "compression_ratio") return printf_string("%.2f:1", *number);  // 3.41:1
  if (name.ends_with("_ratio")) return format_percent(*number);              // a fraction
  const std::optional<uint64_t> count = leaf_count(value);
  if (!count) return printf_string("%g", *number);
  return name.ends_with("_bytes") ? format_bytes(*count) : format_count(*count);
}

std::string pad_right(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}
std::string pad_left(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

// A counter's value in both readings, keyed by its path.
struct Counter {
  const MetricRule* rule;
  std::string label_value;
  uint64_t now = 0;
  std::optional<double> rate;  // nothing on the first frame, or when the count went down
};

std::vector<Counter> counters(const TopFrame& frame) {
  std::map<std::string, uint64_t> before;
  if (frame.previous != nullptr) {
    for (const StatsLeaf& leaf : stats_leaves(*frame.previous)) {
      const std::optional<uint64_t> count = leaf_count(*leaf.value);
      if (leaf.rule != nullptr && leaf.rule->kind == MetricKind::kCounter && count) {
        before[leaf.path] = *count;
      }
    }
  }
  std::vector<Counter> out;
  for (const StatsLeaf& leaf : stats_leaves(*frame.current)) {
    const std::optional<uint64_t> count = leaf_count(*leaf.value);
    if (leaf.rule == nullptr || leaf.rule->kind != MetricKind::kCounter || !count) continue;
    Counter c{leaf.rule, leaf.label_value, *count, std::nullopt};
    const auto it = before.find(leaf.path);
    if (it != before.end() && it->second <= c.now && frame.elapsed_seconds > 0) {
      c.rate = static_cast<double>(c.now - it->second) / frame.elapsed_seconds;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::string render_top(const TopFrame& frame) {
  std::vector<std::string> lines;
  // The first lines stay whatever the height; the sections after them are cut from the end.
  lines.push_back("zsfs top: " + std::string(frame.mount_point) + "   every " +
                  printf_string("%g", frame.interval_seconds) + " s   " + std::string(frame.clock) +
                  "   (q quits)");
  const Json& stats = *frame.current;

  const auto used = json_u64(stats, "mem_used_total");
  const auto limit = json_u64(stats, "mem_limit");
  if (used && limit) {
    std::string text =
        "Memory    " + format_bytes(*used) + " of " + format_bytes(*limit) + " (" +
        format_percent(*limit == 0 ? 0.0
                                   : static_cast<double>(*used) / static_cast<double>(*limit)) +
        ")";
    if (auto peak = json_u64(stats, "mem_used_max")) text += ", peak " + format_bytes(*peak);
    lines.push_back(text);
  }
  if (auto data = json_u64(stats, "orig_data_size"); data && used && *used > 0) {
    lines.push_back(
        "Data      " + format_bytes(*data) + " in " + format_bytes(*used) + " of memory: " +
        printf_string("%.2f:1", static_cast<double>(*data) / static_cast<double>(*used)));
  }
  if (auto inodes = json_u64(stats, "inodes")) {
    std::string text = "Files     " + format_count(*inodes) + " inodes";
    if (auto size = json_u64(stats, "logical_bytes")) text += ", " + format_bytes(*size);
    lines.push_back(text);
  }
  const size_t fixed = lines.size();

  // Requests (the counter family labelled "op", busiest first) and Activity (every other
  // counter): rows of name, rate and count, in one column layout wide enough for every name.
  struct Row {
    std::string name, rate, count, note;
  };
  std::vector<Row> rows;
  std::vector<Counter> all = counters(frame);
  std::vector<const Counter*> ops;
  double ops_rate = 0;
  uint64_t ops_total = 0;
  for (const Counter& c : all) {
    if (c.rule->label != "op") continue;
    ops.push_back(&c);
    ops_rate += c.rate.value_or(0);
    ops_total += c.now;
  }
  auto rate_of = [](const std::optional<double>& rate) { return rate ? rate_text(*rate) : "-"; };
  if (!ops.empty()) {
    rows.push_back({});
    rows.push_back({"Requests", frame.previous != nullptr ? rate_text(ops_rate) : "-",
                    format_count(ops_total), "  since mounted"});
    std::stable_sort(ops.begin(), ops.end(), [](const Counter* a, const Counter* b) {
      return a->rate.value_or(0) > b->rate.value_or(0) ||
             (a->rate.value_or(0) == b->rate.value_or(0) && a->now > b->now);
    });
    for (size_t i = 0; i < ops.size() && i < kTopOperations && ops[i]->now > 0; ++i)
      rows.push_back(
          {"  " + ops[i]->label_value, rate_of(ops[i]->rate), format_count(ops[i]->now), ""});
  }
  bool activity = false;
  for (const Counter& c : all) {
    if (c.rule->label == "op") continue;
    if (!activity) {
      rows.push_back({});
      rows.push_back({"Activity", "per second", " since mounted", ""});
      activity = true;
    }
    std::string name(
        c.rule->name.substr(0, c.rule->name.size() - std::string_view("_total").size()));
    if (!c.label_value.empty()) name += "{" + c.label_value + "}";
    rows.push_back({"  " + name, rate_of(c.rate), format_count(c.now), ""});
  }
  size_t name_width = 22;
  for (const Row& row : rows)
    name_width = std::max(name_width, row.name.size() + 2);
  for (const Row& row : rows) {
    lines.push_back(row.name.empty() && row.rate.empty()
                        ? ""
                        : pad_right(row.name, name_width) + pad_left(row.rate, 10) +
                              pad_left(row.count, 14) + row.note);
  }

  // Figures: every gauge, two to a line.
  std::vector<std::pair<std::string, std::string>> cells;
  size_t cell_width = 28;
  for (const StatsLeaf& leaf : stats_leaves(stats)) {
    if (leaf.rule == nullptr || leaf.rule->kind != MetricKind::kGauge) continue;
    std::string name(leaf.rule->name);
    if (!leaf.label_value.empty()) name += "{" + leaf.label_value + "}";
    cell_width = std::max(cell_width, name.size() + 2);
    cells.emplace_back(std::move(name), gauge_text(leaf.rule->name, *leaf.value));
  }
  if (!cells.empty()) {
    lines.emplace_back();
    lines.push_back("Figures");
    for (size_t i = 0; i < cells.size(); i += 2) {
      std::string line =
          "  " + pad_right(cells[i].first, cell_width) + pad_left(cells[i].second, 11);
      if (i + 1 < cells.size()) {
        line +=
            "    " + pad_right(cells[i + 1].first, cell_width) + pad_left(cells[i + 1].second, 11);
      }
      lines.push_back(line);
    }
  }

  if (frame.max_lines > 0 && lines.size() > frame.max_lines) {
    lines.resize(std::max(frame.max_lines, fixed));
  }
  std::string out;
  for (std::string& line : lines) {
    if (frame.max_columns > 0 && line.size() > frame.max_columns) line.resize(frame.max_columns);
    out += line + "\n";
  }
  return out;
}

}  // namespace zsfs::ctl
