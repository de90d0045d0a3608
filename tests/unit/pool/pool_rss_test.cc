// The pool gives memory back: after a large free plus compaction the process's resident set
// (/proc/self/statm) really falls, by about the pages the pool let go of.
//
// Robust by construction: 128 MiB of objects (64 MiB under sanitizers), so that the figures dwarf
// the test's own bookkeeping and the allocator's noise, and generous margins (75%) on the drops.
// Each expected drop is measured against the pool's own page count, not against the growth, so
// a sanitizer's shadow memory (which stays) cannot fail it.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"
#include "pool_test_util.h"

namespace zsfs::pool {
namespace {

using testing::resident_bytes;

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Object {
  Handle handle;
  uint8_t fill;
};

double mib(uint64_t bytes) {
  return static_cast<double>(bytes) / static_cast<double>(kMiB);
}

TEST(PoolResidentMemory, FallsAfterFreeAndCompaction) {
  const uint64_t fill_bytes = (testing::kSanitized ? 64 : 128) * kMiB;
  MemoryBudget budget(uint64_t{4} << 30);
  auto pool = std::move(Pool::create(PoolConfig{}, &budget)).value();
  std::mt19937_64 rng(testing::test_seed(7));
  std::uniform_int_distribution<size_t> size_of(500, 3500);

  std::vector<Object> objects;
  objects.reserve(fill_bytes / 1000);
  const uint64_t rss_empty = resident_bytes();
  uint64_t stored = 0;
  while (stored < fill_bytes) {
    const size_t size = size_of(rng);
    const Handle h = *pool->allocate(size);
    const auto fill = static_cast<uint8_t>(rng() | 1);  // never 0: the page must be dirtied
    WriteGuard guard = pool->write(h);
    std::memset(guard.bytes().data(), fill, guard.bytes().size());
    objects.push_back(Object{h, fill});
    stored += size;
  }
  const PoolStats full = pool->stats();
  const uint64_t rss_full = resident_bytes();
  const uint64_t full_bytes = full.pages_held * kPageSize;
  std::printf("filled: %.1f MiB in %.1f MiB of pages, RSS +%.1f MiB\n", mib(full.bytes_stored),
              mib(full_bytes), mib(rss_full - rss_empty));
  ASSERT_GE(rss_full - rss_empty, full_bytes * 3 / 4) << "the pool's pages should be resident";

  // Free a random three quarters, then compact.
  std::shuffle(objects.begin(), objects.end(), rng);
  const size_t keep = objects.size() / 4;
  for (size_t i = keep; i < objects.size(); ++i)
    pool->free(objects[i].handle);
  objects.resize(keep);
  const uint64_t compacted = pool->compact();
  const PoolStats after = pool->stats();
  const uint64_t rss_after = resident_bytes();
  const uint64_t released_bytes = (full.pages_held - after.pages_held) * kPageSize;
  std::printf(
      "freed 3/4 + compact: %.1f MiB of pages released (%.1f MiB by compaction), "
      "RSS -%.1f MiB, efficiency %.3f\n",
      mib(released_bytes), mib(compacted * kPageSize), mib(rss_full - rss_after),
      after.efficiency());
  EXPECT_GE(released_bytes, full_bytes / 2) << "freeing 3/4 and compacting should release half";
  ASSERT_GT(rss_full, rss_after);
  EXPECT_GE(rss_full - rss_after, released_bytes * 3 / 4) << "released pages still resident";
  pool->check_invariants();

  // The survivors are intact.
  for (const Object& o : objects) {
    const ReadGuard guard = pool->read(o.handle);
    ASSERT_TRUE(std::all_of(guard.bytes().begin(), guard.bytes().end(),
                            [&](std::byte b) { return b == std::byte{o.fill}; }));
  }

  // Free the rest: everything goes.
  for (const Object& o : objects)
    pool->free(o.handle);
  const uint64_t rss_empty_again = resident_bytes();
  EXPECT_EQ(pool->stats().pages_held, 0u);
  EXPECT_GE(rss_after - std::min(rss_after, rss_empty_again), after.pages_held * kPageSize * 3 / 4);
}

}  // namespace
}  // namespace zsfs::pool
