#include "ctl/metrics.h"

#include <array>
#include <optional>

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
    MetricRule{"dictionary_bytes", kGauge, "dictionaries_memory_bytes", "",
               "Memory for the live dictionaries, content and digested forms"},
    MetricRule{"compactions", kCounter, "compactions_total", "",
               "Compaction runs since the mount, on demand and automatic"},
    // Settings.
    MetricRule{"algorithm", kSetting, "algorithm", "", ""},
    MetricRule{"level", kSetting, "level", "", ""},
    MetricRule{"background_algorithm", kSetting, "background_algorithm", "", ""},
    MetricRule{"dedup", kSetting, "dedup", "", ""},
    MetricRule{"recompress", kSetting, "recompress", "", ""},
    MetricRule{"recompress_level", kSetting, "recompress_level", "", ""},
    MetricRule{"recompress_after", kSetting, "recompress_after", "", ""},
    MetricRule{"dict", kSetting, "dict", "", ""},
    MetricRule{"dict_size", kSetting, "dict_size", "", ""},
    // The codec tiers: stored blocks by encoding, the dictionaries, the recompressor.
    MetricRule{"unsettled_blocks", kGauge, "unsettled_blocks", "",
               "Stored blocks the recompressor has yet to see"},
    MetricRule{"encodings.*.blocks", kGauge, "encoding_blocks", "encoding",
               "Unique stored blocks by encoding"},
    MetricRule{"encodings.*.stored_bytes", kGauge, "encoding_stored_bytes", "encoding",
               "Bytes the unique stored blocks take, by encoding"},
    MetricRule{"encodings.*.data_bytes", kLeftOut, "", "", "encoding_blocks * 4096"},
    MetricRule{"dictionaries.live", kGauge, "dictionaries", "", "Live dictionaries"},
    MetricRule{"dictionaries.installed", kCounter, "dictionaries_installed_total", "",
               "Dictionaries installed since the mount"},
    MetricRule{"dictionaries.memory_bytes", kLeftOut, "", "",
               "the same figure as dictionary_bytes"},
    MetricRule{"dictionaries.list.*.slot", kLeftOut, "", "", "the label of each dictionary"},
    MetricRule{"dictionaries.list.*.id", kLeftOut, "", "",
               "an identity, in the JSON; the slot names the dictionary"},
    MetricRule{"dictionaries.list.*.size_bytes", kGauge, "dictionary_size_bytes", "slot",
               "A dictionary's content"},
    MetricRule{"dictionaries.list.*.memory_bytes", kGauge, "dictionary_memory_bytes", "slot",
               "Memory for a dictionary, content and digested forms"},
    MetricRule{"dictionaries.list.*.blocks", kGauge, "dictionary_blocks", "slot",
               "Stored blocks compressed with a dictionary"},
    MetricRule{"dictionaries.list.*.stored_bytes", kGauge, "dictionary_stored_bytes", "slot",
               "Bytes the blocks compressed with a dictionary take"},
    MetricRule{"dictionaries.list.*.data_bytes", kLeftOut, "", "", "dictionary_blocks * 4096"},
    MetricRule{"dictionaries.list.*.current", kGauge, "dictionary_current", "slot",
               "1 for the dictionary new compressions use"},
    MetricRule{"recompressor.busy", kGauge, "recompressor_busy", "",
               "1 while a recompression pass runs"},
    MetricRule{"recompressor.passes", kCounter, "recompressor_passes_total", "",
               "Recompression passes finished, automatic and requested"},
    MetricRule{"recompressor.requests", kCounter, "recompressor_requests_total", "",
               "Recompression passes requested"},
    MetricRule{"recompressor.requests_done", kCounter, "recompressor_requests_done_total", "",
               "Requested recompression passes finished"},
    MetricRule{"recompressor.tried", kCounter, "recompressor_tried_blocks_total", "",
               "Blocks the recompressor re-encoded"},
    MetricRule{"recompressor.kept", kCounter, "recompressor_kept_blocks_total", "",
               "Re-encoded blocks whose smaller result was kept"},
    MetricRule{"recompressor.failed", kCounter, "recompressor_failed_blocks_total", "",
               "Blocks the recompressor could not decode or found no memory for"},
    MetricRule{"recompressor.bytes_before", kCounter, "recompressor_before_bytes_total", "",
               "Stored bytes of the kept blocks before recompression"},
    MetricRule{"recompressor.bytes_after", kCounter, "recompressor_after_bytes_total", "",
               "Stored bytes of the kept blocks after recompression"},
    MetricRule{"recompressor.trainings", kCounter, "recompressor_trainings_total", "",
               "Dictionaries trained and installed"},
    MetricRule{"recompressor.training_failures", kCounter, "recompressor_training_failures_total",
               "", "Dictionary trainings that failed"},
    MetricRule{"recompressor.trainings_discarded", kCounter,
               "recompressor_trainings_discarded_total", "",
               "Dictionaries trained for a grown store and discarded: no better than the current"},
    MetricRule{"recompressor.reclaims", kCounter, "recompressor_reclaims_total", "",
               "Direct recompressions for writers the budget refused"},
    MetricRule{"recompressor.reclaimed_bytes", kCounter, "recompressor_reclaimed_bytes_total", "",
               "Stored bytes direct recompressions gave back"},
    MetricRule{"recompressor.dict_gain", kGauge, "recompressor_dict_gain_ratio", "",
               "Share of the stored bytes a dictionary saves at the level, last measured"},
    MetricRule{"recompressor.dict_gain_new", kGauge, "recompressor_dict_gain_new_ratio", "",
               "The same, measured when the current dictionary was new"},
    MetricRule{"recompressor.last_training_seconds", kGauge, "recompressor_last_training_seconds",
               "", "What the last dictionary training took, sampling included"},
    MetricRule{"recompressor.paced_waits", kCounter, "recompressor_paced_waits_total", "",
               "Batches and trainings that waited for the foreground"},
    MetricRule{"recompressor.paced_seconds", kGauge, "recompressor_paced_seconds", "",
               "Time the recompressor has waited for the foreground, in all"},
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
    // The image (image=; fs/image_saver.h).
    MetricRule{"image.path", kSetting, "image", "", ""},
    MetricRule{"image.save_interval", kSetting, "save_interval", "", ""},
    MetricRule{"image.busy", kGauge, "image_saving", "", "1 while an image save runs"},
    MetricRule{"image.requests", kCounter, "image_save_requests_total", "",
               "Saves asked for (zsfsctl save) since the mount"},
    MetricRule{"image.requests_done", kCounter, "image_save_requests_done_total", "",
               "Of which a save has served"},
    MetricRule{"image.saves", kCounter, "image_saves_total", "", "Image saves since the mount"},
    MetricRule{"image.failures", kCounter, "image_save_failures_total", "",
               "Image saves that failed (the previous image stayed)"},
    MetricRule{"image.skipped", kCounter, "image_saves_skipped_total", "",
               "Periodic and last saves skipped because nothing had changed"},
    MetricRule{"image.loaded.bytes", kGauge, "image_loaded_bytes", "",
               "The size of the image loaded at mount"},
    MetricRule{"image.loaded.inodes", kLeftOut, "", "", "as inodes, at mount"},
    MetricRule{"image.loaded.blocks", kLeftOut, "", "", "as unique_blocks, at mount"},
    MetricRule{"image.loaded.dictionaries", kLeftOut, "", "", "as dictionaries, at mount"},
    MetricRule{"image.loaded.blocks_seconds", kLeftOut, "", "",
               "a part of image_load_seconds (the two overlap), in the JSON"},
    MetricRule{"image.loaded.metadata_seconds", kLeftOut, "", "",
               "a part of image_load_seconds (the two overlap), in the JSON"},
    MetricRule{"image.loaded.seconds", kGauge, "image_load_seconds", "",
               "How long loading the image at mount took"},
    MetricRule{"image.last.ok", kGauge, "image_last_save_ok", "",
               "1 when the last image save succeeded"},
    MetricRule{"image.last.error", kLeftOut, "", "", "a message, in the JSON"},
    MetricRule{"image.last.time", kGauge, "image_last_save_time_seconds", "",
               "When the last image save ended, in seconds since the epoch"},
    MetricRule{"image.last.bytes", kGauge, "image_bytes", "", "The last image's size"},
    MetricRule{"image.last.inodes", kLeftOut, "", "", "as inodes, then"},
    MetricRule{"image.last.blocks", kLeftOut, "", "", "as unique_blocks, then"},
    MetricRule{"image.last.dictionaries", kLeftOut, "", "", "as dictionaries, then"},
    MetricRule{"image.last.seconds", kGauge, "image_last_save_seconds", "",
               "How long the last image save took"},
    MetricRule{"image.last.pause_seconds", kGauge, "image_last_save_pause_seconds", "",
               "How long writes waited during the last image save"},
    MetricRule{"image.last.sync_seconds", kLeftOut, "", "",
               "a share of image_last_save_seconds, in the JSON"},
    // The backing file (backing=; fs/writeback.h, disk/backing_file.h), named as zram's bd_stat.
    MetricRule{"backing.path", kSetting, "backing", "", ""},
    MetricRule{"backing.limit_bytes", kSetting, "backing_size", "", ""},
    MetricRule{"backing.unit_bytes", kSetting, "backing_unit", "", ""},
    MetricRule{"backing.direct_io", kSetting, "backing_direct_io", "", ""},
    MetricRule{"backing.writeback_after", kSetting, "writeback_after", "", ""},
    MetricRule{"backing.low_water_bytes", kSetting, "backing_low_water", "", ""},
    MetricRule{"backing.bd_count", kGauge, "backing_blocks", "",
               "Blocks in the backing file (zram's bd_count)"},
    MetricRule{"backing.bd_bytes", kGauge, "backing_stored_bytes", "",
               "Bytes of the blocks in the backing file"},
    MetricRule{"backing.allocated_bytes", kGauge, "backing_allocated_bytes", "",
               "Bytes of the backing file's units in use"},
    MetricRule{"backing.file_bytes", kGauge, "backing_file_bytes", "", "The backing file's length"},
    MetricRule{"backing.disk_bytes", kGauge, "backing_disk_bytes", "",
               "What the backing file takes on disk, freed space punched out"},
    MetricRule{"backing.bd_reads", kCounter, "backing_reads_total", "",
               "Blocks read from the backing file (zram's bd_reads)"},
    MetricRule{"backing.bd_writes", kCounter, "backing_writes_total", "",
               "Blocks written to the backing file (zram's bd_writes)"},
    MetricRule{"backing.read_bytes", kCounter, "backing_read_bytes_total", "",
               "Bytes read from the backing file"},
    MetricRule{"backing.write_bytes", kCounter, "backing_written_bytes_total", "",
               "Bytes written to the backing file"},
    MetricRule{"backing.read_errors", kCounter, "backing_read_errors_total", "",
               "Blocks read from the backing file that failed their checksum (EIO)"},
    MetricRule{"backing.write_errors", kCounter, "backing_write_errors_total", "",
               "Writes to the backing file that failed"},
    MetricRule{"backing.punched_bytes", kCounter, "backing_punched_bytes_total", "",
               "Freed space of the backing file punched out"},
    MetricRule{"backing.bitmap_bytes", kGauge, "backing_bitmap_bytes", "",
               "Memory for the backing file's allocator"},
    MetricRule{"backing.promoted", kCounter, "backing_promoted_blocks_total", "",
               "Blocks a read brought back into memory"},
    MetricRule{"backing.writeback.busy", kGauge, "writeback_busy", "",
               "1 while the writeback thread works"},
    MetricRule{"backing.writeback.requests", kCounter, "writeback_requests_total", "",
               "Writeback passes asked for (zsfsctl writeback)"},
    MetricRule{"backing.writeback.requests_done", kCounter, "writeback_requests_done_total", "",
               "Of which finished"},
    MetricRule{"backing.writeback.pressure_rounds", kCounter, "writeback_pressure_rounds_total", "",
               "Rounds the writeback thread ran because memory was short"},
    MetricRule{"backing.writeback.reliefs", kCounter, "writeback_reliefs_total", "",
               "Rounds run by writers the budget refused"},
    MetricRule{"backing.writeback.idle_passes", kCounter, "writeback_idle_passes_total", "",
               "Passes over blocks stored writeback_after ago"},
    MetricRule{"backing.writeback.moved_blocks", kCounter, "writeback_moved_blocks_total", "",
               "Blocks moved to the backing file"},
    MetricRule{"backing.writeback.moved_bytes", kCounter, "writeback_moved_bytes_total", "",
               "Bytes moved to the backing file"},
    MetricRule{"backing.writeback.failures", kCounter, "writeback_failures_total", "",
               "Batches the backing file refused (full, or a failed write)"},
    MetricRule{"backing.writeback.last_error", kLeftOut, "", "", "a message, in the JSON"},
    // FUSE requests (mount/request_counters.h).
    MetricRule{"requests.total", kLeftOut, "", "", "the sum of requests.*"},
    MetricRule{"requests.*", kCounter, "requests_total", "op",
               "FUSE requests served since the mount, by operation"},
};

// Whether path matches pattern, segment by segment ('.' separated, '*' matching any one
// segment); then the index of the segment '*' matched, or npos.
constexpr size_t kNoWildcard = std::string_view::npos;
std::optional<size_t> match(std::string_view pattern, std::string_view path) {
  size_t wildcard = kNoWildcard;
  for (size_t segment = 0;; ++segment) {
    const size_t p_end = pattern.find('.');
    const size_t s_end = path.find('.');
    const std::string_view p = pattern.substr(0, p_end);
    if (p == "*") {
      wildcard = segment;
    } else if (p != path.substr(0, s_end)) {
      return std::nullopt;
    }
    if (p_end == std::string_view::npos || s_end == std::string_view::npos) {
      if (p_end != s_end) return std::nullopt;
      return wildcard;
    }
    pattern.remove_prefix(p_end + 1);
    path.remove_prefix(s_end + 1);
  }
}

// The value of the label a '*' became: the key it matched, or, for an array item that is an
// object with a member named like the label (a dictionary's "slot"), that member's value, which
// names the item better than its place in the array.
std::string label_value(const MetricRule& rule, const std::string& key, const Json& item) {
  if (!item.is_object()) return key;
  const auto it = item.find(std::string(rule.label));
  if (it == item.end()) return key;
  return it->is_string() ? it->get<std::string>() : to_json_text(*it);
}

// The leaves under value; segments and values hold the path down to it.
void collect(const Json& value, std::vector<std::string>& segments,
             std::vector<const Json*>& values, std::vector<StatsLeaf>& out) {
  if (value.is_structured()) {
    size_t index = 0;
    for (const auto& [key, item] : value.items()) {
      segments.push_back(value.is_array() ? std::to_string(index++) : key);
      values.push_back(&item);
      collect(item, segments, values, out);
      segments.pop_back();
      values.pop_back();
    }
    return;
  }
  StatsLeaf leaf{"", &value, nullptr, ""};
  for (const std::string& segment : segments)
    leaf.path += (leaf.path.empty() ? "" : ".") + segment;
  for (const MetricRule& rule : kRules) {
    const std::optional<size_t> wildcard = match(rule.path, leaf.path);
    if (!wildcard) continue;
    leaf.rule = &rule;
    if (*wildcard != kNoWildcard) {
      leaf.label_value = label_value(rule, segments[*wildcard], *values[*wildcard]);
    }
    break;
  }
  out.push_back(std::move(leaf));
}

}  // namespace

std::span<const MetricRule> metric_rules() {
  return kRules;
}

std::vector<StatsLeaf> stats_leaves(const Json& stats) {
  std::vector<StatsLeaf> leaves;
  std::vector<std::string> segments;
  std::vector<const Json*> values;
  collect(stats, segments, values, leaves);
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
