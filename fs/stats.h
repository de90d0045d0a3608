// Statistics of the filesystem core: pool-wide and per file, as plain snapshots with a JSON form.
//
// Field names mirror zram's mm_stat where the meaning matches (orig_data_size, compr_data_size,
// mem_used_total, mem_limit, mem_used_max, same_pages, pages_compacted, huge_pages).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "base/json_fwd.h"
#include "pool/stats.h"

namespace zsfs::fs {

// A section that a layer above the core adds to user.zsfs.stats (mount/ adds its FUSE request
// counts): value gives the JSON value put under key, taken at every read of the statistics.
struct StatsSection {
  std::string key;
  std::function<Json()> value;
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
  uint64_t metadata_bytes = 0;   // inode_bytes + block_map_bytes + dedup_bytes + pool metadata
  uint64_t inode_bytes = 0;      // inodes, directory entries, symlink targets, xattrs
  uint64_t block_map_bytes = 0;
  uint64_t dedup_bytes = 0;  // the dedup store's entries and index
  uint64_t pool_metadata_bytes = 0;

  // Compaction.
  uint64_t compactions = 0;  // compaction runs, on demand and automatic

  // Settings, so a reader knows what produced the figures.
  std::string algorithm;
  int level = 0;
  bool dedup = true;

  pool::PoolStats pool;

  // How many times smaller the unique stored blocks became: (unique_blocks * 4096) /
  // compr_data_size, dedup and same-filled blocks left out; 0 when nothing is stored.
  double compression_ratio() const;
  // The figures as one JSON object, followed by the sections' (after "pool").
  std::string to_json(std::span<const StatsSection> sections = {}) const;
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
