// Tests of PageSource (pool/page_source.h): single pages, zero fill, reuse, budget and host
// refusals, residency (mincore) after release, and the checks on bad releases.
#include "pool/page_source.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"

namespace zsfs::pool {
namespace {

constexpr uint64_t kPage = 4096;

bool resident(const std::byte* page) {
  unsigned char vec = 0;
  EXPECT_EQ(mincore(const_cast<std::byte*>(page), kPage, &vec), 0) << std::strerror(errno);
  return (vec & 1) != 0;
}

// Mappings of four pages each, so that a test sees several with few pages.
PageSourceConfig four_page_mappings(PageSourceConfig config = {}) {
  config.min_region_bytes = 4 * kPage;
  config.max_region_bytes = 4 * kPage;
  return config;
}

bool all_zero(const std::byte* page) {
  return std::all_of(page, page + kPage, [](std::byte b) { return b == std::byte{0}; });
}

TEST(PageSource, HandsOutDistinctAlignedZeroedPagesAndCharges) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget);
  std::vector<std::byte*> pages;
  for (int i = 0; i < 1000; ++i) {  // 4 MiB: spans more than the first 2 MiB mapping
    Result<std::byte*> page = source.allocate();
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(reinterpret_cast<uintptr_t>(*page) % kPage, 0u);
    ASSERT_TRUE(all_zero(*page));
    std::memset(*page, 0xab, kPage);
    pages.push_back(*page);
  }
  EXPECT_EQ(std::set<std::byte*>(pages.begin(), pages.end()).size(), pages.size());
  EXPECT_EQ(source.pages_held(), 1000u);
  EXPECT_EQ(budget.used_bytes(), 1000 * kPage);
  EXPECT_EQ(source.nr_regions(), 2u);  // 2 MiB, then 4 MiB
  source.release(pages);
  EXPECT_EQ(source.pages_held(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

// A source that keeps no released page resident.
PageSourceConfig uncached() {
  PageSourceConfig config;
  config.max_cached_bytes = 0;
  return config;
}

TEST(PageSource, ReleasedPageLeavesMemoryAndComesBackZeroed) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget, uncached());
  std::byte* page = *source.allocate();
  std::memset(page, 0x5a, kPage);
  EXPECT_TRUE(resident(page));
  source.release(page);
  EXPECT_FALSE(resident(page)) << "released page still resident: MADV_DONTNEED not applied";
  // The address is reused, and reads as zeros.
  std::byte* again = *source.allocate();
  EXPECT_EQ(again, page);
  EXPECT_TRUE(all_zero(again));
  source.release(again);
}

TEST(PageSource, BatchReleaseDropsEveryPage) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget, uncached());
  std::vector<std::byte*> pages;
  for (int i = 0; i < 40; ++i)
    pages.push_back(*source.allocate());
  for (std::byte* p : pages)
    std::memset(p, 1, kPage);
  // Every other page, out of order: runs of one page each, and a batch larger than 16.
  std::vector<std::byte*> odd;
  std::vector<std::byte*> even;
  for (size_t i = 0; i < pages.size(); ++i)
    (i % 2 != 0 ? odd : even).push_back(pages[i]);
  std::reverse(odd.begin(), odd.end());
  source.release(odd);
  for (std::byte* p : odd)
    EXPECT_FALSE(resident(p));
  for (std::byte* p : even)
    EXPECT_TRUE(resident(p));
  source.release(even);
  for (std::byte* p : even)
    EXPECT_FALSE(resident(p));
  EXPECT_EQ(source.pages_held(), 0u);
}

TEST(PageSource, CachedPagesAreReusedZeroedAndPurged) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSourceConfig config;
  config.max_cached_bytes = 4 * kPage;
  PageSource source(&budget, config);
  std::vector<std::byte*> pages;
  for (int i = 0; i < 6; ++i)
    pages.push_back(*source.allocate());
  for (std::byte* p : pages)
    std::memset(p, 0x77, kPage);
  source.release(pages);
  // Four stay resident in the cache (uncharged), the other two go back to the kernel.
  EXPECT_EQ(source.pages_cached(), 4u);
  EXPECT_EQ(source.pages_held(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
  int resident_pages = 0;
  for (std::byte* p : pages)
    resident_pages += resident(p) ? 1 : 0;
  EXPECT_EQ(resident_pages, 4);
  // A cached page comes back zeroed, like a fresh one.
  std::byte* again = *source.allocate();
  EXPECT_TRUE(all_zero(again));
  EXPECT_EQ(source.pages_cached(), 3u);
  source.purge();
  EXPECT_EQ(source.pages_cached(), 0u);
  for (std::byte* p : pages) {
    if (p != again) {
      EXPECT_FALSE(resident(p));
    }
  }
  source.release(again);
}

bool mapped(const std::byte* page) {
  unsigned char vec = 0;
  return mincore(const_cast<std::byte*>(page), kPage, &vec) == 0;
}

TEST(PageSource, PurgeUnmapsMappingsWithNoPageHeld) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget, four_page_mappings({.max_cached_bytes = 2 * kPage}));
  std::vector<std::byte*> pages;
  for (int i = 0; i < 10; ++i)
    pages.push_back(*source.allocate());  // mappings of 4, 4 and 4 pages (2 carved)
  ASSERT_EQ(source.nr_regions(), 3u);
  std::vector<std::byte*> sorted = pages;
  std::sort(sorted.begin(), sorted.end());
  const auto region_of = [&](const std::byte* p) {
    std::vector<std::byte*> bases;
    for (std::byte* q : sorted) {
      if (bases.empty() || q >= bases.back() + 4 * kPage) bases.push_back(q);
    }
    return std::upper_bound(bases.begin(), bases.end(), p) - bases.begin() - 1;
  };
  // Keep one page of the second mapping, release everything else (some into the cache).
  std::byte* kept = nullptr;
  std::vector<std::byte*> released;
  for (std::byte* p : pages) {
    if (kept == nullptr && region_of(p) == 1) {
      kept = p;
    } else {
      released.push_back(p);
    }
  }
  std::memset(kept, 0x5a, kPage);
  source.release(released);
  EXPECT_EQ(source.nr_regions(), 3u);  // release alone keeps the mappings
  source.purge();
  EXPECT_EQ(source.nr_regions(), 1u);
  EXPECT_EQ(source.bytes_reserved(), 4 * kPage);
  EXPECT_EQ(source.pages_cached(), 0u);
  EXPECT_EQ(source.pages_held(), 1u);
  for (std::byte* p : released) {
    if (region_of(p) != 1) {
      EXPECT_FALSE(mapped(p));
    }
  }
  EXPECT_TRUE(std::all_of(kept, kept + kPage, [](std::byte b) { return b == std::byte{0x5a}; }));
  // The kept mapping's free pages are handed out first, then a new mapping comes.
  std::vector<std::byte*> again;
  for (int i = 0; i < 5; ++i) {
    Result<std::byte*> page = source.allocate();
    ASSERT_TRUE(page.ok());
    EXPECT_TRUE(all_zero(*page));
    again.push_back(*page);
  }
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(region_of(again[i]), 1) << i;
  EXPECT_EQ(source.nr_regions(), 2u);
  again.push_back(kept);
  source.release(again);
  source.purge();
  EXPECT_EQ(source.nr_regions(), 0u);
  EXPECT_EQ(source.bytes_reserved(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
  // A source that has given everything back starts over.
  std::byte* fresh = *source.allocate();
  EXPECT_TRUE(all_zero(fresh));
  EXPECT_EQ(source.nr_regions(), 1u);
  source.release(fresh);
}

// A release gives its pages back to the system after it drops the lock; a purge meanwhile must
// not unmap the mapping those pages are in (madvise on an unmapped range fails, which aborts).
// Rounds of four pages allocated, written and released together (a mapping's worth, with
// four_page_mappings()).
void allocate_and_release_mappings(PageSource& source, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    std::array<std::byte*, 4> pages{};
    for (std::byte*& page : pages) {
      Result<std::byte*> got = source.allocate();
      ASSERT_TRUE(got.ok());
      page = *got;
      page[0] = std::byte{1};
    }
    source.release(pages);
  }
}

TEST(PageSource, PurgeNeverUnmapsPagesBeingReleased) {
  MemoryBudget budget(1ull << 30);
  PageSourceConfig config = four_page_mappings();
  config.max_cached_bytes = 0;  // every released page goes back to the system at once
  PageSource source(&budget, config);
  std::atomic<bool> stop{false};
  std::thread purger([&] {
    while (!stop.load(std::memory_order_relaxed))
      source.purge();
  });
  // The whole mapping each round: purge may take it the moment release() returns.
  allocate_and_release_mappings(source, 20000);
  stop = true;
  purger.join();
  EXPECT_EQ(source.pages_held(), 0u);
}

// Two purges at once (the pool's compaction and its idle trim run on different threads): the
// cached pages one purge has taken, and is returning to the system outside the mutex, are on no
// list and not held, and the other must not take their mapping for unused and unmap it under
// them (the first's madvise then failed, or its pages went back on the free list unmapped).
TEST(PageSource, APurgeNeverUnmapsPagesAnotherPurgeIsReturning) {
  MemoryBudget budget(1ull << 30);
  PageSource source(&budget, four_page_mappings({.max_cached_bytes = 64 * kPage}));
  std::atomic<bool> stop{false};
  auto purge = [&] {
    while (!stop.load(std::memory_order_relaxed))
      source.purge();
  };
  std::thread first(purge);
  std::thread second(purge);
  allocate_and_release_mappings(source, 20000);  // into the cache, for the purges to take
  stop = true;
  first.join();
  second.join();
  EXPECT_EQ(source.pages_held(), 0u);
  source.purge();
  EXPECT_EQ(source.nr_regions(), 0u);
}

// Whether this kernel has MADV_POPULATE_WRITE (5.14 and later).
bool kernel_populates() {
  void* probe = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) return false;
  const bool ok = madvise(probe, kPage, MADV_POPULATE_WRITE) == 0;
  munmap(probe, kPage);
  return ok;
}

TEST(PageSource, PopulateAheadFaultsInTheNextPagesWithinTheBudgetsRoom) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  MemoryBudget budget(100 * kPage);
  PageSource source(&budget);  // the first mapping has 512 pages: all of it is carved in order
  std::vector<std::byte*> pages;
  Result<std::byte*> first = source.allocate();  // faults in the first 32 pages itself
  ASSERT_TRUE(first.ok());
  pages.push_back(*first);
  std::byte* const base = *first;
  EXPECT_FALSE(resident(base + 40 * kPage));
  // Room for 99 more pages: those up to page 99 are faulted in (68 of them past the first 32),
  // none is charged, and none past the room.
  EXPECT_EQ(source.populate_ahead(500), 68u);
  EXPECT_TRUE(resident(base + 40 * kPage));
  EXPECT_TRUE(resident(base + 99 * kPage));
  EXPECT_FALSE(resident(base + 100 * kPage));
  EXPECT_EQ(budget.used_bytes(), kPage);
  EXPECT_EQ(source.pages_held(), 1u);
  EXPECT_EQ(source.populate_ahead(500), 0u);  // nothing more within the room
  // allocate() hands the faulted-in pages out in order, zeroed and charged.
  for (uint64_t i = 1; i < 100; ++i) {
    Result<std::byte*> page = source.allocate();
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(*page, base + i * kPage);
    ASSERT_TRUE(all_zero(*page));
    pages.push_back(*page);
  }
  EXPECT_EQ(budget.used_bytes(), 100 * kPage);
  EXPECT_EQ(source.populate_ahead(500), 0u);  // a full budget leaves no room
  EXPECT_FALSE(resident(base + 100 * kPage));
  // Released pages are taken before any is carved: nothing is faulted in ahead while they wait,
  // though the budget has room again.
  source.release(pages);
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(source.populate_ahead(500), 0u);
  EXPECT_FALSE(resident(base + 100 * kPage));
}

// The lines of /proc/self/smaps that describe the mapping holding `address`.
std::string smaps_of(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line, block;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &from, &to) == 2 && line.find(':') > line.find(' ')) {
      if (inside) break;
      inside = from <= target && target < to;
    }
    if (inside) block += line + "\n";
  }
  return block;
}

uint64_t smaps_kib(const std::string& block, const std::string& field) {
  const size_t at = block.find("\n" + field + ":");
  return at == std::string::npos
             ? 0
             : std::strtoull(block.c_str() + at + field.size() + 2, nullptr, 10);
}

TEST(PageSource, FreshPagesAreFaultedInAheadAsPlainPagesOfANoHugePageMapping) {
  if (!kernel_populates()) GTEST_SKIP() << "the kernel has no MADV_POPULATE_WRITE";
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget, uncached());
  Result<std::byte*> first = source.allocate();
  ASSERT_TRUE(first.ok());
  std::byte* const base = *first;
  // The rest of the first mapping (2 MiB, 512 pages) is resident, ahead of its pages being handed
  // out and charged.
  EXPECT_TRUE(resident(base + 511 * kPage));
  EXPECT_EQ(budget.used_bytes(), kPage);
  // As 4 KiB pages, in a mapping advised "no huge pages" whatever the system's setting, so that
  // khugepaged never collapses it either.
  const std::string block = smaps_of(base);
  ASSERT_FALSE(block.empty());
  EXPECT_EQ(smaps_kib(block, "AnonHugePages"), 0u) << block;
  const size_t flags = block.find("VmFlags:");
  ASSERT_NE(flags, std::string::npos) << block;
  EXPECT_NE(block.find(" nh", flags), std::string::npos) << block;
  EXPECT_EQ(block.find(" hg", flags), std::string::npos) << block;
  // A released page leaves the resident set at once, its neighbours stay, and it comes back
  // zeroed.
  std::memset(base, 0x5a, kPage);
  source.release(base);
  EXPECT_FALSE(resident(base));
  EXPECT_TRUE(resident(base + kPage));
  Result<std::byte*> again = source.allocate();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, base);
  EXPECT_TRUE(all_zero(*again));
  source.release(*again);
}

TEST(PageSource, BudgetRefusalIsEnospcAndChangesNothing) {
  MemoryBudget budget(3 * kPage + 100);
  PageSource source(&budget);
  std::vector<std::byte*> pages;
  for (int i = 0; i < 3; ++i)
    pages.push_back(*source.allocate());
  Result<std::byte*> refused = source.allocate();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), ENOSPC);
  EXPECT_EQ(source.pages_held(), 3u);
  EXPECT_EQ(budget.used_bytes(), 3 * kPage);
  // A release makes room again.
  source.release(pages.back());
  pages.pop_back();
  Result<std::byte*> again = source.allocate();
  ASSERT_TRUE(again.ok());
  pages.push_back(*again);
  EXPECT_EQ(source.pages_held(), 3u);
  source.release(pages);
}

TEST(PageSource, AddressSpaceLimitIsEnomem) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget, four_page_mappings({.max_reserved_bytes = 8 * kPage}));
  std::vector<std::byte*> pages;
  for (int i = 0; i < 8; ++i) {
    Result<std::byte*> page = source.allocate();
    ASSERT_TRUE(page.ok()) << i;
    pages.push_back(*page);
  }
  Result<std::byte*> refused = source.allocate();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), ENOMEM);
  EXPECT_EQ(budget.used_bytes(), 8 * kPage);  // the refused page's charge was returned
  EXPECT_EQ(source.nr_regions(), 2u);
  EXPECT_EQ(source.bytes_reserved(), 8 * kPage);
  source.release(pages);
}

TEST(PageSourceDeathTest, DoubleReleaseIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        MemoryBudget budget(uint64_t{1} << 30);
        PageSource source(&budget);
        std::byte* page = *source.allocate();
        source.release(page);
        source.release(page);
      },
      "page released twice");
}

TEST(PageSourceDeathTest, ForeignReleaseIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        MemoryBudget budget(uint64_t{1} << 30);
        PageSource source(&budget);
        std::byte* page = *source.allocate();
        source.release(page + 16);
      },
      "not a page");
  EXPECT_DEATH(
      {
        MemoryBudget budget(uint64_t{1} << 30);
        PageSource source(&budget);
        alignas(4096) static std::byte foreign[4096];
        source.release(foreign);
      },
      "not from this page source");
}

TEST(PageSourceDeathTest, DestroyedWithPagesHeld) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        MemoryBudget budget(uint64_t{1} << 30);
        PageSource source(&budget);
        (void)source.allocate();
      },
      "pages still held");
}

}  // namespace
}  // namespace zsfs::pool
