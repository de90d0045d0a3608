// PageSource: where the pool gets its 4 KiB pages from, one page at a time.
//
// Pages are carved from large anonymous mappings (so the process does not need one mapping per
// page, which would run into vm.max_map_count), handed out one at a time, and a released page is
// given back to the kernel at once with madvise(MADV_DONTNEED): resident memory drops, the
// address stays reserved and is reused by a later allocate(). Each page held is charged to the
// MemoryBudget.
//
// Mappings are MAP_NORESERVE (address space only: memory is committed as it is touched) and
// MADV_NOHUGEPAGE, whatever the system's transparent huge page setting: the pool's pages are 4 KiB
// pages, as the kernel's zsmalloc takes order-0 pages (a huge page would keep 2 MiB resident for
// one live 4 KiB page, and each release inside it splits it; see page_source.cc for what split
// huge pages cost). Fresh pages are faulted in ahead, under the mutex: the next 2 MiB where the
// budget has room for them, otherwise 32 pages (MADV_POPULATE_WRITE: one system call instead of
// one fault per page). A mapping none of whose pages is held is unmapped by purge() (with its
// free-list entries, so that the free list's own memory returns after mass deletion), the others
// when the source is destroyed. A page that was never touched or was released reads as zeros. A
// thread with a core to spare may fault in more ahead of a burst of allocations (populate_ahead(),
// outside the mutex), never more than the budget's free room.
//
// Invariants: pages_held() pages are out, each charged kPageSize to the budget; every other
// carved page is on the free list, not resident (of the pages not yet carved, fewer than 512 are
// resident, the rest of the last 2 MiB faulted in, and only when the budget had room for them,
// or as many as populate_ahead() found room for in the budget); a page is out at most once
// (a bitmap per mapping catches a double or foreign release).
//
// Thread-safe: one mutex guards the mappings and the free list; releases' madvise and munmap run
// outside it. Callers may hold their own locks (the pool calls in with a class lock held); the
// source calls nothing that takes a lock of theirs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/budget.h"
#include "base/result.h"
#include "base/sync.h"

namespace zsfs::pool {

struct PageSourceConfig {
  // The first mapping is 2 MiB, so that a small pool reserves little address space; each next one
  // doubles, up to 64 MiB, so that a large pool needs few mappings (24 GiB take 384 of them).
  size_t min_region_bytes = size_t{2} << 20;
  size_t max_region_bytes = size_t{64} << 20;
  // The most address space the source maps in all; past it allocate() fails with ENOMEM. A
  // safety valve (and the way tests reach ENOMEM); unlimited by default.
  uint64_t max_reserved_bytes = UINT64_MAX;
  // Released pages kept resident for reuse, at most this many bytes: giving a page back costs a
  // madvise() and a TLB shootdown on every core, and taking it again a page fault; a page
  // released and soon taken again (a block stored raw, then compressed) needs neither. purge()
  // gives them all back; the filesystem calls it when it is idle and after compaction.
  size_t max_cached_bytes = size_t{4} << 20;
};

class PageSource {
 public:
  explicit PageSource(MemoryBudget* budget, const PageSourceConfig& config = {});
  ~PageSource();  // every page must have been released (checked)
  PageSource(const PageSource&) = delete;
  PageSource& operator=(const PageSource&) = delete;

  // A zero-filled 4 KiB page. ENOSPC when the budget refuses it, ENOMEM when the host does.
  Result<std::byte*> allocate();
  // Gives the page back. Its memory returns to the operating system before this returns, unless
  // it joins the small cache of resident free pages (see PageSourceConfig::max_cached_bytes).
  void release(std::byte* page);
  // Gives several pages back, with one madvise call per run of adjacent pages.
  void release(std::span<std::byte* const> pages);
  // Returns the cached free pages' memory to the operating system, then unmaps every mapping
  // none of whose pages is held, and drops them from the free list (whose memory shrinks with
  // them): after mass deletion the source is back to what it needs for the pages still held.
  void purge();
  uint64_t pages_cached() const;
  // Faults in up to `pages` of the pages allocate() will carve next, outside the mutex, so that a
  // burst of allocations (an image load) finds them resident: for a thread with a core to spare.
  // Never more than the budget's free room, so that what is resident stays within the budget;
  // nothing while released pages wait for reuse (allocate() takes those first). Returns how many
  // pages it faulted in (0 when enough are resident already).
  size_t populate_ahead(size_t pages);

  uint64_t pages_held() const;
  // Address space mapped so far (pages held, free, and not yet carved).
  uint64_t bytes_reserved() const;
  size_t nr_regions() const;

 private:
  struct Region {
    std::byte* base;
    size_t nr_pages;
    // One bit per page: handed out and not released (a page being given back to the system stays
    // marked until it has been, so that purge() leaves its mapping alone meanwhile).
    std::vector<uint64_t> held;
  };

  Status map_region() ZSFS_REQUIRES(mu_);
  // Takes the mappings with no page held out of the bookkeeping (free list, cache, counters) and
  // returns them, to be unmapped once the lock is released.
  std::vector<Region> take_free_regions() ZSFS_REQUIRES(mu_);
  // madvise(MADV_DONTNEED) on sorted pages, one call per run of adjacent ones.
  static void return_to_os(std::span<std::byte* const> sorted_pages);
  Region& region_of(std::byte* page) ZSFS_REQUIRES(mu_);

  MemoryBudget* const budget_;
  const PageSourceConfig config_;
  mutable Mutex mu_;
  std::vector<Region> regions_ ZSFS_GUARDED_BY(mu_);  // sorted by base address
  // Released pages, for reuse. Its capacity covers every carved page, so release() never
  // allocates.
  std::vector<std::byte*> free_pages_ ZSFS_GUARDED_BY(mu_);
  // Released pages still resident (the cache); capacity reserved up front.
  std::vector<std::byte*> cached_pages_ ZSFS_GUARDED_BY(mu_);
  std::byte* carve_next_ ZSFS_GUARDED_BY(mu_) = nullptr;  // never-used pages of the newest mapping
  std::byte* carve_end_ ZSFS_GUARDED_BY(mu_) = nullptr;
  std::byte* populated_end_ ZSFS_GUARDED_BY(mu_) = nullptr;  // carved pages below it are resident
  // populate_ahead() calls faulting pages in outside the mutex: purge() unmaps nothing meanwhile.
  unsigned populating_ ZSFS_GUARDED_BY(mu_) = 0;
  // purge() calls returning cached pages outside the mutex (pages on no list, not held): only
  // the last of them to end unmaps.
  unsigned purging_ ZSFS_GUARDED_BY(mu_) = 0;
  uint64_t bytes_reserved_ ZSFS_GUARDED_BY(mu_) = 0;
  uint64_t pages_carved_ ZSFS_GUARDED_BY(mu_) = 0;
  size_t next_region_bytes_ ZSFS_GUARDED_BY(mu_);
  std::atomic<uint64_t> pages_held_{0};
};

}  // namespace zsfs::pool
