// PageSource: single 4 KiB pages carved from large MAP_NORESERVE mappings.
//
// Owns the mappings, the held-page bitmaps and the free list; keeps the invariants stated in
// page_source.h (a page is out at most once, out pages are charged, released ones not resident).
#include "pool/page_source.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <new>

#include "base/check.h"
#include "pool/pool.h"

namespace zsfs::pool {

namespace {

constexpr uint64_t kBitsPerWord = 64;

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
  if (!free_pages_.empty()) {
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
    carve_next_ += kPageSize;
  }
  Region& region = region_of(page);
  const auto index = static_cast<size_t>(page - region.base) / kPageSize;
  ZSFS_CHECK_MSG(!test_bit(region.held, index), "page source handed out a page twice");
  flip_bit(region.held, index);
  pages_held_.fetch_add(1, std::memory_order_relaxed);
  return page;
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

  {
    // Mark the pages released first, so that a double release is caught before any madvise.
    MutexLock lock(mu_);
    for (std::byte* page : batch) {
      Region& region = region_of(page);
      const auto offset = static_cast<size_t>(page - region.base);
      ZSFS_CHECK_MSG(offset % kPageSize == 0, "released address is not a page");
      ZSFS_CHECK_MSG(test_bit(region.held, offset / kPageSize), "page released twice");
      flip_bit(region.held, offset / kPageSize);
    }
  }
  // Back to the kernel, outside the lock: one call per run of adjacent pages.
  for (size_t start = 0; start < batch.size();) {
    size_t end = start + 1;
    while (end < batch.size() && batch[end] == batch[end - 1] + kPageSize)
      ++end;
    ZSFS_CHECK_MSG(madvise(batch[start], (end - start) * kPageSize, MADV_DONTNEED) == 0,
                   "madvise(MADV_DONTNEED) failed");
    start = end;
  }
  {
    MutexLock lock(mu_);
    // Highest address first, so that allocate() pops them lowest first and a later zspage gets
    // adjacent pages again (one madvise per run when it is freed).
    for (auto it = batch.rbegin(); it != batch.rend(); ++it)
      free_pages_.push_back(*it);
    pages_held_.fetch_sub(batch.size(), std::memory_order_relaxed);
  }
  budget_->uncharge(batch.size() * kPageSize);
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
