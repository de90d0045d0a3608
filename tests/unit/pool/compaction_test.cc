// Tests of compaction (Pool::compact): it frees what zs_can_compact() says it can, keeps every
// handle valid and every byte intact, counts pages_compacted, leaves nothing to do when run again,
// and raises the efficiency of a fragmented pool.
#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"
#include "pool_test_util.h"

namespace zsfs::pool {
namespace {

using testing::fill_pattern;
using testing::pattern_mismatch;

constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Object {
  Handle handle;
  uint64_t seed;
};

std::unique_ptr<Pool> make_pool(MemoryBudget* budget, unsigned max_pages = kDefaultChainPages) {
  return std::move(Pool::create(PoolConfig{max_pages}, budget)).value();
}

Object store(Pool& pool, size_t size, uint64_t seed) {
  const Handle h = *pool.allocate(size);
  WriteGuard guard = pool.write(h);
  fill_pattern(guard.bytes(), seed);
  return Object{h, seed};
}

void expect_intact(const Pool& pool, const std::vector<Object>& objects) {
  for (const Object& o : objects) {
    const ReadGuard guard = pool.read(o.handle);
    ASSERT_EQ(pattern_mismatch(guard.bytes(), o.seed), guard.bytes().size())
        << "object " << o.handle << " damaged";
  }
}

uint64_t freeable(const PoolStats& s) {
  uint64_t pages = 0;
  for (const ClassStats& c : s.classes)
    pages += c.freeable_pages;
  return pages;
}

TEST(Compaction, FreesWhatCanBeFreedAndKeepsEveryObject) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  // One class, many zspages, every other object freed: half of each zspage is free.
  const size_t size = 200;
  const SizeClass& c = pool->class_table().class_for_size(size);
  std::vector<Object> kept;
  std::vector<Handle> freed;
  for (uint32_t i = 0; i < 40 * c.objects_per_zspage; ++i) {
    const Object o = store(*pool, size, i);
    if (i % 2 == 0) {
      kept.push_back(o);
    } else {
      freed.push_back(o.handle);
    }
  }
  for (Handle h : freed)
    pool->free(h);
  const PoolStats before = pool->stats();
  const ClassStats cb = before.classes[c.index];
  EXPECT_EQ(cb.zspages, 40u);
  EXPECT_EQ(cb.freeable_pages, 20 * c.pages_per_zspage);

  const uint64_t pages_freed = pool->compact();
  EXPECT_EQ(pages_freed, cb.freeable_pages);
  pool->check_invariants();
  const PoolStats after = pool->stats();
  const ClassStats ca = after.classes[c.index];
  EXPECT_EQ(ca.zspages, 20u);
  EXPECT_EQ(ca.freeable_pages, 0u);
  EXPECT_EQ(ca.pages_compacted, pages_freed);
  EXPECT_EQ(after.pages_compacted, pages_freed);
  EXPECT_EQ(after.pages_held, before.pages_held - pages_freed);
  EXPECT_EQ(ca.fullness[kFullnessGroups - 1], 20u) << "every remaining zspage should be full";
  expect_intact(*pool, kept);

  // Nothing left to do; the counters stay.
  EXPECT_EQ(pool->compact(), 0u);
  EXPECT_EQ(pool->stats().pages_compacted, pages_freed);
  for (const Object& o : kept)
    pool->free(o.handle);
  EXPECT_EQ(pool->stats().pages_held, 0u);
}

TEST(Compaction, LeavesAClassAloneWithLessThanAZspageFree) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const SizeClass& c = pool->class_table().class_for_size(1000);
  std::vector<Object> objects;
  for (uint32_t i = 0; i < 3 * c.objects_per_zspage; ++i)
    objects.push_back(store(*pool, 1000, i));
  // Free fewer than a zspage's worth, spread over the three zspages.
  for (uint32_t i = 0; i + 1 < c.objects_per_zspage; i += 3)
    pool->free(objects[i].handle);
  EXPECT_EQ(freeable(pool->stats()), 0u);
  const uint64_t pages = pool->stats().pages_held;
  EXPECT_EQ(pool->compact(), 0u);
  EXPECT_EQ(pool->stats().pages_held, pages);
  pool->check_invariants();
}

TEST(Compaction, EmptiestZspagesMoveIntoTheFullest) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const SizeClass& c = pool->class_table().class_for_size(32);  // 128 per one-page zspage
  std::vector<std::vector<Object>> zspages(4);
  uint64_t seed = 0;
  for (auto& z : zspages) {
    for (int i = 0; i < 128; ++i)
      z.push_back(store(*pool, 32, ++seed));
  }
  // Keep 120, 100, 20, 10 objects: the last two (30 objects) fit in the first two's 36 holes.
  const int keep[] = {120, 100, 20, 10};
  std::vector<Object> kept;
  for (size_t z = 0; z < zspages.size(); ++z) {
    for (int i = 0; i < 128; ++i) {
      if (i < keep[z]) {
        kept.push_back(zspages[z][static_cast<size_t>(i)]);
      } else {
        pool->free(zspages[z][static_cast<size_t>(i)].handle);
      }
    }
  }
  EXPECT_EQ(pool->compact(), 2u);
  const ClassStats cs = pool->stats().classes[c.index];
  EXPECT_EQ(cs.zspages, 2u);
  EXPECT_EQ(cs.objects_in_use, 250u);
  EXPECT_EQ(cs.fullness[kFullnessGroups - 1], 1u);  // 128
  EXPECT_EQ(cs.fullness[10], 1u);                   // 122 of 128: 95%
  expect_intact(*pool, kept);
  pool->check_invariants();
}

TEST(Compaction, RaisesEfficiencyOfAFragmentedPoolInEveryClass) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  std::mt19937_64 rng(testing::test_seed(42));
  std::uniform_int_distribution<size_t> size_of(1, kMaxObjectSize);
  std::vector<Object> objects;
  for (int i = 0; i < 30000; ++i)
    objects.push_back(store(*pool, size_of(rng), rng()));
  std::shuffle(objects.begin(), objects.end(), rng);
  for (size_t i = objects.size() / 4; i < objects.size(); ++i)
    pool->free(objects[i].handle);
  objects.resize(objects.size() / 4);
  const PoolStats before = pool->stats();
  const uint64_t freed = pool->compact();
  const PoolStats after = pool->stats();
  EXPECT_GT(freed, 0u);
  EXPECT_EQ(freed, freeable(before));  // nothing else runs: compaction does all it can
  EXPECT_EQ(freeable(after), 0u);
  EXPECT_EQ(after.pages_held + freed, before.pages_held);
  EXPECT_GT(after.efficiency(), before.efficiency());
  std::printf("efficiency %.3f -> %.3f, %llu pages freed\n", before.efficiency(),
              after.efficiency(), static_cast<unsigned long long>(freed));
  pool->check_invariants();
  expect_intact(*pool, objects);
}

TEST(Compaction, OnAnEmptyPoolDoesNothing) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  EXPECT_EQ(pool->compact(), 0u);
  pool->check_invariants();
}

}  // namespace
}  // namespace zsfs::pool
