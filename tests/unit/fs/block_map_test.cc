// Tests for BlockMap: behaviour at the edges of nodes and of the index space, the memory figures
// it is designed for, searches against brute force, failure without side effects (budget refusal
// and host allocation failure, injected), and a model-based randomized test against std::map.
//
// Replay a randomized failure with ZSFS_TEST_SEED=<seed> (the seed is in the failure message).

#include "fs/block_map.h"

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

// ---- Fault injection ---------------------------------------------------------------------------
//
// BlockMap takes its nodes from the aligned operator new. Replacing it (for the whole test binary,
// harmlessly: it allocates as usual unless a test arms it) lets a test count node allocations and
// make one of them throw std::bad_alloc.
namespace {

std::atomic<long> g_aligned_news{0};  // aligned allocations so far
// -1: never fail; n >= 0: the allocation after the next n ones throws.
std::atomic<long> g_aligned_news_until_failure{-1};

size_t round_up(size_t size, size_t alignment) {
  return (size + alignment - 1) / alignment * alignment;
}

}  // namespace

void* operator new(std::size_t size, std::align_val_t alignment) {
  if (g_aligned_news_until_failure.load() >= 0 && g_aligned_news_until_failure-- == 0) {
    throw std::bad_alloc();  // (the counter is now -1: disarmed)
  }
  ++g_aligned_news;
  const auto align = static_cast<size_t>(alignment);
  void* memory = std::aligned_alloc(align, round_up(size == 0 ? 1 : size, align));
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}
void operator delete(void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}

namespace zsfs::fs {
namespace {

constexpr uint64_t kPlenty = uint64_t{1} << 40;  // a budget no test reaches
constexpr uint64_t kTop = kMaxBlocks - 1;        // the highest valid index

using Model = std::map<uint64_t, BlockRef>;

// A BlockMap with the budget it is edited with (a map keeps none: its owner passes it to every
// edit), which empties itself before it is destroyed (BlockMap aborts if destroyed while it holds
// blocks), so that a failed assertion ends its test with a report, not an abort.
class TestMap : public BlockMap {
 public:
  explicit TestMap(MemoryBudget* budget) : budget_(budget) {}
  ~TestMap() { erase_range(0, kMaxBlocks, nullptr); }
  TestMap(TestMap&&) = default;
  TestMap& operator=(TestMap&&) = default;

  Result<BlockRef> set(uint64_t index, BlockRef ref) { return BlockMap::set(index, ref, *budget_); }
  BlockRef erase(uint64_t index) { return BlockMap::erase(index, *budget_); }
  void erase_range(uint64_t first, uint64_t last,
                   const std::function<void(uint64_t index, BlockRef ref)>& on_erased) {
    BlockMap::erase_range(first, last, *budget_, on_erased);
  }

 private:
  MemoryBudget* budget_;
};

// The ref the tests store at an index: never a hole, and differs between neighbours.
BlockRef ref_for(uint64_t index) {
  return static_cast<BlockRef>(index * 2654435761u % 0xfffffffbu) + 1;
}

void set_ok(TestMap& map, uint64_t index, BlockRef ref) {
  Result<BlockRef> result = map.set(index, ref);
  ASSERT_TRUE(result.ok()) << "set(" << index << ") failed with errno " << result.error();
}

void fill(TestMap& map, uint64_t first, uint64_t last) {
  for (uint64_t i = first; i < last; ++i) {
    ASSERT_NO_FATAL_FAILURE(set_ok(map, i, ref_for(i)));
  }
}

Model contents(const BlockMap& map) {
  Model model;
  map.for_each(0, kMaxBlocks, [&](uint64_t index, BlockRef ref) {
    EXPECT_TRUE(model.empty() || model.rbegin()->first < index) << "for_each out of order";
    model.emplace(index, ref);
    return true;
  });
  return model;
}

std::optional<uint64_t> model_next_data(const Model& model, uint64_t from) {
  if (from >= kMaxBlocks) return std::nullopt;
  auto it = model.lower_bound(from);
  if (it == model.end()) return std::nullopt;
  return it->first;
}

uint64_t model_next_hole(const Model& model, uint64_t from) {
  if (from >= kMaxBlocks) return from;
  for (auto it = model.find(from); it != model.end() && it->first == from; ++it) {
    ++from;
  }
  return from;
}

// Everything observable about a map and its budget, to show that a failed set() changed nothing.
struct Snapshot {
  Model contents;
  uint64_t count;
  uint64_t memory_bytes;
  uint64_t budget_used;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const BlockMap& map, const MemoryBudget& budget) {
  return {contents(map), map.count(), map.memory_bytes(), budget.used_bytes()};
}

// The maximal runs of consecutive indices in a model, each run's end keyed by its start: a
// reference for next_hole() that does not walk a long run block by block.
using Runs = std::map<uint64_t, uint64_t>;

Runs runs_of(const Model& model) {
  Runs runs;
  for (auto it = model.begin(); it != model.end();) {
    const uint64_t start = it->first;
    uint64_t end = start;
    for (; it != model.end() && it->first == end; ++it) {
      ++end;
    }
    runs.emplace(start, end);
  }
  return runs;
}

uint64_t runs_next_hole(const Runs& runs, uint64_t from) {
  auto it = runs.upper_bound(from);
  if (it == runs.begin()) return from;
  --it;
  return from < it->second ? it->second : from;
}

// Compares next_data/next_hole/get with the model at the given indices.
void expect_searches_match(const BlockMap& map, const Model& model,
                           const std::vector<uint64_t>& probes) {
  const Runs runs = runs_of(model);
  for (uint64_t from : probes) {
    SCOPED_TRACE("from " + std::to_string(from));
    EXPECT_EQ(map.next_data(from), model_next_data(model, from));
    EXPECT_EQ(map.next_hole(from), runs_next_hole(runs, from));
    auto it = from < kMaxBlocks ? model.find(from) : model.end();
    EXPECT_EQ(map.get(from), it == model.end() ? kHole : it->second);
  }
}

// Indices near the boundaries of nodes at every level, and of the index space.
std::vector<uint64_t> boundary_probes() {
  std::vector<uint64_t> probes;
  for (uint64_t i = 0; i < 300; ++i) {
    probes.push_back(i);
  }
  for (unsigned shift = 6; shift <= 48; shift += 6) {
    for (uint64_t multiple : {uint64_t{1}, uint64_t{2}, uint64_t{7}, uint64_t{63}}) {
      const uint64_t boundary = multiple << shift;
      for (uint64_t delta = 0; delta < 3; ++delta) {
        probes.push_back(boundary + delta);
        probes.push_back(boundary - 1 - delta);
      }
    }
  }
  for (uint64_t delta = 0; delta < 70; ++delta) {
    probes.push_back(kTop - delta);
  }
  probes.push_back(kMaxBlocks);
  probes.push_back(kMaxBlocks + 1);
  probes.push_back(UINT64_MAX);
  return probes;
}

// Leaves the map holding exactly `model`.
void build(TestMap& map, const Model& model) {
  for (const auto& [index, ref] : model) {
    ASSERT_NO_FATAL_FAILURE(set_ok(map, index, ref));
  }
}

Model dense(uint64_t first, uint64_t last) {
  Model model;
  for (uint64_t i = first; i < last; ++i) {
    model.emplace(i, ref_for(i));
  }
  return model;
}

// ---- Basics ------------------------------------------------------------------------------------

TEST(BlockMapBasics, EmptyMap) {
  static_assert(sizeof(BlockMap) <= 24);
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.count(), 0u);
  EXPECT_EQ(map.memory_bytes(), 0u);
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, kTop, kMaxBlocks, UINT64_MAX}) {
    EXPECT_EQ(map.get(index), kHole);
    EXPECT_EQ(map.next_data(index), std::nullopt);
    EXPECT_EQ(map.next_hole(index), index);
    EXPECT_EQ(map.erase(index), kHole);
  }
  int calls = 0;
  map.for_each(0, UINT64_MAX, [&](uint64_t, BlockRef) { return ++calls, true; });
  map.erase_range(0, UINT64_MAX, [&](uint64_t, BlockRef) { ++calls; });
  EXPECT_EQ(calls, 0);
  map.check_invariants();
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapBasics, SetGetEraseAtNodeAndSpaceBoundaries) {
  MemoryBudget budget(kPlenty);
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{63}, uint64_t{64}, uint64_t{4095},
                         uint64_t{4096}, uint64_t{262143}, uint64_t{262144}, kTop - 64, kTop}) {
    SCOPED_TRACE("index " + std::to_string(index));
    TestMap map(&budget);
    Result<BlockRef> first = map.set(index, 7);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(*first, kHole);
    map.check_invariants();
    EXPECT_EQ(map.count(), 1u);
    EXPECT_EQ(map.get(index), 7u);
    EXPECT_EQ(map.get(index + 1), kHole);
    if (index > 0) {
      EXPECT_EQ(map.get(index - 1), kHole);
    }
    EXPECT_EQ(map.next_data(0), index);
    EXPECT_EQ(map.next_hole(index), index + 1);

    Result<BlockRef> again = map.set(index, 8);  // overwrite: returns the old ref, count stays
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 7u);
    EXPECT_EQ(map.count(), 1u);
    EXPECT_EQ(map.get(index), 8u);

    EXPECT_EQ(map.erase(index + 1), kHole);
    EXPECT_EQ(map.erase(index), 8u);
    EXPECT_EQ(map.erase(index), kHole);
    map.check_invariants();
    EXPECT_TRUE(map.empty());
    EXPECT_EQ(map.memory_bytes(), 0u);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapBasics, LoneBlockAtZeroIsInline) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  set_ok(map, 0, 42);
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(map.get(0), 42u);
  EXPECT_EQ(map.next_hole(0), 1u);
  EXPECT_EQ(map.next_data(0), 0u);
  EXPECT_EQ(map.next_data(1), std::nullopt);
  map.check_invariants();

  set_ok(map, 1, 43);  // a second block needs a node...
  EXPECT_GT(map.memory_bytes(), 0u);
  EXPECT_EQ(map.erase(1), 43u);  // ...which goes when it does
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(map.get(0), 42u);
  map.check_invariants();

  set_ok(map, kTop, 44);  // the same through nine levels
  EXPECT_EQ(map.erase(kTop), 44u);
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(map.get(0), 42u);
  map.check_invariants();
  EXPECT_EQ(map.erase(0), 42u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapBasics, ExtremeRefsRoundTrip) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, kTop}) {
    set_ok(map, index, UINT32_MAX);
    EXPECT_EQ(map.get(index), UINT32_MAX);
    set_ok(map, index, 1);
    EXPECT_EQ(map.get(index), 1u);
    map.check_invariants();
  }
}

TEST(BlockMapBasics, MoveTransfersTheTree) {
  MemoryBudget budget(kPlenty);
  TestMap a(&budget);
  fill(a, 0, 100);
  const uint64_t bytes = a.memory_bytes();
  TestMap b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  EXPECT_EQ(a.memory_bytes(), 0u);
  EXPECT_EQ(b.count(), 100u);
  EXPECT_EQ(b.memory_bytes(), bytes);
  EXPECT_EQ(b.get(99), ref_for(99));
  TestMap c(&budget);
  c = std::move(b);
  EXPECT_EQ(c.count(), 100u);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  c.check_invariants();
  set_ok(a, 5, 5);  // a moved-from map is usable
  EXPECT_EQ(a.get(5), 5u);
  EXPECT_EQ(budget.used_bytes(), a.memory_bytes() + c.memory_bytes());
}

TEST(BlockMapBasics, ForEachVisitsARangeInOrderAndStopsOnRequest) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  Model model = dense(0, 200);
  model.merge(dense(5000, 5100));
  model.emplace(kTop, 9);
  build(map, model);
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 1},       {0, 64},         {63, 65},           {150, 5050}, {199, 5000},
      {5100, kTop}, {0, kMaxBlocks}, {kTop, UINT64_MAX}, {300, 200},  {kMaxBlocks, UINT64_MAX}};
  for (auto [first, last] : ranges) {
    SCOPED_TRACE(std::to_string(first) + ".." + std::to_string(last));
    std::vector<std::pair<uint64_t, BlockRef>> seen;
    map.for_each(first, last, [&](uint64_t index, BlockRef ref) {
      seen.emplace_back(index, ref);
      return true;
    });
    std::vector<std::pair<uint64_t, BlockRef>> expected;
    for (auto it = model.lower_bound(first); it != model.end() && it->first < last; ++it) {
      expected.emplace_back(*it);
    }
    EXPECT_EQ(seen, expected);
  }
  int calls = 0;
  map.for_each(0, kMaxBlocks, [&](uint64_t index, BlockRef) {
    ++calls;
    return index < 64;  // stops after index 64
  });
  EXPECT_EQ(calls, 65);
}

// ---- Memory ------------------------------------------------------------------------------------
//
// The figures designed for: a leaf is its bitmap (8 bytes) and 4 bytes a slot, an interior node
// 24 bytes and 8 a slot, each slot array a power of two sized to the slots in use.

TEST(BlockMapMemory, SmallDenseFilesCostFourBytesPerSlotOfAPowerOfTwo) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  for (uint64_t n = 1; n <= 64; ++n) {
    set_ok(map, n - 1, ref_for(n - 1));
    const uint64_t expected = n == 1 ? 0 : 8 + 4 * std::bit_ceil(n);
    EXPECT_EQ(map.memory_bytes(), expected) << n << " blocks";
  }
  EXPECT_EQ(map.memory_bytes(), 264u);  // 64 blocks: one full leaf
  set_ok(map, 64, 1);                   // a root above two leaves, the second with one slot
  EXPECT_EQ(map.memory_bytes(), 264u + (24 + 2 * 8) + (8 + 4));
  map.check_invariants();
  EXPECT_EQ(budget.used_bytes(), map.memory_bytes());
}

TEST(BlockMapMemory, SmallFileFigures) {
  MemoryBudget budget(kPlenty);
  const std::pair<uint64_t, uint64_t> figures[] = {{1, 0}, {2, 16}, {3, 24}, {8, 40}, {64, 264}};
  for (auto [blocks, bytes] : figures) {
    TestMap map(&budget);
    fill(map, 0, blocks);
    EXPECT_EQ(map.memory_bytes(), bytes) << blocks << " blocks";
  }
}

TEST(BlockMapMemory, IsolatedBlocksAtHugeIndicesCostAChainOfOneSlotNodes) {
  MemoryBudget budget(kPlenty);
  {
    TestMap map(&budget);
    set_ok(map, kTop, 1);  // nine levels: eight one-slot interior nodes and a one-slot leaf
    EXPECT_EQ(map.memory_bytes(), 8 * (24 + 8) + (8 + 4));
  }
  {
    TestMap map(&budget);
    set_ok(map, uint64_t{1} << 28, 1);  // 1 TiB into the file: five levels
    EXPECT_EQ(map.memory_bytes(), 4 * (24 + 8) + (8 + 4));
    set_ok(map, 0, 2);  // and the first block: a second chain under a root with two slots
    EXPECT_EQ(map.memory_bytes(), (24 + 2 * 8) + 3 * (24 + 8) + (8 + 4) + 3 * (24 + 8) + (8 + 4));
    map.check_invariants();
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapMemory, DenseMillionBlockFile) {
  constexpr uint64_t kBlocks = uint64_t{1} << 20;  // 4 GiB of data
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  fill(map, 0, kBlocks);
  map.check_invariants();
  EXPECT_EQ(map.count(), kBlocks);
  // 16384 full leaves, 256 + 4 full interior nodes, and a root with 4 slots.
  const uint64_t expected = 16384 * 264 + 260 * (24 + 64 * 8) + (24 + 4 * 8);
  EXPECT_EQ(map.memory_bytes(), expected);
  // 4 for the ref, 8/64 for the leaf's bitmap, 8/64 for the reference to the leaf, and 1/64 of
  // that one level up.
  const double bytes_per_block = static_cast<double>(map.memory_bytes()) / kBlocks;
  RecordProperty("dense_bytes_per_block", std::to_string(bytes_per_block));
  EXPECT_LE(bytes_per_block, 4.26);
  EXPECT_EQ(budget.used_bytes(), map.memory_bytes());

  // SEEK_HOLE and SEEK_DATA from everywhere: each visits a few nodes, skipping full subtrees a
  // word at a time.
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t from = rng() % kBlocks;
    ASSERT_EQ(map.next_hole(from), kBlocks);
    ASSERT_EQ(map.next_data(from), from);
  }
  EXPECT_EQ(map.next_data(kBlocks), std::nullopt);

  // Truncating to one block gives all the memory back.
  uint64_t erased = 0;
  uint64_t expected_index = 1;
  map.erase_range(1, kMaxBlocks, [&](uint64_t index, BlockRef ref) {
    if (index != expected_index || ref != ref_for(index)) ADD_FAILURE() << "at " << index;
    ++expected_index;
    ++erased;
  });
  EXPECT_EQ(erased, kBlocks - 1);
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(map.get(0), ref_for(0));
  map.check_invariants();
}

TEST(BlockMapMemory, TreeShrinksAsBlocksGo) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  fill(map, 0, 5000);
  set_ok(map, kTop, 1);
  map.check_invariants();
  EXPECT_EQ(map.erase(kTop), 1u);  // back to a three-level tree
  map.check_invariants();
  map.erase_range(64, 5000, nullptr);  // to a single leaf
  map.check_invariants();
  EXPECT_EQ(map.memory_bytes(), 264u);
  for (uint64_t i = 63; i >= 1; --i) {
    map.erase(i);
    map.check_invariants();
  }
  EXPECT_EQ(map.memory_bytes(), 0u);  // inline again
  EXPECT_EQ(map.count(), 1u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

// ---- Searching ---------------------------------------------------------------------------------

void check_searches(const Model& model) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  build(map, model);
  map.check_invariants();
  std::vector<uint64_t> probes = boundary_probes();
  for (const auto& [index, ref] : model) {
    if (probes.size() > 20000) break;
    probes.push_back(index);
    probes.push_back(index + 1);
  }
  expect_searches_match(map, model, probes);
}

TEST(BlockMapSearch, EmptyAndInline) {
  check_searches({});
  check_searches({{0, 1}});
}

TEST(BlockMapSearch, DensePrefixes) {
  for (uint64_t n : {2u, 63u, 64u, 65u, 127u, 128u, 4095u, 4096u, 4097u, 262144u}) {
    SCOPED_TRACE(std::to_string(n) + " blocks");
    check_searches(dense(0, n));
  }
}

TEST(BlockMapSearch, HolesInTheMiddle) {
  Model model = dense(0, 10000);
  for (uint64_t hole : {0u, 1u, 63u, 64u, 65u, 127u, 128u, 4095u, 4096u, 9999u}) {
    model.erase(hole);
  }
  for (uint64_t hole = 5000; hole < 5200; ++hole) {
    model.erase(hole);
  }
  check_searches(model);
}

TEST(BlockMapSearch, BlocksAtTheTopOfTheIndexSpace) {
  check_searches({{kTop, 1}});
  check_searches({{0, 1}, {kTop, 2}});
  Model tail = dense(kMaxBlocks - 5000, kMaxBlocks);  // next_hole() from it is kMaxBlocks
  tail.emplace(3, 3);
  check_searches(tail);
}

TEST(BlockMapSearch, FullSubtreesAtSeveralLevels) {
  // Full leaves, a full node of leaves (4096 blocks) and a full node of those (262144 blocks),
  // each bordered by holes and followed by data further on.
  Model model = dense(64, 128);
  model.merge(dense(4096, 8192));
  model.merge(dense(262144, 524288));
  model.emplace(524289, 1);
  model.emplace(uint64_t{1} << 30, 2);
  check_searches(model);
}

TEST(BlockMapSearch, EveryStartingPointOfSmallMapsAgainstBruteForce) {
  // Random maps within a window of 512 indices (at the start of the index space, across the
  // boundary at 2^18 that three levels of nodes share, and at its very end), sparse to full;
  // next_data() and next_hole() from every index of the window, against a scan of a bitmap.
  constexpr uint64_t kWindow = 512;
  std::mt19937_64 rng(11);
  for (uint64_t base : {uint64_t{0}, (uint64_t{1} << 18) - 256, kMaxBlocks - kWindow}) {
    for (int density = 0; density <= 8; ++density) {
      for (int round = 0; round < 4; ++round) {
        SCOPED_TRACE("base " + std::to_string(base) + ", density " + std::to_string(density));
        std::vector<bool> used(kWindow);
        MemoryBudget budget(kPlenty);
        TestMap map(&budget);
        for (uint64_t i = 0; i < kWindow; ++i) {
          used[i] = rng() % 8 < static_cast<uint64_t>(density);
          if (used[i]) set_ok(map, base + i, ref_for(i));
        }
        map.check_invariants();
        for (uint64_t from = 0; from <= kWindow; ++from) {
          uint64_t data = from;
          while (data < kWindow && !used[data]) {
            ++data;
          }
          uint64_t hole = from;
          while (hole < kWindow && used[hole]) {
            ++hole;
          }
          const std::optional<uint64_t> expected_data =
              data < kWindow ? std::optional<uint64_t>(base + data) : std::nullopt;
          ASSERT_EQ(map.next_data(base + from), expected_data) << "from " << base + from;
          ASSERT_EQ(map.next_hole(base + from), base + hole) << "from " << base + from;
        }
      }
    }
  }
}

TEST(BlockMapSearch, SparseRandomAgainstBruteForce) {
  std::mt19937_64 rng(7);
  Model model;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t index = rng() % 3 == 0 ? rng() % 4096 : rng() % kMaxBlocks;
    model[index] = static_cast<BlockRef>(rng() | 1);
  }
  check_searches(model);
}

// ---- erase_range -------------------------------------------------------------------------------

// Erases [first, last) from a map holding model and checks what is reported and what remains.
void check_erase_range(const Model& model, uint64_t first, uint64_t last) {
  SCOPED_TRACE("erase_range(" + std::to_string(first) + ", " + std::to_string(last) + ")");
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  build(map, model);
  std::vector<std::pair<uint64_t, BlockRef>> reported;
  map.erase_range(first, last,
                  [&](uint64_t index, BlockRef ref) { reported.emplace_back(index, ref); });
  map.check_invariants();
  std::vector<std::pair<uint64_t, BlockRef>> expected;
  Model remaining;
  for (const auto& entry : model) {
    if (entry.first >= first && entry.first < last) {
      expected.push_back(entry);
    } else {
      remaining.insert(entry);
    }
  }
  EXPECT_EQ(reported, expected);
  EXPECT_EQ(contents(map), remaining);
  EXPECT_EQ(map.count(), remaining.size());
  map.erase_range(0, kMaxBlocks, nullptr);
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapEraseRange, PartialRangesCuttingNodes) {
  Model model = dense(0, 10000);
  model.merge(dense(262100, 262200));
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 1},    {1, 2},     {63, 65},       {64, 128},        {100, 5000}, {4095, 4097},
      {0, 9999}, {1, 10000}, {9999, 262150}, {262143, 262145}, {5, 5},      {7, 3}};
  for (auto [first, last] : ranges) {
    check_erase_range(model, first, last);
  }
}

TEST(BlockMapEraseRange, WholeSpaceOfASparseMap) {
  Model model{{0, 1},         {1, 2},   {4096, 3}, {uint64_t{1} << 28, 4}, {uint64_t{1} << 45, 5},
              {kTop - 64, 6}, {kTop, 7}};
  check_erase_range(model, 0, kMaxBlocks);
  check_erase_range(model, 0, UINT64_MAX);  // clamped
  check_erase_range(model, 1, kMaxBlocks);  // leaves the inline block
  check_erase_range(model, 2, kTop);
  check_erase_range(model, kTop, UINT64_MAX);
  check_erase_range(model, kMaxBlocks, UINT64_MAX);
}

TEST(BlockMapEraseRange, HugeRangeOnAHugeSparseMapIsFast) {
  // Ten thousand blocks scattered over the whole index space: erasing everything visits only
  // the nodes that exist.
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  std::mt19937_64 rng(3);
  Model model;
  for (int i = 0; i < 10000; ++i) {
    model[rng() % kMaxBlocks] = static_cast<BlockRef>(rng() | 1);
  }
  build(map, model);
  auto expected = model.begin();
  map.erase_range(0, kMaxBlocks, [&](uint64_t index, BlockRef ref) {
    ASSERT_NE(expected, model.end());
    EXPECT_EQ(index, expected->first);
    EXPECT_EQ(ref, expected->second);
    ++expected;
  });
  EXPECT_EQ(expected, model.end());
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(budget.used_bytes(), 0u);
}

// ---- Budget and allocation failure -------------------------------------------------------------

TEST(BlockMapBudget, TinyLimitRefusesAndChangesNothing) {
  MemoryBudget budget(20);
  TestMap map(&budget);
  set_ok(map, 0, 1);  // inline: free
  set_ok(map, 1, 2);  // a two-slot leaf: 16 bytes
  EXPECT_EQ(budget.used_bytes(), 16u);
  const Snapshot before = snapshot(map, budget);
  Result<BlockRef> refused = map.set(2, 3);  // the leaf would double to 24 bytes: 40 in all
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), ENOSPC);
  EXPECT_EQ(snapshot(map, budget), before);
  map.check_invariants();
  refused = map.set(kTop, 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), ENOSPC);
  EXPECT_EQ(snapshot(map, budget), before);
  map.check_invariants();
  Result<BlockRef> overwrite = map.set(1, 9);  // overwriting needs no memory
  ASSERT_TRUE(overwrite.ok());

  EXPECT_EQ(map.erase(1), 9u);  // back to inline: 0 bytes
  EXPECT_EQ(budget.used_bytes(), 0u);
  set_ok(map, 2, 3);  // fits again
  EXPECT_EQ(budget.used_bytes(), 16u);
  map.erase_range(0, kMaxBlocks, nullptr);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

// One set() that needs several allocations, from a given starting map.
struct Scenario {
  const char* name;
  Model before;
  uint64_t index;
};

std::vector<Scenario> scenarios() {
  return {
      {"empty map, block at the top", {}, kTop},
      {"inline block, second block", {{0, 1}}, 5},
      {"inline block, block at the top", {{0, 1}}, kTop},
      {"full leaf root, next block", dense(0, 64), 64},
      {"full two-level tree, next block", dense(0, 4096), 4096},
      {"two-slot leaf, third block", dense(0, 2), 2},
      {"tree, new chain into a full node array", dense(0, 128), 100000},
      {"tree, two new levels", dense(0, 100), uint64_t{1} << 20},
  };
}

// Runs a scenario's set() with `headroom` bytes of budget to spare; returns its result.
Result<BlockRef> run_with_headroom(const Scenario& scenario, uint64_t headroom, Snapshot* before,
                                   Snapshot* after) {
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  build(map, scenario.before);
  // Ballast: charge all but `headroom` of what is left.
  const uint64_t ballast = budget.available_bytes() - headroom;
  EXPECT_TRUE(budget.try_charge(ballast));
  *before = snapshot(map, budget);
  Result<BlockRef> result = map.set(scenario.index, 99);
  map.check_invariants();
  *after = snapshot(map, budget);
  budget.uncharge(ballast);
  return result;
}

TEST(BlockMapBudget, RefusalAtEveryByteLeavesTheMapUnchanged) {
  for (const Scenario& scenario : scenarios()) {
    SCOPED_TRACE(scenario.name);
    // What the set() needs at its peak: then every smaller headroom must be refused cleanly.
    uint64_t needed = 0;
    {
      MemoryBudget budget(kPlenty);
      TestMap map(&budget);
      build(map, scenario.before);
      const uint64_t used_before = budget.used_bytes();
      budget.reset_peak();
      ASSERT_TRUE(map.set(scenario.index, 99).ok());
      needed = budget.peak_bytes() - used_before;
    }
    ASSERT_GT(needed, 0u);
    for (uint64_t headroom = 0; headroom < needed; ++headroom) {
      Snapshot before, after;
      Result<BlockRef> result = run_with_headroom(scenario, headroom, &before, &after);
      ASSERT_FALSE(result.ok()) << "headroom " << headroom << " of " << needed;
      EXPECT_EQ(result.error(), ENOSPC);
      ASSERT_EQ(after, before) << "headroom " << headroom;
    }
    Snapshot before, after;
    Result<BlockRef> result = run_with_headroom(scenario, needed, &before, &after);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(after.contents.at(scenario.index), 99u);
    EXPECT_EQ(after.count, before.count + 1);
  }
}

TEST(BlockMapBudget, HostAllocationFailureAtEveryStepLeavesTheMapUnchanged) {
  for (const Scenario& scenario : scenarios()) {
    SCOPED_TRACE(scenario.name);
    long allocations = 0;  // how many node allocations the set() makes
    {
      MemoryBudget budget(kPlenty);
      TestMap map(&budget);
      build(map, scenario.before);
      const long start = g_aligned_news;
      ASSERT_TRUE(map.set(scenario.index, 99).ok());
      allocations = g_aligned_news - start;
    }
    ASSERT_GT(allocations, 0);
    for (long failing = 0; failing < allocations; ++failing) {
      SCOPED_TRACE("allocation " + std::to_string(failing) + " of " + std::to_string(allocations));
      MemoryBudget budget(kPlenty);
      TestMap map(&budget);
      build(map, scenario.before);
      const Snapshot before = snapshot(map, budget);
      g_aligned_news_until_failure = failing;
      Result<BlockRef> result = map.set(scenario.index, 99);
      g_aligned_news_until_failure = -1;
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.error(), ENOMEM);
      map.check_invariants();
      EXPECT_EQ(snapshot(map, budget), before);
    }
  }
}

TEST(BlockMapBudget, EveryByteIsGivenBack) {
  MemoryBudget budget(kPlenty);
  {
    TestMap map(&budget);
    fill(map, 0, 3000);
    fill(map, kTop - 3000, kMaxBlocks);
    EXPECT_EQ(budget.used_bytes(), map.memory_bytes());
    map.erase_range(0, kMaxBlocks, nullptr);
    EXPECT_EQ(map.memory_bytes(), 0u);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

// ---- Bugs abort --------------------------------------------------------------------------------

TEST(BlockMapDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MemoryBudget budget(kPlenty);
  EXPECT_DEATH(
      {
        BlockMap map;
        (void)map.set(kMaxBlocks, 1, budget);
      },
      "out of range");
  EXPECT_DEATH(
      {
        BlockMap map;
        (void)map.set(5, kHole, budget);
      },
      "erase");
  EXPECT_DEATH(
      {
        BlockMap map;
        (void)map.set(5, 1, budget);
      },
      "destroyed while it holds blocks");
}

// ---- Model-based randomized test ---------------------------------------------------------------

std::vector<uint64_t> seeds() {
  if (const char* seed = std::getenv("ZSFS_TEST_SEED")) return {std::stoull(seed)};
  return {1, 2, 3, 4, 5, 6};
}

// Indices that exercise every part of the tree: small files, dense clusters (full leaves and
// nodes), node boundaries at every level, the top of the index space, and anywhere at all.
class IndexSource {
 public:
  explicit IndexSource(std::mt19937_64& rng) : rng_(rng) {
    for (int i = 0; i < 4; ++i) {
      centres_.push_back(rng_() % kMaxBlocks);
    }
    centres_.push_back(4096);
    centres_.push_back(kTop - 200);
  }

  uint64_t valid() {
    switch (rng_() % 8) {
      case 0:
      case 1:
        return rng_() % 150;
      case 2:
      case 3:
      case 4: {
        const uint64_t centre = centres_[rng_() % centres_.size()];
        const uint64_t index = centre + rng_() % 400;
        return index < kMaxBlocks ? index : kTop - rng_() % 400;
      }
      case 5: {
        const unsigned shift = 6 * static_cast<unsigned>(1 + rng_() % 8);
        const uint64_t boundary = (1 + rng_() % 7) << shift;
        const uint64_t index = boundary + rng_() % 3 - 1;
        return index < kMaxBlocks ? index : kTop;
      }
      case 6:
        return kTop - rng_() % 70;
      default:
        return rng_() % kMaxBlocks;
    }
  }

  // Any value, sometimes out of range: what get() and the searches must accept.
  uint64_t any() {
    switch (rng_() % 16) {
      case 0:
        return kMaxBlocks + rng_() % 3;
      case 1:
        return UINT64_MAX - rng_() % 3;
      default:
        return valid();
    }
  }

 private:
  std::mt19937_64& rng_;
  std::vector<uint64_t> centres_;
};

void run_model(uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  IndexSource indices(rng);
  MemoryBudget budget(kPlenty);
  TestMap map(&budget);
  Model model;
  uint64_t ballast = 0;  // budget pressure, so that some set()s are refused

  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 40) {  // set; a run of them sometimes, to fill leaves and nodes
      const int run = rng() % 8 == 0 ? static_cast<int>(rng() % 200) : 1;
      uint64_t index = indices.valid();
      for (int i = 0; i < run && index < kMaxBlocks; ++i, ++index) {
        const auto ref = static_cast<BlockRef>(rng() % 0xffffffffu + 1);
        const uint64_t used_before = budget.used_bytes();
        const uint64_t count_before = map.count();
        Result<BlockRef> result = map.set(index, ref);
        auto it = model.find(index);
        if (result.ok()) {
          ASSERT_EQ(*result, it == model.end() ? kHole : it->second) << "set(" << index << ")";
          model[index] = ref;
        } else {
          ASSERT_EQ(result.error(), ENOSPC);
          ASSERT_NE(ballast, 0u) << "refused without budget pressure";
          ASSERT_EQ(map.get(index), it == model.end() ? kHole : it->second);
          ASSERT_EQ(budget.used_bytes(), used_before);
          ASSERT_EQ(map.count(), count_before);
        }
      }
    } else if (op < 55) {  // erase
      const uint64_t index =
          rng() % 2 == 0 && !model.empty()
              ? std::next(model.begin(), static_cast<long>(rng() % model.size()))->first
              : indices.any();
      auto it = index < kMaxBlocks ? model.find(index) : model.end();
      ASSERT_EQ(map.erase(index), it == model.end() ? kHole : it->second)
          << "erase(" << index << ")";
      if (it != model.end()) model.erase(it);
    } else if (op < 60) {  // erase_range
      uint64_t first = indices.any();
      uint64_t last = rng() % 4 == 0 ? indices.any() : first + rng() % 5000;
      if (rng() % 20 == 0) {
        first = 0;
        last = kMaxBlocks;
      }
      std::vector<std::pair<uint64_t, BlockRef>> reported, expected;
      map.erase_range(first, last,
                      [&](uint64_t index, BlockRef ref) { reported.emplace_back(index, ref); });
      for (auto it = model.lower_bound(first); it != model.end() && it->first < last;) {
        expected.emplace_back(*it);
        it = model.erase(it);
      }
      ASSERT_EQ(reported, expected) << "erase_range(" << first << ", " << last << ")";
    } else if (op < 70) {  // get
      const uint64_t index = indices.any();
      auto it = index < kMaxBlocks ? model.find(index) : model.end();
      ASSERT_EQ(map.get(index), it == model.end() ? kHole : it->second) << "get(" << index << ")";
    } else if (op < 80) {  // next_data
      const uint64_t from = indices.any();
      ASSERT_EQ(map.next_data(from), model_next_data(model, from)) << "next_data(" << from << ")";
    } else if (op < 90) {  // next_hole
      const uint64_t from = indices.any();
      ASSERT_EQ(map.next_hole(from), model_next_hole(model, from)) << "next_hole(" << from << ")";
    } else if (op < 96) {  // for_each over a range, stopping after a while
      const uint64_t first = indices.any();
      const uint64_t last = rng() % 2 == 0 ? kMaxBlocks : first + rng() % 10000;
      const size_t limit = rng() % 2 == 0 ? SIZE_MAX : rng() % 50;
      std::vector<std::pair<uint64_t, BlockRef>> seen, expected;
      map.for_each(first, last, [&](uint64_t index, BlockRef ref) {
        seen.emplace_back(index, ref);
        return seen.size() < limit;
      });
      for (auto it = model.lower_bound(first);
           it != model.end() && it->first < last && expected.size() < std::max<size_t>(limit, 1);
           ++it) {
        expected.emplace_back(*it);
      }
      ASSERT_EQ(seen, expected) << "for_each(" << first << ", " << last << ")";
    } else {  // budget pressure on or off
      budget.uncharge(ballast);
      ballast = 0;
      if (rng() % 2 == 0) {
        ballast = budget.available_bytes() - rng() % 700;
        ASSERT_TRUE(budget.try_charge(ballast));
      }
    }
    map.check_invariants();
    ASSERT_EQ(map.count(), model.size());
    ASSERT_EQ(budget.used_bytes(), map.memory_bytes() + ballast);
    if (step % 256 == 0) {
      ASSERT_EQ(contents(map), model);
    }
  }
  ASSERT_EQ(contents(map), model);
  map.erase_range(0, kMaxBlocks, nullptr);
  budget.uncharge(ballast);
  EXPECT_EQ(map.memory_bytes(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(BlockMapModel, RandomOperationsMatchStdMap) {
  for (uint64_t seed : seeds()) {
    SCOPED_TRACE("seed " + std::to_string(seed) +
                 " (replay with ZSFS_TEST_SEED=" + std::to_string(seed) + ")");
    run_model(seed, 4000);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace zsfs::fs
