// The size-class table of the pool, computed once from the chain limit, as mm/zsmalloc.c does.
//
// Sizes run from kMinClassSize to 4096 in kClassDelta steps. For each size the table picks the
// zspage chain length (1..max pages) that leaves the fewest unused bytes, then merges runs of
// classes with the same pages-per-zspage and objects-per-zspage into the largest of them (a
// smaller object then uses the larger class, which costs nothing extra per zspage).
//
// Invariants: class_for_size(n) is the smallest class whose size >= n; a huge class holds one
// object per single-page zspage, and every size >= huge_class_size() maps to one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zsfs::pool {

inline constexpr size_t kMinClassSize = 32;
inline constexpr size_t kClassDelta = 16;

struct SizeClass {
  uint32_t index;               // position in SizeClassTable::classes()
  uint32_t size_bytes;          // the slot size of every object in this class
  uint32_t pages_per_zspage;    // chain length, 1..max
  uint32_t objects_per_zspage;  // floor(pages_per_zspage * 4096 / size_bytes)
  bool huge;                    // one object per single-page zspage
};

class SizeClassTable {
 public:
  // max_pages_per_zspage must be in 1..16 (checked).
  explicit SizeClassTable(unsigned max_pages_per_zspage);

  // The merged classes, smallest size first.
  const std::vector<SizeClass>& classes() const { return classes_; }
  // The class that serves objects of size_bytes (1..4096, checked).
  const SizeClass& class_for_size(size_t size_bytes) const;
  // The smallest object size that is served by a huge class.
  size_t huge_class_size() const { return huge_class_size_; }
  unsigned max_pages_per_zspage() const { return max_pages_per_zspage_; }

 private:
  unsigned max_pages_per_zspage_;
  std::vector<SizeClass> classes_;
  // For each 16-byte size step (index (size - 1) / kClassDelta, sizes below 32 folded into the
  // first), the index into classes_.
  std::vector<uint32_t> class_of_step_;
  size_t huge_class_size_ = 0;
};

}  // namespace zsfs::pool
