// pool_bench: throughput and memory efficiency of zsfs::pool (Google Benchmark).
//
// README
// ------
// Build a release tree and run everything (about a minute; the efficiency study reads ~400 MiB
// of /usr/share and /usr/lib once):
//
//   cmake -S . -B build/pool-release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZSFS_WERROR=ON
//   cmake --build build/pool-release --target pool_bench
//   build/pool-release/tests/bench/pool/pool_bench
//
// Only the efficiency table:   pool_bench --benchmark_filter=Efficiency
// Only throughput:             pool_bench --benchmark_filter=-Efficiency
//
// What is measured:
// - BM_Allocate / BM_Free: one allocate() or free() of the given size (0 = a mix of 64..3600
//   bytes, shaped like compressed blocks), in batches of 4096 whose other half is untimed.
// - BM_AllocFreeSteady: free a random object and allocate a new one in a pool holding 64k mixed
//   objects: the steady state of a filesystem that overwrites files. Threads share one pool.
// - BM_Read* / BM_Write*: access to an object that lies within a page (served in place) or that
//   straddles two pages (copied through the per-thread buffer), by guard or by copy.
// - BM_Compact: compaction of a pool from which a random half of 64k mixed objects was freed.
// - BM_PageSourceRelease: giving back a zspage's 8 pages one madvise() each, or in one batch.
// - BM_PoolEfficiency / BM_MallocEfficiency (efficiency_bench.cc): bytes stored / bytes held for
//   the compressed sizes of real file blocks, after a fill and after freeing a random half plus
//   compaction, for chain limits 1, 4, 8, 16 and for malloc.
//
// Benchmarks are not tests: nothing here fails because the machine is slow.
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "pool/page_source.h"
#include "pool/pool.h"

namespace zsfs::pool::bench {
namespace {

// Timed operations per untimed clean-up: enough to amortise PauseTiming() (about a microsecond)
// and to fill and empty many zspages of each class.
constexpr size_t kBatch = 4096;
// Objects kept by the steady-state and compaction benchmarks: about 110 MiB of mixed sizes, far
// beyond the caches, as in a real pool.
constexpr size_t kWorkingSet = 64 * 1024;

// Size 0 means "mixed": a deterministic spread shaped like compressed 4 KiB blocks.
size_t size_for(int64_t size_arg, uint64_t i) {
  if (size_arg != 0) return static_cast<size_t>(size_arg);
  uint64_t x = i * 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  return 64 + static_cast<size_t>(x % (3600 - 64));
}

std::unique_ptr<Pool> make_pool(MemoryBudget* budget) {
  return std::move(Pool::create(PoolConfig{}, budget)).value();
}

void BM_Allocate(benchmark::State& state) {
  MemoryBudget budget(uint64_t{64} << 30);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  handles.reserve(kBatch);
  uint64_t i = 0;
  for (auto _ : state) {
    handles.push_back(*pool->allocate(size_for(state.range(0), i++)));
    if (handles.size() == kBatch) {
      state.PauseTiming();
      for (Handle h : handles)
        pool->free(h);
      handles.clear();
      state.ResumeTiming();
    }
  }
  for (Handle h : handles)
    pool->free(h);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Allocate)->Arg(0)->Arg(64)->Arg(1000)->Arg(3000)->Arg(4096);

void BM_Free(benchmark::State& state) {
  MemoryBudget budget(uint64_t{64} << 30);
  auto pool = make_pool(&budget);
  std::vector<Handle> handles;
  uint64_t i = 0;
  for (auto _ : state) {
    if (handles.empty()) {
      state.PauseTiming();
      for (size_t k = 0; k < kBatch; ++k)
        handles.push_back(*pool->allocate(size_for(state.range(0), i++)));
      state.ResumeTiming();
    }
    pool->free(handles.back());
    handles.pop_back();
  }
  for (Handle h : handles)
    pool->free(h);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Free)->Arg(0)->Arg(64)->Arg(1000)->Arg(3000)->Arg(4096);

// One pool shared by the threads of a run.
MemoryBudget* g_budget = nullptr;
Pool* g_pool = nullptr;

void setup_shared_pool(const benchmark::State&) {
  g_budget = new MemoryBudget(uint64_t{64} << 30);
  g_pool = make_pool(g_budget).release();
}
void teardown_shared_pool(const benchmark::State&) {
  delete g_pool;
  delete g_budget;
}

void BM_AllocFreeSteady(benchmark::State& state) {
  Pool& pool = *g_pool;
  const auto thread = static_cast<uint64_t>(state.thread_index());
  std::mt19937_64 rng(thread);
  std::vector<Handle> handles;
  const size_t per_thread = kWorkingSet / static_cast<size_t>(state.threads());
  uint64_t i = thread << 40;
  for (size_t k = 0; k < per_thread; ++k)
    handles.push_back(*pool.allocate(size_for(0, i++)));
  for (auto _ : state) {
    Handle& victim = handles[rng() % handles.size()];
    pool.free(victim);
    victim = *pool.allocate(size_for(0, i++));
  }
  for (Handle h : handles)
    pool.free(h);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocFreeSteady)
    ->Setup(setup_shared_pool)
    ->Teardown(teardown_shared_pool)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// Objects of one class size, split into those within a page and those straddling two.
struct AccessFixture {
  explicit AccessFixture(size_t size) : pool(make_pool(&budget)) {
    const SizeClass& c = pool->class_table().class_for_size(size);
    for (size_t i = 0; i < 8 * c.objects_per_zspage; ++i) {
      const Handle h = *pool->allocate(size);
      pool->write_bytes(h, std::vector<std::byte>(size, std::byte{1}));
      // A fresh class fills its zspages slot by slot, in order.
      const size_t offset = i % c.objects_per_zspage * c.size_bytes % kPageSize;
      (offset + size > kPageSize ? straddling : in_page).push_back(h);
    }
  }
  ~AccessFixture() {
    for (Handle h : in_page)
      pool->free(h);
    for (Handle h : straddling)
      pool->free(h);
  }
  MemoryBudget budget{uint64_t{1} << 30};
  std::unique_ptr<Pool> pool;
  std::vector<Handle> in_page;
  std::vector<Handle> straddling;
};

// Arguments: object size, then 0 for objects within a page or 1 for straddling ones.
void BM_ReadGuard(benchmark::State& state) {
  AccessFixture f(static_cast<size_t>(state.range(0)));
  const std::vector<Handle>& handles = state.range(1) != 0 ? f.straddling : f.in_page;
  if (handles.empty()) return state.SkipWithError("no object of this kind in this class");
  size_t i = 0;
  for (auto _ : state) {
    const ReadGuard guard = f.pool->read(handles[i++ % handles.size()]);
    benchmark::DoNotOptimize(guard.bytes()[guard.bytes().size() - 1]);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ReadGuard)->Args({1500, 0})->Args({1500, 1})->Args({3000, 0})->Args({3000, 1});

void BM_ReadBytes(benchmark::State& state) {
  AccessFixture f(static_cast<size_t>(state.range(0)));
  const std::vector<Handle>& handles = state.range(1) != 0 ? f.straddling : f.in_page;
  if (handles.empty()) return state.SkipWithError("no object of this kind in this class");
  std::vector<std::byte> buffer(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    f.pool->read_bytes(handles[i++ % handles.size()], buffer);
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ReadBytes)->Args({1500, 0})->Args({1500, 1})->Args({3000, 0})->Args({3000, 1});

void BM_WriteGuard(benchmark::State& state) {
  AccessFixture f(static_cast<size_t>(state.range(0)));
  const std::vector<Handle>& handles = state.range(1) != 0 ? f.straddling : f.in_page;
  if (handles.empty()) return state.SkipWithError("no object of this kind in this class");
  size_t i = 0;
  for (auto _ : state) {
    const WriteGuard guard = f.pool->write(handles[i++ % handles.size()]);
    std::memset(guard.bytes().data(), static_cast<int>(i), guard.bytes().size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WriteGuard)->Args({1500, 0})->Args({1500, 1})->Args({3000, 0})->Args({3000, 1});

void BM_WriteBytes(benchmark::State& state) {
  AccessFixture f(static_cast<size_t>(state.range(0)));
  const std::vector<Handle>& handles = state.range(1) != 0 ? f.straddling : f.in_page;
  if (handles.empty()) return state.SkipWithError("no object of this kind in this class");
  const std::vector<std::byte> buffer(static_cast<size_t>(state.range(0)), std::byte{7});
  size_t i = 0;
  for (auto _ : state)
    f.pool->write_bytes(handles[i++ % handles.size()], buffer);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WriteBytes)->Args({1500, 0})->Args({1500, 1})->Args({3000, 0})->Args({3000, 1});

void BM_Compact(benchmark::State& state) {
  uint64_t pages = 0;
  for (auto _ : state) {
    state.PauseTiming();
    MemoryBudget budget(uint64_t{8} << 30);
    auto pool = make_pool(&budget);
    std::vector<Handle> handles;
    for (size_t i = 0; i < kWorkingSet; ++i) {
      handles.push_back(*pool->allocate(size_for(0, i)));
      WriteGuard guard = pool->write(handles.back());
      std::memset(guard.bytes().data(), 1, guard.bytes().size());
    }
    std::shuffle(handles.begin(), handles.end(), std::mt19937_64(3));
    for (size_t i = 0; i < handles.size() / 2; ++i)
      pool->free(handles[i]);
    state.ResumeTiming();
    pages += pool->compact();
    state.PauseTiming();
    for (size_t i = handles.size() / 2; i < handles.size(); ++i)
      pool->free(handles[i]);
    pool.reset();
    state.ResumeTiming();
  }
  state.counters["pages_freed/s"] =
      benchmark::Counter(static_cast<double>(pages), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Compact)->Unit(benchmark::kMillisecond)->Iterations(5);

// Argument: 1 to release a zspage's 8 pages in one batch, 0 for one release() (madvise) each.
void BM_PageSourceRelease(benchmark::State& state) {
  MemoryBudget budget(uint64_t{1} << 30);
  PageSource source(&budget);
  std::byte* pages[8];
  for (auto _ : state) {
    for (std::byte*& page : pages) {
      page = *source.allocate();
      page[0] = std::byte{1};  // resident, so that the release has something to drop
    }
    if (state.range(0) != 0) {
      source.release(pages);
    } else {
      for (std::byte* page : pages)
        source.release(page);
    }
  }
  state.SetItemsProcessed(state.iterations() * 8);
}
BENCHMARK(BM_PageSourceRelease)->Arg(0)->Arg(1);

}  // namespace
}  // namespace zsfs::pool::bench

BENCHMARK_MAIN();
