// The size-class table: chain choice, merging and the huge threshold, as zs_create_pool() does.
//
// Owns nothing but the immutable table. Invariants are those of size_class.h; the constructor
// checks the ones the rest of the pool relies on (slot indices fit the handle encoding).
#include "pool/size_class.h"

#include <algorithm>

#include "base/check.h"
#include "pool/pool.h"

namespace zsfs::pool {

unsigned zspage_chain_pages(size_t class_size_bytes, unsigned max_pages) {
  ZSFS_CHECK(class_size_bytes > 0 && class_size_bytes <= kPageSize);
  // Used fraction of an i-page zspage: used(i) / (i * 4096), used(i) = floor(i*4096/size)*size.
  // Compare used(i)/(i*P) > used(best)/(best*P) as used(i)*best > used(best)*i (exact).
  unsigned best_pages = 1;
  uint64_t best_used = kPageSize / class_size_bytes * class_size_bytes;
  for (unsigned pages = 2; pages <= max_pages; ++pages) {
    const uint64_t zspage_bytes = uint64_t{pages} * kPageSize;
    const uint64_t used = zspage_bytes / class_size_bytes * class_size_bytes;
    if (used * best_pages > best_used * pages) {
      best_pages = pages;
      best_used = used;
    }
  }
  return best_pages;
}

namespace {

// get_size_class_index() of mm/zsmalloc.c: sizes up to 32 use class 0, then one class per step.
size_t kernel_class_index(size_t size_bytes) {
  if (size_bytes <= kMinClassSize) return 0;
  return std::min((size_bytes - kMinClassSize + kClassDelta - 1) / kClassDelta,
                  kKernelClassCount - 1);
}

}  // namespace

SizeClassTable::SizeClassTable(unsigned max_pages_per_zspage)
    : max_pages_per_zspage_(max_pages_per_zspage), class_of_kernel_index_(kKernelClassCount) {
  ZSFS_CHECK_MSG(max_pages_per_zspage >= kMinChainPages && max_pages_per_zspage <= kMaxChainPages,
                 "zspage chain limit out of range");
  // From the largest size down, as zs_create_pool() does: a size whose chain and object count
  // equal those of the class just above it is served by that (larger) class.
  std::vector<SizeClass> descending;
  std::vector<size_t> descending_of_kernel_index(kKernelClassCount);
  for (size_t k = kKernelClassCount; k-- > 0;) {
    const size_t size = kMinClassSize + k * kClassDelta;
    const unsigned pages = zspage_chain_pages(size, max_pages_per_zspage);
    const auto objects = static_cast<uint32_t>(pages * kPageSize / size);
    if (!descending.empty() && descending.back().pages_per_zspage == pages &&
        descending.back().objects_per_zspage == objects) {
      descending_of_kernel_index[k] = descending.size() - 1;
      continue;
    }
    descending.push_back(SizeClass{.index = 0,
                                   .size_bytes = static_cast<uint32_t>(size),
                                   .pages_per_zspage = pages,
                                   .objects_per_zspage = objects,
                                   .huge = pages == 1 && objects == 1});
    descending_of_kernel_index[k] = descending.size() - 1;
  }

  classes_.assign(descending.rbegin(), descending.rend());
  for (size_t i = 0; i < classes_.size(); ++i)
    classes_[i].index = static_cast<uint32_t>(i);
  for (size_t k = 0; k < kKernelClassCount; ++k) {
    class_of_kernel_index_[k] =
        static_cast<uint32_t>(classes_.size() - 1 - descending_of_kernel_index[k]);
  }

  // Every size above 2048 fits once in a page, and 4096 exactly once, so the largest class is
  // always huge; the threshold is one past the largest class below the run of huge ones.
  ZSFS_CHECK(classes_.back().huge);
  size_t first_huge = classes_.size() - 1;
  while (first_huge > 0 && classes_[first_huge - 1].huge)
    --first_huge;
  huge_class_size_ = first_huge == 0 ? 1 : classes_[first_huge - 1].size_bytes + 1;

  for (const SizeClass& c : classes_) {
    // The handle-table entry keeps an object's slot index in 11 bits (see handle.h).
    ZSFS_CHECK(c.objects_per_zspage >= 1 && c.objects_per_zspage <= 2048);
    ZSFS_CHECK(c.size_bytes % kClassDelta == 0);
  }
}

const SizeClass& SizeClassTable::class_for_size(size_t size_bytes) const {
  ZSFS_CHECK_MSG(size_bytes >= 1 && size_bytes <= kMaxObjectSize, "object size out of range");
  return classes_[class_of_kernel_index_[kernel_class_index(size_bytes)]];
}

}  // namespace zsfs::pool
