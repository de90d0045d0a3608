// Tests of the Pool API (pool/pool.h): sizes, guards and copies, objects that straddle pages in
// every class, fullness groups and placement, the budget (ENOSPC, all-or-nothing, recovery),
// metadata accounting, statistics, and the checks on bad handles (death tests).
#include "pool/pool.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/json.h"
#include "pool/page_source.h"
#include "pool_test_util.h"

namespace zsfs::pool {
namespace {

using testing::fill_pattern;
using testing::pattern_mismatch;

constexpr uint64_t kGiB = uint64_t{1} << 30;

std::unique_ptr<Pool> make_pool(MemoryBudget* budget, unsigned max_pages = kDefaultChainPages) {
  Result<std::unique_ptr<Pool>> pool = Pool::create(PoolConfig{max_pages}, budget);
  EXPECT_TRUE(pool.ok());
  return std::move(pool).value();
}

Handle allocate_ok(Pool& pool, size_t size) {
  Result<Handle> h = pool.allocate(size);
  EXPECT_TRUE(h.ok()) << "allocate(" << size << ") failed: " << (h.ok() ? 0 : h.error());
  return h.ok() ? *h : kNullHandle;
}

void write_pattern(Pool& pool, Handle h, uint64_t seed) {
  std::vector<std::byte> bytes(pool.object_size(h));
  fill_pattern(bytes, seed);
  pool.write_bytes(h, bytes);
}

void expect_pattern(Pool& pool, Handle h, uint64_t seed) {
  std::vector<std::byte> bytes(pool.object_size(h));
  pool.read_bytes(h, bytes);
  EXPECT_EQ(pattern_mismatch(bytes, seed), bytes.size()) << "read_bytes of handle " << h;
  const ReadGuard guard = pool.read(h);
  EXPECT_EQ(pattern_mismatch(guard.bytes(), seed), bytes.size()) << "ReadGuard of handle " << h;
}

ClassStats class_stats(const PoolStats& s, const SizeClass& c) {
  return s.classes.at(c.index);
}

TEST(Pool, CreateRejectsBadConfig) {
  MemoryBudget budget(kGiB);
  for (unsigned bad : {0u, 17u, 1000u}) {
    Result<std::unique_ptr<Pool>> pool = Pool::create(PoolConfig{bad}, &budget);
    ASSERT_FALSE(pool.ok());
    EXPECT_EQ(pool.error(), EINVAL);
  }
  Result<std::unique_ptr<Pool>> no_budget = Pool::create(PoolConfig{}, nullptr);
  ASSERT_FALSE(no_budget.ok());
  EXPECT_EQ(no_budget.error(), EINVAL);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Pool, BadSizesAreEinvalAndChangeNothing) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  for (size_t bad : {size_t{0}, size_t{4097}, size_t{1} << 20, SIZE_MAX}) {
    Result<Handle> h = pool->allocate(bad);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), EINVAL);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(pool->stats().objects, 0u);
  pool->check_invariants();
}

TEST(Pool, EverySizeRoundTrips) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  for (size_t size = 1; size <= kMaxObjectSize; ++size) {
    const Handle h = allocate_ok(*pool, size);
    ASSERT_NE(h, kNullHandle);
    ASSERT_EQ(pool->object_size(h), size);
    write_pattern(*pool, h, size);
    handles.push_back(h);
  }
  EXPECT_EQ(std::set<Handle>(handles.begin(), handles.end()).size(), handles.size());
  pool->check_invariants();
  const PoolStats s = pool->stats();
  EXPECT_EQ(s.objects, kMaxObjectSize);
  EXPECT_EQ(s.bytes_stored, kMaxObjectSize * (kMaxObjectSize + 1) / 2);
  EXPECT_EQ(s.huge_objects, kMaxObjectSize - pool->huge_class_size() + 1);
  for (size_t size = 1; size <= kMaxObjectSize; ++size)
    expect_pattern(*pool, handles[size - 1], size);
  for (Handle h : handles)
    pool->free(h);
  pool->check_invariants();
  EXPECT_EQ(pool->stats().pages_held, 0u);
  // Only metadata is left (the handle tables keep their size), all of it charged.
  EXPECT_EQ(budget.used_bytes(), pool->metadata_bytes());
}

TEST(Pool, StoreCopiesEverySizeInAndRefusesAsAllocate) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  std::vector<std::byte> bytes(kMaxObjectSize);
  for (size_t size = 1; size <= kMaxObjectSize; ++size) {
    fill_pattern(std::span(bytes).first(size), size);
    Result<Handle> h = pool->store(std::span(bytes).first(size));
    ASSERT_TRUE(h.ok()) << "store of " << size << " bytes";
    ASSERT_EQ(pool->object_size(*h), size);
    handles.push_back(*h);
  }
  pool->check_invariants();
  EXPECT_EQ(pool->stats().bytes_stored, kMaxObjectSize * (kMaxObjectSize + 1) / 2);
  for (size_t size = 1; size <= kMaxObjectSize; ++size)  // straddling slots included
    expect_pattern(*pool, handles[size - 1], size);
  for (Handle h : handles)
    pool->free(h);
  const std::vector<std::byte> too_big(kMaxObjectSize + 1);
  for (std::span<const std::byte> bad : {std::span<const std::byte>(), std::span(too_big)}) {
    Result<Handle> h = pool->store(bad);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), EINVAL);
  }
  EXPECT_EQ(pool->stats().objects, 0u);

  MemoryBudget small(1 << 20);
  auto full = make_pool(&small);
  std::vector<Handle> kept;
  fill_pattern(std::span(bytes).first(900), 900);
  Result<Handle> h = full->store(std::span(bytes).first(900));
  for (; h.ok(); h = full->store(std::span(bytes).first(900)))
    kept.push_back(*h);
  EXPECT_EQ(h.error(), ENOSPC);
  const PoolStats at_limit = full->stats();
  EXPECT_FALSE(full->store(std::span(bytes).first(900)).ok());
  EXPECT_EQ(full->stats().objects, at_limit.objects);
  EXPECT_EQ(full->stats().pages_held, at_limit.pages_held);
  for (Handle x : kept)
    expect_pattern(*full, x, 900);
  full->check_invariants();
}

// Fills exactly one zspage of every class with objects of `size_for(class)` bytes and checks every
// slot through both guards and both copies: this visits every page-boundary offset each class
// produces.
void check_one_full_zspage_per_class(unsigned max_pages, bool smallest_size_of_class) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget, max_pages);
  const auto& classes = pool->class_table().classes();
  size_t straddlers = 0;
  for (const SizeClass& c : classes) {
    const uint32_t size =
        smallest_size_of_class && c.index > 0 ? classes[c.index - 1].size_bytes + 1 : c.size_bytes;
    SCOPED_TRACE("class " + std::to_string(c.size_bytes) + " objects of " + std::to_string(size));
    std::vector<Handle> handles;
    for (uint32_t i = 0; i < c.objects_per_zspage; ++i)
      handles.push_back(allocate_ok(*pool, size));
    const ClassStats cs = class_stats(pool->stats(), c);
    ASSERT_EQ(cs.zspages, 1u);
    ASSERT_EQ(cs.fullness[kFullnessGroups - 1], 1u) << "the zspage should be full";

    // Write: even slots through a WriteGuard, odd ones with write_bytes.
    for (uint32_t i = 0; i < handles.size(); ++i) {
      const uint64_t seed = uint64_t{c.index} << 32 | i;
      if (i % 2 == 0) {
        WriteGuard guard = pool->write(handles[i]);
        ASSERT_EQ(guard.bytes().size(), size);
        fill_pattern(guard.bytes(), seed);
      } else {
        write_pattern(*pool, handles[i], seed);
      }
    }
    // Read every slot back three ways; a slot whose object crosses a page is served from the
    // per-thread buffer, one that does not from the page itself.
    const std::byte* bounce = nullptr;
    for (uint32_t i = 0; i < handles.size(); ++i) {
      const uint64_t seed = uint64_t{c.index} << 32 | i;
      const size_t offset = size_t{i} * c.size_bytes % kPageSize;
      const bool straddles = offset + size > kPageSize;
      straddlers += straddles ? 1 : 0;
      expect_pattern(*pool, handles[i], seed);
      {
        const ReadGuard guard = pool->read(handles[i]);
        const auto address = reinterpret_cast<uintptr_t>(guard.bytes().data());
        if (straddles) {
          if (bounce == nullptr) bounce = guard.bytes().data();
          EXPECT_EQ(guard.bytes().data(), bounce) << "slot " << i;
        } else {
          EXPECT_EQ(address % kPageSize, offset) << "slot " << i << " not served in place";
        }
      }
      {
        // A WriteGuard shows the current bytes too; change the first and last byte (the two
        // pieces of a straddling object) and see both written back.
        WriteGuard guard = pool->write(handles[i]);
        ASSERT_EQ(pattern_mismatch(guard.bytes(), seed), size) << "slot " << i;
        guard.bytes().front() = ~guard.bytes().front();
        guard.bytes().back() = ~guard.bytes().back();
      }
      std::vector<std::byte> expected(size);
      fill_pattern(expected, seed);
      expected.front() = ~expected.front();
      expected.back() = ~expected.back();
      std::vector<std::byte> actual(size);
      pool->read_bytes(handles[i], actual);
      ASSERT_EQ(actual, expected) << "slot " << i;
    }
    pool->check_invariants();
    for (Handle h : handles)
      pool->free(h);
  }
  if (max_pages > 1) {
    EXPECT_GT(straddlers, 0u);
  }
  pool->check_invariants();
  EXPECT_EQ(pool->stats().pages_held, 0u);
}

class StraddleTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(StraddleTest, EverySlotOfEveryClassAtClassSize) {
  check_one_full_zspage_per_class(GetParam(), /*smallest_size_of_class=*/false);
}

TEST_P(StraddleTest, EverySlotOfEveryClassAtSmallestSize) {
  check_one_full_zspage_per_class(GetParam(), /*smallest_size_of_class=*/true);
}

INSTANTIATE_TEST_SUITE_P(ChainLimits, StraddleTest, ::testing::Values(1u, 4u, 8u, 16u));

TEST(Pool, HugeObjectsTakeAPageEach) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const size_t huge = pool->huge_class_size();
  std::vector<Handle> handles;
  for (size_t size : {huge, huge + 1, size_t{4000}, size_t{4096}}) {
    handles.push_back(allocate_ok(*pool, size));
  }
  const PoolStats s = pool->stats();
  EXPECT_EQ(s.pages_held, 4u);
  EXPECT_EQ(s.huge_objects, 4u);
  // One below the threshold shares zspages with other objects.
  handles.push_back(allocate_ok(*pool, huge - 1));
  EXPECT_EQ(pool->stats().huge_objects, 4u);
  for (Handle h : handles)
    pool->free(h);
}

TEST(Pool, FullnessGroupsFollowTheKernelRatio) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const SizeClass& c = pool->class_table().class_for_size(32);  // 128 objects in one page
  ASSERT_EQ(c.objects_per_zspage, 128u);
  std::vector<Handle> handles;
  for (uint32_t n = 1; n <= c.objects_per_zspage; ++n) {
    handles.push_back(allocate_ok(*pool, 32));
    const unsigned ratio = 100 * n / c.objects_per_zspage;
    const size_t group = n == c.objects_per_zspage ? kFullnessGroups - 1 : ratio / 10 + 1;
    const ClassStats cs = class_stats(pool->stats(), c);
    ASSERT_EQ(cs.fullness[group], 1u) << n << " objects";
  }
  for (Handle h : handles)
    pool->free(h);
}

TEST(Pool, AllocationFillsTheFullestZspageFirst) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const SizeClass& c = pool->class_table().class_for_size(32);  // 128 objects per 1-page zspage
  std::vector<Handle> a;
  std::vector<Handle> b;
  for (int i = 0; i < 128; ++i)
    a.push_back(allocate_ok(*pool, 32));
  for (int i = 0; i < 128; ++i)
    b.push_back(allocate_ok(*pool, 32));
  // A keeps 28 objects (21%, group 3), B keeps 108 (84%, group 9).
  for (int i = 0; i < 100; ++i)
    pool->free(a[static_cast<size_t>(i)]);
  for (int i = 0; i < 20; ++i)
    pool->free(b[static_cast<size_t>(i)]);
  ClassStats cs = class_stats(pool->stats(), c);
  ASSERT_EQ(cs.fullness[3], 1u);
  ASSERT_EQ(cs.fullness[9], 1u);
  // The next 20 objects all go to B, which fills; A is untouched.
  std::vector<Handle> more;
  for (int i = 0; i < 20; ++i)
    more.push_back(allocate_ok(*pool, 32));
  cs = class_stats(pool->stats(), c);
  EXPECT_EQ(cs.fullness[kFullnessGroups - 1], 1u);
  EXPECT_EQ(cs.fullness[3], 1u);
  EXPECT_EQ(cs.zspages, 2u);
  // Then A.
  more.push_back(allocate_ok(*pool, 32));
  EXPECT_EQ(class_stats(pool->stats(), c).fullness[3], 1u);  // 29 of 128 is still 22%
  pool->check_invariants();
}

TEST(Pool, FreeOfTheLastObjectReleasesTheZspage) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const SizeClass& c = pool->class_table().class_for_size(1000);
  std::vector<Handle> handles;
  for (uint32_t i = 0; i < c.objects_per_zspage + 1; ++i)
    handles.push_back(allocate_ok(*pool, 1000));
  EXPECT_EQ(pool->stats().pages_held, 2 * c.pages_per_zspage);
  pool->free(handles.back());
  EXPECT_EQ(pool->stats().pages_held, c.pages_per_zspage);
  for (uint32_t i = 0; i < c.objects_per_zspage; ++i)
    pool->free(handles[i]);
  EXPECT_EQ(pool->stats().pages_held, 0u);
  pool->check_invariants();
}

TEST(Pool, BudgetReachedIsEnospcWithEarlierObjectsIntact) {
  MemoryBudget budget(1 << 20);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  Result<Handle> h = pool->allocate(700);
  for (; h.ok(); h = pool->allocate(700 + handles.size() % 300)) {
    handles.push_back(*h);
    write_pattern(*pool, *h, *h);
  }
  ASSERT_EQ(h.error(), ENOSPC);
  // Most of the budget holds data, although 20-odd classes each keep a partly filled zspage of up
  // to 8 pages, and the metadata is charged too.
  const PoolStats full = pool->stats();
  EXPECT_GT(static_cast<double>(full.bytes_stored) / static_cast<double>(budget.limit_bytes()),
            0.7);
  EXPECT_LE(budget.used_bytes(), budget.limit_bytes());
  pool->check_invariants();
  // Every object intact, the accounting exact.
  for (Handle x : handles)
    expect_pattern(*pool, x, x);
  PoolStats s = pool->stats();
  EXPECT_EQ(budget.used_bytes(), s.pages_held * kPageSize + s.metadata_bytes);
  // A failure changes nothing, however often it is repeated, in any class.
  for (size_t size = 1; size <= kMaxObjectSize; size += 61) {
    Result<Handle> refused = pool->allocate(size);
    if (refused.ok()) {
      handles.push_back(*refused);
      write_pattern(*pool, *refused, *refused);
      s = pool->stats();
      continue;
    }
    ASSERT_EQ(refused.error(), ENOSPC);
    const PoolStats after = pool->stats();
    EXPECT_EQ(after.pages_held, s.pages_held);
    EXPECT_EQ(after.metadata_bytes, s.metadata_bytes);
    EXPECT_EQ(after.objects, s.objects);
  }
  pool->check_invariants();
  // Frees make room again.
  for (size_t i = 0; i < handles.size(); i += 2)
    pool->free(handles[i]);
  pool->compact();
  std::vector<Handle> again;
  for (int i = 0; i < 100; ++i)
    again.push_back(allocate_ok(*pool, 700));
  for (size_t i = 1; i < handles.size(); i += 2)
    expect_pattern(*pool, handles[i], handles[i]);
  pool->check_invariants();
}

TEST(Pool, EveryBudgetLimitIsAllOrNothing) {
  // Sweep the limit through the first allocation's needs (metadata, then each page of the chain):
  // whatever the limit, an allocation either succeeds or leaves the budget exactly as it was.
  for (size_t size : {size_t{48}, size_t{1000}, size_t{3000}, size_t{4096}}) {
    for (uint64_t limit = 0; limit < 5 * kPageSize * kDefaultChainPages; limit += 512) {
      MemoryBudget budget(limit);
      auto pool = make_pool(&budget);
      size_t stored = 0;
      for (;;) {
        const uint64_t before = budget.used_bytes();
        Result<Handle> h = pool->allocate(size);
        if (!h.ok()) {
          ASSERT_EQ(h.error(), ENOSPC);
          ASSERT_EQ(budget.used_bytes(), before) << "size " << size << " limit " << limit;
          break;
        }
        ++stored;
      }
      pool->check_invariants();
      EXPECT_EQ(pool->stats().objects, stored);
    }
  }
}

TEST(Pool, DestructionReturnsEveryCharge) {
  MemoryBudget budget(kGiB);
  {
    auto pool = make_pool(&budget);
    for (size_t i = 0; i < 5000; ++i)
      (void)allocate_ok(*pool, 1 + (i * 7919) % 4096);
    EXPECT_GT(budget.used_bytes(), 0u);
  }  // destroyed with live objects
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Pool, MetadataIsChargedAndSmallPerObject) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  // 200k objects of compressed-block sizes. Per object the pool keeps a handle-table entry (8
  // bytes) and a slot word (4); per zspage a descriptor header, its page addresses and a
  // directory word, which objects share (about 8 bytes each for these sizes, most in the large
  // classes whose zspages hold few objects).
  constexpr size_t kObjects = 200'000;
  std::vector<Handle> handles;
  handles.reserve(kObjects);
  uint64_t x = 1;
  for (size_t i = 0; i < kObjects; ++i) {
    x = testing::mix64(x);
    handles.push_back(allocate_ok(*pool, 64 + x % 3000));
  }
  const PoolStats s = pool->stats();
  EXPECT_EQ(s.metadata_bytes, pool->metadata_bytes());
  EXPECT_EQ(budget.used_bytes(), s.pages_held * kPageSize + s.metadata_bytes);
  const double per_object = static_cast<double>(s.metadata_bytes) / kObjects;
  EXPECT_LE(per_object, 24.0);
  std::printf("metadata: %.2f bytes per object (%zu objects)\n", per_object, kObjects);
  for (Handle h : handles)
    pool->free(h);
}

TEST(Pool, StatsRenderAsJsonAndTable) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  for (size_t i = 0; i < 300; ++i)
    handles.push_back(allocate_ok(*pool, 100 + i * 13 % 4000));
  const PoolStats s = pool->stats();
  EXPECT_EQ(s.objects, 300u);
  EXPECT_GT(s.efficiency(), 0.0);
  EXPECT_LE(s.efficiency(), 1.0);
  uint64_t pages = 0;
  for (const ClassStats& c : s.classes) {
    uint64_t in_groups = 0;
    for (uint64_t n : c.fullness)
      in_groups += n;
    EXPECT_EQ(in_groups, c.zspages);
    pages += c.pages;
  }
  EXPECT_EQ(pages, s.pages_held);

  const std::string text = to_json_text(s.to_json(/*with_classes=*/true));
  for (const char* key : {"\"pages_held\":", "\"bytes_stored\":", "\"efficiency\":",
                          "\"huge_objects\":", "\"pages_compacted\":", "\"metadata_bytes\":",
                          "\"classes\":[", "\"objects_per_zspage\":", "\"fullness\":["}) {
    EXPECT_NE(text.find(key), std::string::npos) << key << " missing from " << text;
  }
  EXPECT_EQ(to_json_text(s.to_json(/*with_classes=*/false)).find("classes"), std::string::npos);

  const std::string table = s.classes_text();
  EXPECT_NE(table.find("class  size"), std::string::npos) << table;
  EXPECT_NE(table.find("obj_allocated"), std::string::npos);
  EXPECT_NE(table.find("Total"), std::string::npos);
  for (Handle h : handles)
    pool->free(h);
  EXPECT_DOUBLE_EQ(pool->stats().efficiency(), 1.0);
}

// --- bad handles and misuse -----------------------------------------------------------------

class PoolDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  MemoryBudget budget_{kGiB};
  std::unique_ptr<Pool> pool_ = make_pool(&budget_);
};

TEST_F(PoolDeathTest, NullHandle) {
  EXPECT_DEATH(pool_->free(kNullHandle), "null handle");
  EXPECT_DEATH((void)pool_->read(kNullHandle), "null handle");
}

TEST_F(PoolDeathTest, NeverAllocatedHandles) {
  const Handle h = allocate_ok(*pool_, 100);
  EXPECT_DEATH(pool_->free(h + 1), "never allocated");                   // next entry, not live
  EXPECT_DEATH(pool_->free(h + 100000), "never allocated");              // beyond the table
  EXPECT_DEATH(pool_->free(0x12345), "never allocated");                 // generation 0
  EXPECT_DEATH(pool_->free(~Handle{0}), "never allocated");              // stray high bits
  EXPECT_DEATH(pool_->free(h | Handle{0xff} << 31), "never allocated");  // no such class
  pool_->free(h);
}

TEST_F(PoolDeathTest, DoubleFree) {
  const Handle h = allocate_ok(*pool_, 100);
  pool_->free(h);
  EXPECT_DEATH(pool_->free(h), "already freed");
}

TEST_F(PoolDeathTest, UseAfterFree) {
  const Handle h = allocate_ok(*pool_, 100);
  pool_->free(h);
  EXPECT_DEATH((void)pool_->read(h), "already freed");
  EXPECT_DEATH((void)pool_->write(h), "already freed");
  EXPECT_DEATH((void)pool_->object_size(h), "already freed");
}

TEST_F(PoolDeathTest, StaleHandleAfterReuse) {
  const Handle h = allocate_ok(*pool_, 100);
  pool_->free(h);
  const Handle reused = allocate_ok(*pool_, 100);  // same entry, next generation
  ASSERT_NE(reused, h);
  EXPECT_DEATH(pool_->free(h), "stale handle");
  pool_->free(reused);
}

TEST_F(PoolDeathTest, PoolCallWhileHoldingAGuard) {
  const Handle a = allocate_ok(*pool_, 100);
  const Handle b = allocate_ok(*pool_, 3000);
  EXPECT_DEATH(
      {
        const ReadGuard guard = pool_->read(a);
        (void)pool_->read(b);
      },
      "holds a ReadGuard or WriteGuard");
  EXPECT_DEATH(
      {
        const WriteGuard guard = pool_->write(a);
        (void)pool_->allocate(10);
      },
      "holds a ReadGuard or WriteGuard");
  // After the guard ends, all is well.
  { const ReadGuard guard = pool_->read(a); }
  pool_->free(a);
  pool_->free(b);
}

TEST_F(PoolDeathTest, CopyOfTheWrongSize) {
  const Handle h = allocate_ok(*pool_, 100);
  std::vector<std::byte> small(99);
  EXPECT_DEATH(pool_->read_bytes(h, small), "size differs");
  EXPECT_DEATH(pool_->write_bytes(h, small), "size differs");
  pool_->free(h);
}

TEST(Pool, GuardsMove) {
  MemoryBudget budget(kGiB);
  auto pool = make_pool(&budget);
  const Handle h = allocate_ok(*pool, 3000);
  write_pattern(*pool, h, 7);
  {
    ReadGuard first = pool->read(h);
    ReadGuard second(std::move(first));
    EXPECT_TRUE(first.bytes().empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(pattern_mismatch(second.bytes(), 7), 3000u);
  }
  {
    WriteGuard first = pool->write(h);
    WriteGuard second(std::move(first));
    fill_pattern(second.bytes(), 8);
  }
  expect_pattern(*pool, h, 8);
  pool->free(h);
}

}  // namespace
}  // namespace zsfs::pool
