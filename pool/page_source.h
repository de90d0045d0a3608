// PageSource: where the pool gets its 4 KiB pages from, one page at a time.
//
// Pages are carved from large anonymous mappings (so the process does not need one mapping per
// page, which would run into vm.max_map_count), handed out one at a time, and a released page is
// given back to the kernel at once with madvise(MADV_DONTNEED): resident memory drops, the
// address stays reserved and is reused by a later allocate(). Each page held is charged to the
// MemoryBudget.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/budget.h"
#include "base/result.h"

namespace zsfs::pool {

class PageSource {
 public:
  explicit PageSource(MemoryBudget* budget);
  ~PageSource();  // every page must have been released (checked)
  PageSource(const PageSource&) = delete;
  PageSource& operator=(const PageSource&) = delete;

  // A zero-filled 4 KiB page. ENOSPC when the budget refuses it, ENOMEM when the host does.
  Result<std::byte*> allocate();
  // Gives the page back; its memory returns to the operating system before this returns.
  void release(std::byte* page);

  uint64_t pages_held() const;
};

}  // namespace zsfs::pool
