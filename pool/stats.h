// Statistics of the pool, as a plain snapshot that can be rendered as JSON and as a text table.
//
// Field names follow zsmalloc's debugfs "classes" file where the meaning matches. A snapshot is
// taken one class at a time, so under concurrent use the classes are each consistent but not
// with one another.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/json_fwd.h"
#include "pool/size_class.h"

namespace zsfs::pool {

// Fullness groups, as in mm/zsmalloc.c: group 0 holds empty zspages, group 11 full ones, and
// group g in 1..10 zspages whose in-use ratio r has floor(100 r) / 10 == g - 1, i.e. (0,10%),
// [10%,20%), ..., [90%,100%) (the kernel's get_fullness_group()).
inline constexpr size_t kFullnessGroups = 12;

struct ClassStats {
  SizeClass size_class;
  uint64_t zspages = 0;
  uint64_t pages = 0;              // zspages * pages_per_zspage
  uint64_t objects_allocated = 0;  // object slots in this class's zspages
  uint64_t objects_in_use = 0;
  uint64_t bytes_in_use = 0;  // sum of the live objects' requested sizes
  std::array<uint64_t, kFullnessGroups> fullness{};
  uint64_t pages_compacted = 0;  // pages this class freed through compaction, ever
  uint64_t freeable_pages = 0;   // pages compaction could free now (the kernel's zs_can_compact)
  uint64_t metadata_bytes = 0;   // heap bytes charged for this class's handle table and zspages
};

struct PoolStats {
  std::vector<ClassStats> classes;  // one per merged class, smallest first
  uint64_t pages_held = 0;
  uint64_t objects = 0;
  uint64_t bytes_stored = 0;  // sum of live objects' requested sizes
  uint64_t huge_objects = 0;
  uint64_t pages_compacted = 0;
  uint64_t metadata_bytes = 0;
  uint64_t huge_class_size = 0;  // objects of this size and more each take a page

  // bytes_stored / (pages_held * 4096); 1.0 for an empty pool.
  double efficiency() const;
  // One JSON object with the pool-wide figures; with_classes adds a "classes" array (classes
  // with no zspages are left out).
  Json to_json(bool with_classes) const;
  // A table like zsmalloc's debugfs classes file, one line per class that holds zspages, then a
  // Total line. "class" is the kernel's class index, (size - 32) / 16, so that the table can be
  // compared with the kernel's; "compacted" (pages_compacted) is an extra last column.
  std::string classes_text() const;
};

}  // namespace zsfs::pool
