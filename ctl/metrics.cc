#include "ctl/metrics.h"

#include <array>

namespace zsfs::ctl {
namespace {

using enum MetricKind;

// Names follow Prometheus' conventions: base units (bytes), "_total" on counters and only there,
// "_ratio" on ratios. Help texts say what zsfs(8) says of each field.
constexpr std::array kRules = {
    // zram's mm_stat figures.
    MetricRule{"orig_data_size", kGauge, "orig_data_size_bytes", "",
               "Bytes of file data held in blocks (data blocks * 4096)"},
    MetricRule{"compr_data_size", kGauge, "compr_data_size_bytes", "",
               "Bytes the unique stored blocks take, compressed or raw"},
    MetricRule{"mem_used_total", kGauge, "memory_used_bytes", "",
               "Memory charged to the budget: pool pages and metadata"},
    MetricRule{"mem_limit", kGauge, "memory_limit_bytes", "", "The memory budget (size=)"},
    MetricRule{"mem_used_max", kGauge, "memory_used_max_bytes", "",
               "The peak of memory_used_bytes since the mount"},
    MetricRule{"same_pages", kGauge, "same_filled_blocks", "",
               "Data blocks kept as one repeated 8-byte word, without pool memory"},
    MetricRule{"pages_compacted", kCounter, "compacted_pages_total", "",
               "Pool pages freed by compaction since the mount"},
    MetricRule{"huge_pages", kGauge, "incompressible_blocks", "",
               "Unique blocks kept raw because they did not compress"},
    MetricRule{"staged_blocks", kGauge, "staged_blocks", "",
               "Blocks kept raw until the background compresses them"},
    // Files.
    MetricRule{"logical_bytes", kGauge, "file_size_bytes", "", "Sum of regular files' sizes"},
    MetricRule{"hole_bytes", kGauge, "hole_bytes", "", "Bytes of file sizes that are holes"},
    MetricRule{"data_blocks", kGauge, "data_blocks", "",
               "Block map entries holding data, same-filled blocks included"},
    MetricRule{"unique_blocks", kGauge, "unique_blocks", "", "Blocks stored in the pool"},
    MetricRule{"shared_refs", kGauge, "shared_references", "",
               "References to stored blocks beyond the first (deduplication)"},
    MetricRule{"dedup_saved_bytes", kGauge, "dedup_saved_bytes", "",
               "Data bytes not stored thanks to deduplication"},
    MetricRule{"compression_ratio", kGauge, "compression_ratio", "",
               "Unique blocks' bytes over their compressed bytes"},
    MetricRule{"inodes", kGauge, "inodes", "", "Inodes in use"},
    MetricRule{"inode_limit", kGauge, "inode_limit", "", "The inode limit (nr_inodes=)"},
    // Where the memory goes.
    MetricRule{"pool_pages", kGauge, "pool_pages", "", "4 KiB pages the pool holds"},
    MetricRule{"pool_efficiency", kGauge, "pool_efficiency_ratio", "",
               "Bytes stored in the pool over the bytes of its pages"},
    MetricRule{"metadata_bytes", kGauge, "metadata_bytes", "",
               "Memory for everything but the pool's pages"},
    MetricRule{"inode_bytes", kGauge, "inode_metadata_bytes", "",
               "Memory for inodes, directory entries, symlink targets and xattrs"},
    MetricRule{"block_map_bytes", kGauge, "block_map_bytes", "", "Memory for block maps"},
    MetricRule{"dedup_bytes", kGauge, "dedup_index_bytes", "",
               "Memory for the dedup store's entries and index"},
    MetricRule{"pool_metadata_bytes", kGauge, "pool_metadata_bytes", "",
               "Memory for the pool's handle tables and zspage records"},
    MetricRule{"compactions", kCounter, "compactions_total", "",
               "Compaction runs since the mount, on demand and automatic"},
    // Settings.
    MetricRule{"algorithm", kSetting, "algorithm", "", ""},
    MetricRule{"level", kSetting, "level", "", ""},
    MetricRule{"dedup", kSetting, "dedup", "", ""},
    // The pool's own figures.
    MetricRule{"pool.objects", kGauge, "pool_objects", "", "Objects stored in the pool"},
    MetricRule{"pool.bytes_stored", kGauge, "pool_stored_bytes", "",
               "Requested sizes of the pool's live objects"},
    MetricRule{"pool.huge_objects", kGauge, "pool_huge_objects", "",
               "Pool objects that take a page of their own"},
    MetricRule{"pool.huge_class_size", kGauge, "pool_huge_class_size_bytes", "",
               "Objects of this size and more take a page of their own"},
    MetricRule{"pool.pages_held", kLeftOut, "", "", "the same figure as pool_pages"},
    MetricRule{"pool.efficiency", kLeftOut, "", "", "the same figure as pool_efficiency"},
    MetricRule{"pool.pages_compacted", kLeftOut, "", "", "the same figure as pages_compacted"},
    MetricRule{"pool.metadata_bytes", kLeftOut, "", "", "the same figure as pool_metadata_bytes"},
    // FUSE requests (mount/request_counters.h).
    MetricRule{"requests.total", kLeftOut, "", "", "the sum of requests.*"},
    MetricRule{"requests.*", kCounter, "requests_total", "op",
               "FUSE requests served since the mount, by operation"},
};

// Whether path matches pattern, segment by segment ('.' separated; a '*' matches any one
// segment, which goes to captured).
bool matches(std::string_view pattern, std::string_view path, std::string& captured) {
  std::string_view wildcard;
  for (;;) {
    const size_t p_end = pattern.find('.');
    const size_t s_end = path.find('.');
    const std::string_view p = pattern.substr(0, p_end);
    const std::string_view s = path.substr(0, s_end);
    if (p == "*") {
      wildcard = s;
    } else if (p != s) {
      return false;
    }
    if (p_end == std::string_view::npos || s_end == std::string_view::npos) {
      if (p_end != s_end) return false;
      captured = wildcard;
      return true;
    }
    pattern.remove_prefix(p_end + 1);
    path.remove_prefix(s_end + 1);
  }
}

void collect(const Json& value, const std::string& path, std::vector<StatsLeaf>& out) {
  if (value.is_structured()) {
    const bool array = value.is_array();
    size_t index = 0;
    for (const auto& [key, item] : value.items()) {
      const std::string name = array ? std::to_string(index++) : key;
      collect(item, path.empty() ? name : path + "." + name, out);
    }
    return;
  }
  StatsLeaf leaf{path, &value, nullptr, ""};
  for (const MetricRule& rule : kRules) {
    if (matches(rule.path, path, leaf.label_value)) {
      leaf.rule = &rule;
      break;
    }
  }
  out.push_back(std::move(leaf));
}

}  // namespace

std::span<const MetricRule> metric_rules() {
  return kRules;
}

std::vector<StatsLeaf> stats_leaves(const Json& stats) {
  std::vector<StatsLeaf> leaves;
  collect(stats, "", leaves);
  return leaves;
}

std::optional<double> leaf_number(const Json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

std::optional<uint64_t> leaf_count(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return std::nullopt;
}

}  // namespace zsfs::ctl
