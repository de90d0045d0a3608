// Statistics of the pool, as a plain snapshot that can be rendered as JSON and as a text table.
//
// Field names follow zsmalloc's debugfs "classes" file where the meaning matches.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"
#include "pool/size_class.h"

namespace zsfs::pool {

// Fullness groups, as in mm/zsmalloc.c: group 0 holds empty zspages, group 11 full ones, groups
// 1..10 zspages whose in-use ratio is in (0,10%], (10,20%], ... (80,90%], (90,100%).
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
};

struct PoolStats {
  std::vector<ClassStats> classes;  // one per merged class, smallest first
  uint64_t pages_held = 0;
  uint64_t objects = 0;
  uint64_t bytes_stored = 0;  // sum of live objects' requested sizes
  uint64_t huge_objects = 0;
  uint64_t pages_compacted = 0;
  uint64_t metadata_bytes = 0;

  // bytes_stored / (pages_held * 4096); 1.0 for an empty pool.
  double efficiency() const;
  // Appends one JSON object with the pool-wide figures; with_classes adds a "classes" array
  // (classes with no zspages are left out).
  void write_json(JsonWriter& json, bool with_classes) const;
  // A table like zsmalloc's debugfs classes file, one line per class that holds zspages.
  std::string classes_text() const;
};

}  // namespace zsfs::pool
