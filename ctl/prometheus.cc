#include "ctl/prometheus.h"

#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

#include "ctl/metrics.h"

namespace zsfs::ctl {
namespace {

// Text with the format's escapes: backslash and line feed, and in label values (quoted) the
// double quote too.
std::string escaped(std::string_view text, bool quoted) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || (quoted && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}
std::string label_value(std::string_view text) {
  return escaped(text, true);
}

// A sample's value: integers as their exact digits, doubles in the shortest form that reads back
// the same, booleans as 0 and 1; nothing for strings and nulls.
std::optional<std::string> sample_value(const Json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (!value.is_number_float()) return std::nullopt;
  const double d = value.get<double>();
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

// A setting's value as label text.
std::string setting_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  return to_json_text(value);
}

std::string family_header(std::string_view name, std::string_view type, std::string_view help) {
  std::string out = "# HELP zsfs_";
  out += name;
  out += ' ';
  out += escaped(help, false);
  out += "\n# TYPE zsfs_";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  return out;
}

}  // namespace

std::string render_prometheus(std::span<const MountStats> mounts) {
  std::vector<std::vector<StatsLeaf>> leaves;
  leaves.reserve(mounts.size());
  for (const MountStats& mount : mounts)
    leaves.push_back(stats_leaves(mount.stats));

  std::string out;
  // zsfs_info first: what produced the figures.
  bool any_setting = false;
  std::string info;
  for (size_t m = 0; m < mounts.size(); ++m) {
    std::string labels = "mountpoint=\"" + label_value(mounts[m].mount_point) + "\"";
    for (const StatsLeaf& leaf : leaves[m]) {
      if (leaf.rule == nullptr || leaf.rule->kind != MetricKind::kSetting) continue;
      any_setting = true;
      labels += ",";
      labels += leaf.rule->name;
      labels += "=\"" + label_value(setting_text(*leaf.value)) + "\"";
    }
    info += "zsfs_info{" + labels + "} 1\n";
  }
  if (any_setting) {
    out += family_header("info", "gauge", "The mount's settings, as labels; always 1");
    out += info;
  }

  for (const MetricRule& rule : metric_rules()) {
    if (rule.kind != MetricKind::kCounter && rule.kind != MetricKind::kGauge) continue;
    std::string samples;
    for (size_t m = 0; m < mounts.size(); ++m) {
      for (const StatsLeaf& leaf : leaves[m]) {
        if (leaf.rule != &rule) continue;
        const std::optional<std::string> value = sample_value(*leaf.value);
        if (!value) continue;
        samples += "zsfs_";
        samples += rule.name;
        samples += "{mountpoint=\"" + label_value(mounts[m].mount_point) + "\"";
        if (!rule.label.empty()) {
          samples += ",";
          samples += rule.label;
          samples += "=\"" + label_value(leaf.label_value) + "\"";
        }
        samples += "} " + *value + "\n";
      }
    }
    if (samples.empty()) continue;
    out += family_header(rule.name, rule.kind == MetricKind::kCounter ? "counter" : "gauge",
                         rule.help);
    out += samples;
  }
  return out;
}

}  // namespace zsfs::ctl
