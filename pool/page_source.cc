// PageSource: single 4 KiB pages carved from large MAP_NORESERVE mappings.
//
// Owns the mappings, the held-page bitmaps and the free list; keeps the invariants stated in
// page_source.h (a page is out at most once, out pages are charged, released ones not resident).
#include "pool/page_source.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>

#include "base/check.h"
#include "pool/pool.h"

namespace zsfs::pool {

namespace {

constexpr uint64_t kBitsPerWord = 64;

// Fresh pages are faulted in ahead of their first use with MADV_POPULATE_WRITE, instead of one
// page fault each when the pool first writes them: on a virtual machine a fault's exception costs
// as much as allocating and clearing the page (loading the Linux tree's image, 90,000 fresh pages,
// spent 40% of its time in page faults). allocate() faults in the next kAheadBytes when the budget
// has room for them, else kPopulatePages pages: either way fewer than 512 pages are resident
// before they are handed out and charged.
//
// As 4 KiB pages, never as a transparent huge page, as the kernel's zsmalloc takes order-0 pages:
// the pool gives pages back a zspage at a time, and every release inside a huge page splits it.
// On a host that shadows the guest's page tables (the development host, PVM), memory that was a
// huge page and was split then reads 2-5 times slower than plain pages on its first pass (random
// 700-byte copies over 400 MB: 0.33-0.65 s against 0.08-0.10 s), and in the daemon that cost came
// back on every pass over a settled tree, whose blocks all moved once. Fresh 2 MiB pieces faulted
// in as huge pages (d4904d7 to 0d881ef) against 4 KiB pages, the same binary alternated, two
// rounds each on the Linux tree (untar, settle with `zsfsctl recompress --wait`, save, unmount,
// load, then fio's 4 GiB sequential write and read on a fresh mount): reading the settled tree
// back (tar -c) 11.3 and 23.4 s against 7.8 and 9.2 s; the same tree loaded from its image 9.8
// and 11.7 s against 8.6 and 8.7 s; saving the settled tree 0.48-0.54 s against 0.37-0.48 s;
// loading its image 0.65 and 0.58 s against 0.34 and 0.41 s; the write 331 and 317 MB/s against
// 272 and 360, the read 1,628 and 1,657 MB/s against 1,711 and 2,042.
constexpr size_t kPopulatePages = 32;
constexpr size_t kAheadBytes = size_t{2} << 20;

// Faults in the pages [from, to). Best effort: a kernel older than 5.14 refuses
// MADV_POPULATE_WRITE, and the pages then fault in one by one when first written.
void fault_in(std::byte* from, std::byte* to) {
  (void)madvise(from, static_cast<size_t>(to - from), MADV_POPULATE_WRITE);
}

bool test_bit(const std::vector<uint64_t>& bitmap, size_t i) {
  return (bitmap[i / kBitsPerWord] >> (i % kBitsPerWord) & 1) != 0;
}
void flip_bit(std::vector<uint64_t>& bitmap, size_t i) {
  bitmap[i / kBitsPerWord] ^= uint64_t{1} << (i % kBitsPerWord);
}

}  // namespace

PageSource::PageSource(MemoryBudget* budget, const PageSourceConfig& config)
    : budget_(budget), config_(config), next_region_bytes_(config.min_region_bytes) {
  ZSFS_CHECK(budget != nullptr);
  ZSFS_CHECK_MSG(config.min_region_bytes >= kPageSize && config.min_region_bytes % kPageSize == 0 &&
                     config.max_region_bytes >= config.min_region_bytes &&
                     config.max_region_bytes % kPageSize == 0,
                 "page source region sizes must be page multiples, min <= max");
  MutexLock lock(mu_);
  cached_pages_.reserve(config.max_cached_bytes / kPageSize);
}

PageSource::~PageSource() {
  ZSFS_CHECK_MSG(pages_held_.load() == 0, "page source destroyed with pages still held");
  MutexLock lock(mu_);
  for (const Region& region : regions_) {
    ZSFS_CHECK(munmap(region.base, region.nr_pages * kPageSize) == 0);
  }
}

Status PageSource::map_region() {
  if (bytes_reserved_ >= config_.max_reserved_bytes) return Errno{ENOMEM};
  const uint64_t room = (config_.max_reserved_bytes - bytes_reserved_) / kPageSize * kPageSize;
  const size_t bytes = static_cast<size_t>(std::min<uint64_t>(next_region_bytes_, room));
  if (bytes == 0) return Errno{ENOMEM};
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) return Errno{ENOMEM};
  auto* base = static_cast<std::byte*>(mapping);
  // Best effort: a kernel built without transparent huge pages rejects the advice, and has none.
  (void)madvise(base, bytes, MADV_NOHUGEPAGE);

  const size_t nr_pages = bytes / kPageSize;
  try {
    free_pages_.reserve(pages_carved_ + nr_pages);
    Region region{base, nr_pages,
                  std::vector<uint64_t>((nr_pages + kBitsPerWord - 1) / kBitsPerWord)};
    auto at = std::upper_bound(regions_.begin(), regions_.end(), base,
                               [](std::byte* b, const Region& r) { return b < r.base; });
    regions_.insert(at, std::move(region));
  } catch (const std::bad_alloc&) {
    (void)munmap(base, bytes);
    return Errno{ENOMEM};
  }
  carve_next_ = base;
  populated_end_ = base;
  carve_end_ = base + bytes;
  bytes_reserved_ += bytes;
  pages_carved_ += nr_pages;
  next_region_bytes_ = std::min(next_region_bytes_ * 2, config_.max_region_bytes);
  return ok_status();
}

PageSource::Region& PageSource::region_of(std::byte* page) {
  auto after = std::upper_bound(regions_.begin(), regions_.end(), page,
                                [](std::byte* p, const Region& r) { return p < r.base; });
  ZSFS_CHECK_MSG(after != regions_.begin(), "released page is not from this page source");
  Region& region = *(after - 1);
  ZSFS_CHECK_MSG(page < region.base + region.nr_pages * kPageSize,
                 "released page is not from this page source");
  return region;
}

Result<std::byte*> PageSource::allocate() {
  if (!budget_->try_charge(kPageSize)) return Errno{ENOSPC};
  MutexLock lock(mu_);
  std::byte* page;
  bool dirty = false;
  if (!cached_pages_.empty()) {
    page = cached_pages_.back();
    cached_pages_.pop_back();
    dirty = true;
  } else if (!free_pages_.empty()) {
    page = free_pages_.back();
    free_pages_.pop_back();
  } else {
    if (carve_next_ == carve_end_) {
      Status mapped = map_region();
      if (!mapped.ok()) {
        budget_->uncharge(kPageSize);
        return Errno{mapped.error()};
      }
    }
    page = carve_next_;
    if (page >= populated_end_) {
      // Fault the next pages in at once (see kPopulatePages): 2 MiB when the budget has room for
      // them, else a few.
      const size_t ahead =
          budget_->available_bytes() >= kAheadBytes ? kAheadBytes / kPageSize : kPopulatePages;
      std::byte* end = std::min(carve_end_, page + ahead * kPageSize);
      fault_in(page, end);
      populated_end_ = end;
    }
    carve_next_ += kPageSize;
  }
  Region& region = region_of(page);
  const auto index = static_cast<size_t>(page - region.base) / kPageSize;
  ZSFS_CHECK_MSG(!test_bit(region.held, index), "page source handed out a page twice");
  flip_bit(region.held, index);
  pages_held_.fetch_add(1, std::memory_order_relaxed);
  // A cached page still holds its last contents; a page from the kernel is zero already.
  if (dirty) std::memset(page, 0, kPageSize);
  return page;
}

size_t PageSource::populate_ahead(size_t pages) {
  std::byte* from;
  std::byte* to;
  {
    MutexLock lock(mu_);
    // allocate() takes released pages before it carves: with some of those, the pages carved
    // next are not the next ones needed.
    if (!cached_pages_.empty() || !free_pages_.empty()) return 0;
    if (carve_next_ == carve_end_ && !map_region().ok()) return 0;
    const size_t room = std::min<uint64_t>(pages, budget_->available_bytes() / kPageSize);
    from = std::max(populated_end_, carve_next_);
    to = std::min(carve_end_, carve_next_ + room * kPageSize);
    if (from >= to) return 0;
    // Claimed: allocate() carves these without faulting them in again. One it hands out before
    // the fault below reaches it is faulted by its first write instead; a page already present
    // is left as it is (MADV_POPULATE_WRITE never changes contents).
    populated_end_ = to;
    ++populating_;
  }
  fault_in(from, to);
  MutexLock lock(mu_);
  --populating_;
  return static_cast<size_t>(to - from) / kPageSize;
}

void PageSource::release(std::byte* page) {
  release(std::span<std::byte* const>(&page, 1));
}

void PageSource::release(std::span<std::byte* const> pages) {
  if (pages.empty()) return;
  // A zspage has at most 16 pages; larger batches (teardown) go a zspage's worth at a time.
  constexpr size_t kBatch = 16;
  if (pages.size() > kBatch) {
    for (size_t i = 0; i < pages.size(); i += kBatch) {
      release(pages.subspan(i, std::min(kBatch, pages.size() - i)));
    }
    return;
  }
  std::array<std::byte*, kBatch> sorted;
  std::copy(pages.begin(), pages.end(), sorted.begin());
  const auto batch = std::span(sorted).first(pages.size());
  std::sort(batch.begin(), batch.end());

  size_t kept = 0;  // pages that join the cache, from the front of batch
  {
    // Check the pages first, so that a double release is caught before any madvise. Those that
    // go back to the system stay marked held until they have: a purge meanwhile must not find
    // their mapping unused and unmap it under the madvise (which would fail, and leave the free
    // list naming pages of a mapping that is gone).
    MutexLock lock(mu_);
    for (std::byte* page : batch) {
      Region& region = region_of(page);
      const auto offset = static_cast<size_t>(page - region.base);
      ZSFS_CHECK_MSG(offset % kPageSize == 0, "released address is not a page");
      ZSFS_CHECK_MSG(test_bit(region.held, offset / kPageSize), "page released twice");
    }
    kept = std::min(batch.size(), cached_pages_.capacity() - cached_pages_.size());
    for (size_t i = 0; i < kept; ++i) {
      Region& region = region_of(batch[i]);
      flip_bit(region.held, static_cast<size_t>(batch[i] - region.base) / kPageSize);
      cached_pages_.push_back(batch[i]);  // within capacity
    }
    pages_held_.fetch_sub(kept, std::memory_order_relaxed);
  }
  const auto returned = batch.subspan(kept);
  if (!returned.empty()) {
    return_to_os(returned);  // outside the lock
    MutexLock lock(mu_);
    // Highest address first, so that allocate() pops them lowest first and a later zspage gets
    // adjacent pages again (one madvise per run when it is freed).
    for (auto it = returned.rbegin(); it != returned.rend(); ++it) {
      Region& region = region_of(*it);
      const auto index = static_cast<size_t>(*it - region.base) / kPageSize;
      ZSFS_CHECK_MSG(test_bit(region.held, index), "page released twice");
      flip_bit(region.held, index);
      free_pages_.push_back(*it);
    }
    pages_held_.fetch_sub(returned.size(), std::memory_order_relaxed);
  }
  budget_->uncharge(batch.size() * kPageSize);
}

void PageSource::return_to_os(std::span<std::byte* const> sorted_pages) {
  for (size_t start = 0; start < sorted_pages.size();) {
    size_t end = start + 1;
    while (end < sorted_pages.size() && sorted_pages[end] == sorted_pages[end - 1] + kPageSize)
      ++end;
    ZSFS_CHECK_MSG(madvise(sorted_pages[start], (end - start) * kPageSize, MADV_DONTNEED) == 0,
                   "madvise(MADV_DONTNEED) failed");
    start = end;
  }
}

void PageSource::purge() {
  std::vector<std::byte*> pages;
  {
    MutexLock lock(mu_);
    try {
      pages.assign(cached_pages_.begin(), cached_pages_.end());
    } catch (const std::bad_alloc&) {
      return;  // try again next time
    }
    cached_pages_.clear();
    ++purging_;
  }
  std::sort(pages.begin(), pages.end());
  return_to_os(pages);
  std::vector<Region> unused;
  {
    MutexLock lock(mu_);
    // free_pages_ has room for every carved page (see allocate()): this cannot allocate.
    for (auto it = pages.rbegin(); it != pages.rend(); ++it)
      free_pages_.push_back(*it);
    // A mapping being faulted in by populate_ahead() stays until the next purge. So does one
    // while another purge returns its cached pages, which are then on no list and not held: the
    // last purge to end unmaps.
    if (populating_ == 0 && purging_ == 1) unused = take_free_regions();
    --purging_;
  }
  for (const Region& region : unused) {
    ZSFS_CHECK(munmap(region.base, region.nr_pages * kPageSize) == 0);
  }
}

std::vector<PageSource::Region> PageSource::take_free_regions() {
  std::vector<Region> unused;
  const auto is_unused = [](const Region& region) {
    return std::all_of(region.held.begin(), region.held.end(), [](uint64_t w) { return w == 0; });
  };
  if (std::none_of(regions_.begin(), regions_.end(), is_unused)) return unused;
  // Everything below allocates before it changes anything, so that a refusal leaves the source
  // as it was (the regions are then kept until the next purge).
  size_t pages_kept = 0;
  for (const Region& region : regions_) {
    if (!is_unused(region)) pages_kept += region.nr_pages;
  }
  std::vector<Region> kept;
  std::vector<std::byte*> free_kept;
  try {
    kept.reserve(regions_.size());
    unused.reserve(regions_.size());
    free_kept.reserve(pages_kept);  // release() must never allocate: room for every carved page
  } catch (const std::bad_alloc&) {
    return {};
  }
  for (Region& region : regions_) {
    (is_unused(region) ? unused : kept).push_back(std::move(region));
  }
  // unused keeps regions_' order, by base address.
  const auto in_unused = [&](const std::byte* page) {
    auto after = std::upper_bound(unused.begin(), unused.end(), page,
                                  [](const std::byte* p, const Region& r) { return p < r.base; });
    return after != unused.begin() && page < (after - 1)->base + (after - 1)->nr_pages * kPageSize;
  };
  for (std::byte* page : free_pages_) {
    if (!in_unused(page)) free_kept.push_back(page);
  }
  std::erase_if(cached_pages_, in_unused);  // empty unless a release came since the purge began
  if (carve_next_ != nullptr &&
      in_unused(carve_next_ == carve_end_ ? carve_next_ - 1 : carve_next_)) {
    carve_next_ = carve_end_ = nullptr;
  }
  for (const Region& region : unused) {
    bytes_reserved_ -= region.nr_pages * kPageSize;
    pages_carved_ -= region.nr_pages;
  }
  regions_ = std::move(kept);
  free_pages_ = std::move(free_kept);
  // A source that starts over maps small again.
  if (regions_.empty()) next_region_bytes_ = config_.min_region_bytes;
  return unused;
}

uint64_t PageSource::pages_cached() const {
  MutexLock lock(mu_);
  return cached_pages_.size();
}

uint64_t PageSource::pages_held() const {
  return pages_held_.load(std::memory_order_relaxed);
}

uint64_t PageSource::bytes_reserved() const {
  MutexLock lock(mu_);
  return bytes_reserved_;
}

size_t PageSource::nr_regions() const {
  MutexLock lock(mu_);
  return regions_.size();
}

}  // namespace zsfs::pool
