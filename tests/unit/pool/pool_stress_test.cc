// Concurrency stress: worker threads allocate, write a pattern, read it back, rewrite and free,
// and all read a set of shared objects, while one thread compacts continuously (and checks the
// invariants and takes statistics now and then). Run under the thread sanitizer and ASan+UBSan.
//
// Each worker owns its objects (the pool's callers never free an object another thread uses);
// the shared objects are only read, so every byte has one known value at any time, and any
// object moved under a guard or torn by a move shows up as a pattern mismatch.
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"
#include "pool_test_util.h"

namespace zsfs::pool {
namespace {

using testing::fill_pattern;
using testing::pattern_mismatch;

struct Object {
  Handle handle;
  uint64_t seed;
};

// A size from a few busy classes (so that threads meet on the same class lock) or any size.
size_t pick_size(std::mt19937_64& rng) {
  static constexpr size_t kBusy[] = {100, 1000, 2000, 3000, 4096};
  if (rng() % 2 == 0) return kBusy[rng() % std::size(kBusy)];
  return 1 + rng() % kMaxObjectSize;
}

bool intact(const Pool& pool, const Object& o, bool use_guard) {
  if (use_guard) {
    const ReadGuard guard = pool.read(o.handle);
    return pattern_mismatch(guard.bytes(), o.seed) == guard.bytes().size();
  }
  std::vector<std::byte> bytes(pool.object_size(o.handle));
  pool.read_bytes(o.handle, bytes);
  return pattern_mismatch(bytes, o.seed) == bytes.size();
}

Object store(Pool& pool, size_t size, uint64_t seed) {
  const Handle h = *pool.allocate(size);
  WriteGuard guard = pool.write(h);
  fill_pattern(guard.bytes(), seed);
  return Object{h, seed};
}

void worker(Pool& pool, const std::vector<Object>& shared, uint64_t seed, int ops,
            std::atomic<uint64_t>& failures) {
  std::mt19937_64 rng(seed);
  std::vector<Object> mine;
  // A bound on each worker's objects, so that frees keep pace with allocations and zspages keep
  // emptying and refilling (and compaction keeps finding work).
  constexpr size_t kMaxOwned = 1500;
  for (int op = 0; op < ops; ++op) {
    const int roll = static_cast<int>(rng() % 100);
    if (mine.empty() || (roll < 40 && mine.size() < kMaxOwned)) {
      mine.push_back(store(pool, pick_size(rng), rng()));
    } else if (roll < 65 || mine.size() >= kMaxOwned) {
      const size_t i = rng() % mine.size();
      if (!intact(pool, mine[i], rng() % 2 == 0)) failures.fetch_add(1);
      pool.free(mine[i].handle);
      mine[i] = mine.back();
      mine.pop_back();
    } else if (roll < 80) {
      if (!intact(pool, mine[rng() % mine.size()], rng() % 2 == 0)) failures.fetch_add(1);
    } else if (roll < 92) {
      if (!intact(pool, shared[rng() % shared.size()], rng() % 2 == 0)) failures.fetch_add(1);
    } else {
      Object& o = mine[rng() % mine.size()];
      o.seed = rng();
      std::vector<std::byte> bytes(pool.object_size(o.handle));
      fill_pattern(bytes, o.seed);
      pool.write_bytes(o.handle, bytes);
    }
  }
  for (const Object& o : mine) {
    if (!intact(pool, o, true)) failures.fetch_add(1);
    pool.free(o.handle);
  }
}

TEST(PoolStress, WorkersWhileOneThreadCompacts) {
  MemoryBudget budget(uint64_t{1} << 30);
  auto pool = std::move(Pool::create(PoolConfig{}, &budget)).value();
  const uint64_t seed = testing::test_seed(99);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (ZSFS_TEST_SEED)");
  std::mt19937_64 rng(seed);

  std::vector<Object> shared;
  for (int i = 0; i < 300; ++i)
    shared.push_back(store(*pool, pick_size(rng), rng()));

  // Three workers and the compactor: twice the machine's two cores, so that threads are
  // preempted in the middle of everything.
  constexpr uint64_t kWorkers = 3;
  const int ops = testing::kThreadSanitized ? 8000 : 40000;
  std::atomic<uint64_t> failures{0};
  std::atomic<bool> done{false};
  uint64_t pages_compacted = 0;
  uint64_t rounds = 0;
  std::thread compactor([&] {
    while (!done.load()) {
      pages_compacted += pool->compact();
      if (++rounds % 64 == 0) pool->check_invariants();
      if (rounds % 16 == 0) (void)pool->stats();
    }
  });
  std::vector<std::thread> workers;
  for (uint64_t t = 0; t < kWorkers; ++t) {
    workers.emplace_back(worker, std::ref(*pool), std::cref(shared), seed + 1 + t, ops,
                         std::ref(failures));
  }
  for (std::thread& w : workers)
    w.join();
  done.store(true);
  compactor.join();

  EXPECT_EQ(failures.load(), 0u) << "objects damaged";
  std::printf("%llu compaction rounds freed %llu pages\n", static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(pages_compacted));
  pool->check_invariants();
  for (const Object& o : shared) {
    EXPECT_TRUE(intact(*pool, o, true));
    pool->free(o.handle);
  }
  pool->check_invariants();
  EXPECT_EQ(pool->stats().pages_held, 0u);
  EXPECT_EQ(budget.used_bytes(), pool->metadata_bytes());
}

TEST(PoolStress, AllThreadsInOneClass) {
  // Every thread allocates and frees in the same class: the class lock is contended, and zspages
  // fill and empty under several threads at once.
  MemoryBudget budget(uint64_t{1} << 30);
  auto pool = std::move(Pool::create(PoolConfig{}, &budget)).value();
  const int ops = testing::kThreadSanitized ? 5000 : 30000;
  std::atomic<uint64_t> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      std::vector<Object> mine;
      for (int op = 0; op < ops; ++op) {
        if (mine.size() < 200 && (mine.empty() || rng() % 2 == 0)) {
          mine.push_back(store(*pool, 1000, rng()));
        } else {
          const size_t i = rng() % mine.size();
          if (!intact(*pool, mine[i], true)) failures.fetch_add(1);
          pool->free(mine[i].handle);
          mine[i] = mine.back();
          mine.pop_back();
        }
        if (op % 1000 == 0) (void)pool->compact();
      }
      for (const Object& o : mine)
        pool->free(o.handle);
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0u);
  pool->check_invariants();
  EXPECT_EQ(pool->stats().pages_held, 0u);
}

}  // namespace
}  // namespace zsfs::pool
