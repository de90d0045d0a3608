// Statistics of the filesystem core: pool-wide and per file, as plain snapshots with a JSON form.
//
// Field names mirror zram's mm_stat where the meaning matches (orig_data_size, compr_data_size,
// mem_used_total, mem_limit, mem_used_max, same_pages, pages_compacted, huge_pages).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/json_fwd.h"
#include "pool/stats.h"

namespace zsfs::fs {

// A section that a layer above the core adds to user.zsfs.stats (mount/ adds its FUSE request
// counts): value gives the JSON value put under key, taken at every read of the statistics.
struct StatsSection {
  std::string key;
  std::function<Json()> value;
};

// Stored blocks of one encoding.
struct EncodingStats {
  uint64_t blocks = 0;
  uint64_t stored_bytes = 0;
};

// One live dictionary (fs/dictionary_set.h).
struct DictionaryStats {
  uint8_t slot = 0;
  uint32_t dict_id = 0;       // the id in its header
  uint64_t size_bytes = 0;    // its content
  uint64_t memory_bytes = 0;  // content and digested forms, as charged
  uint64_t blocks = 0;        // stored blocks compressed with it
  uint64_t stored_bytes = 0;  // their payloads
  bool current = false;       // used for new compressions
};

// The recompressor's work (fs/recompressor.h).
struct RecompressorStats {
  uint64_t passes = 0;         // passes finished, automatic and requested
  uint64_t requests = 0;       // passes requested, ever
  uint64_t requests_done = 0;  // of which finished
  uint64_t tried = 0;          // blocks re-encoded
  uint64_t kept = 0;           // of which the smaller result was kept
  uint64_t failed = 0;         // of which could not be decoded or found no memory
  uint64_t bytes_before = 0;   // stored bytes of the kept blocks before
  uint64_t bytes_after = 0;    // and after
  uint64_t trainings = 0;      // dictionaries trained and installed
  uint64_t training_failures = 0;
  // Trained for a grown store and not installed: no better than the current one.
  uint64_t trainings_discarded = 0;
  uint64_t reclaims = 0;             // direct recompressions, for writers the budget refused
  uint64_t reclaimed_bytes = 0;      // by which they shrank the stored blocks
  double dict_gain = 0;              // last measured share a dictionary saves at the level (0..1)
  double dict_gain_new = 0;          // the same when the current dictionary was new
  double last_training_seconds = 0;  // what the last training took (sampling included)
  uint64_t paced_waits = 0;          // batches and trainings that waited for the foreground
  double paced_seconds = 0;          // and how long they waited
  bool busy = false;                 // a pass is running
};

struct Stats {
  // As zram's mm_stat.
  uint64_t orig_data_size = 0;   // bytes of file data held in blocks (data blocks * 4096)
  uint64_t compr_data_size = 0;  // bytes of the stored (compressed or raw) unique blocks
  uint64_t mem_used_total = 0;   // everything charged: pool pages and metadata
  uint64_t mem_limit = 0;        // the memory budget
  uint64_t mem_used_max = 0;     // the peak of mem_used_total
  uint64_t same_pages = 0;       // data blocks kept as one repeated word (no pool memory)
  uint64_t pages_compacted = 0;  // pool pages freed by compaction, ever
  uint64_t huge_pages = 0;       // unique blocks kept raw because they did not compress
  uint64_t staged_blocks = 0;    // blocks kept raw until the background compresses them

  // Files.
  uint64_t logical_bytes = 0;      // sum of regular files' sizes
  uint64_t hole_bytes = 0;         // bytes of those sizes that are holes
  uint64_t data_blocks = 0;        // block map entries that hold data (same-filled included)
  uint64_t unique_blocks = 0;      // blocks stored in the pool
  uint64_t shared_refs = 0;        // references to stored blocks beyond the first (dedup)
  uint64_t dedup_saved_bytes = 0;  // data bytes not stored thanks to dedup
  uint64_t inodes = 0;
  uint64_t inode_limit = 0;

  // Where the memory goes.
  uint64_t pool_pages = 0;
  double pool_efficiency = 1.0;  // compr_data_size / pool bytes
  // inode_bytes + block_map_bytes + dedup_bytes + pool metadata + dictionary_bytes
  uint64_t metadata_bytes = 0;
  uint64_t inode_bytes = 0;  // inodes, directory entries, symlink targets, xattrs
  uint64_t block_map_bytes = 0;
  uint64_t dedup_bytes = 0;  // the dedup store's entries and index
  uint64_t pool_metadata_bytes = 0;
  uint64_t dictionary_bytes = 0;  // live dictionaries, content and digested forms

  // Compaction.
  uint64_t compactions = 0;  // compaction runs, on demand and automatic

  // The codec tiers: stored blocks by encoding (indexed by codec::Encoding: same-filled stays
  // empty), those the recompressor has yet to see, the dictionaries and the recompressor.
  std::array<EncodingStats, 4> encodings{};
  uint64_t unsettled_blocks = 0;
  std::vector<DictionaryStats> dictionaries;
  uint64_t dictionaries_installed = 0;  // ever
  RecompressorStats recompressor;

  // Settings, so a reader knows what produced the figures.
  std::string algorithm;             // what writes store when they compress themselves
  std::string background_algorithm;  // what the background encoder stores ("" when none runs)
  int level = 0;
  bool dedup = true;
  std::string recompress;  // "zstd" or "off"
  int recompress_level = 0;
  int64_t recompress_after = 0;  // seconds; -1: on request only
  bool dict = true;
  uint64_t dict_size = 0;

  pool::PoolStats pool;

  // How many times smaller the unique stored blocks became: (unique_blocks * 4096) /
  // compr_data_size, dedup and same-filled blocks left out; 0 when nothing is stored.
  double compression_ratio() const;
  // The figures as one JSON object, followed by the sections' (after "pool").
  std::string to_json(std::span<const StatsSection> sections = {}) const;
  Json encodings_json() const;
  Json dictionaries_json() const;
  Json recompressor_json() const;
};

struct FileStats {
  uint64_t ino = 0;
  bool directory = false;
  uint64_t files = 0;          // regular files counted (1 for a file; the subtree's for a dir)
  uint64_t logical_bytes = 0;  // file sizes
  uint64_t data_blocks = 0;
  uint64_t same_blocks = 0;
  uint64_t stored_blocks = 0;  // blocks referring to pool objects
  uint64_t stored_bytes = 0;   // compressed bytes of those blocks (shared ones included)
  uint64_t shared_blocks = 0;  // blocks whose stored object has other references too
  uint64_t hole_bytes = 0;

  std::string to_json() const;
};

}  // namespace zsfs::fs
