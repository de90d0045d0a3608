// The size-class table of the pool, computed once from the chain limit, as mm/zsmalloc.c does.
//
// Sizes run from kMinClassSize to 4096 in kClassDelta steps (the kernel's 255 classes). For each
// size the table picks the zspage chain length (1..max pages) that leaves the smallest fraction of
// the zspage unused, then merges runs of classes with the same pages-per-zspage and
// objects-per-zspage into the largest of them (a smaller object then uses the larger class, which
// costs nothing extra per zspage).
//
// Invariants: class_for_size(n) is the smallest class whose size >= n; a huge class holds one
// object per single-page zspage, and every size >= huge_class_size() maps to one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zsfs::pool {

// The kernel's ZS_MIN_ALLOC_SIZE: room for the free-list link it keeps inside a free object, and
// small enough that the tail of a compressed 4 KiB block still fits a class with little waste.
inline constexpr size_t kMinClassSize = 32;
// The kernel's ZS_SIZE_CLASS_DELTA (PAGE_SIZE >> CLASS_BITS with 8 class bits): 16-byte steps
// waste at most 15 bytes per object. Every class size is a multiple of it, so every object
// starts at a 16-byte aligned page offset.
inline constexpr size_t kClassDelta = 16;
// The kernel's ZS_SIZE_CLASSES: one class per step from 32 to 4096.
inline constexpr size_t kKernelClassCount = (4096 - kMinClassSize) / kClassDelta + 1;

struct SizeClass {
  uint32_t index;               // position in SizeClassTable::classes()
  uint32_t size_bytes;          // the slot size of every object in this class
  uint32_t pages_per_zspage;    // chain length, 1..max
  uint32_t objects_per_zspage;  // floor(pages_per_zspage * 4096 / size_bytes)
  bool huge;                    // one object per single-page zspage
};

// The chain length, 1..max_pages, whose zspage leaves the smallest fraction unused when filled
// with class_size_bytes objects; ties go to the shorter chain. This is the kernel's
// get_pages_per_zspage() (maximise the used percentage) with an exact comparison instead of
// integer percents.
unsigned zspage_chain_pages(size_t class_size_bytes, unsigned max_pages);

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
  // For each of the kernel's 255 class sizes (index as get_size_class_index() computes it), the
  // index into classes_ of the merged class that serves it.
  std::vector<uint32_t> class_of_kernel_index_;
  size_t huge_class_size_ = 0;
};

}  // namespace zsfs::pool
