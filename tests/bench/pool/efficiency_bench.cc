// Memory efficiency on realistic object sizes: the compressed sizes of real 4 KiB file blocks
// (block_sizes.h), stored in the pool for several chain limits and, for comparison, with malloc.
//
// For each allocator: fill with every sampled object (each written, so its memory is resident),
// then free a random half (the same half for all) and, for the pool, compact. Printed as a table;
// the figures are also the benchmarks' counters. Columns: "held" is the pool's pages (for malloc,
// the heap's bytes in use, headers included); "eff" = stored / held; "eff+md" counts the pool's
// heap metadata as held too; "rss eff" = stored / growth of the resident set (/proc/self/statm),
// which is what the machine pays.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "block_sizes.h"
#include "pool/pool.h"

namespace zsfs::pool::bench {
namespace {

// 100k blocks (400 MiB read): about 150 MiB of objects, large enough that the per-class tail (a
// partly filled zspage per class, up to ~4 MiB in all) is a small part of it.
constexpr size_t kSampleBlocks = 100'000;
constexpr double kMiB = 1024.0 * 1024.0;

const BlockSample& sample() {
  static const BlockSample s = [] {
    BlockSample b = sample_block_sizes(kSampleBlocks);
    const size_t huge = SizeClassTable(kDefaultChainPages).huge_class_size();
    uint64_t raw = 0;
    uint64_t bytes = 0;
    for (uint32_t c : b.compressed_sizes) {
      raw += c >= huge ? 1 : 0;
      bytes += stored_size(c, huge);
    }
    std::printf(
        "\nreal blocks: %llu read from %llu files under /usr/share and /usr/lib; %llu same-filled "
        "(kept out of the pool); %zu objects, %.1f MiB, mean %.0f bytes; %llu (%.1f%%) stored raw "
        "(compressed size >= huge class size %zu)\n",
        static_cast<unsigned long long>(b.blocks_read), static_cast<unsigned long long>(b.files),
        static_cast<unsigned long long>(b.same_filled), b.compressed_sizes.size(),
        static_cast<double>(bytes) / kMiB,
        static_cast<double>(bytes) / static_cast<double>(b.compressed_sizes.size()),
        static_cast<unsigned long long>(raw),
        100.0 * static_cast<double>(raw) / static_cast<double>(b.compressed_sizes.size()), huge);
    std::printf("%-14s | %-43s | %-43s\n", "", "after the fill",
                "after freeing a random half (pool: + compact)");
    std::printf("%-14s | %9s %9s %7s %7s %7s | %9s %9s %7s %7s %7s\n", "allocator", "stored",
                "held", "eff", "eff+md", "rss eff", "stored", "held", "eff", "eff+md", "rss eff");
    std::fflush(stdout);
    return b;
  }();
  return s;
}

uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0;
  unsigned long long resident = 0;
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The order in which the objects are freed: the first half of it is the random half.
std::vector<size_t> free_order(size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  return order;
}

struct Phase {
  uint64_t stored;
  uint64_t held;      // pages (pool) or resident growth (malloc)
  uint64_t metadata;  // pool heap metadata (0 for malloc: its headers are inside "held")
  uint64_t rss;       // resident growth
};

double ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

void report(benchmark::State& state, const char* name, const Phase& fill, const Phase& half) {
  std::printf(
      "%-14s | %9.1f %9.1f %6.1f%% %6.1f%% %6.1f%% | %9.1f %9.1f %6.1f%% %6.1f%% %6.1f%%\n", name,
      static_cast<double>(fill.stored) / kMiB, static_cast<double>(fill.held) / kMiB,
      100 * ratio(fill.stored, fill.held), 100 * ratio(fill.stored, fill.held + fill.metadata),
      100 * ratio(fill.stored, fill.rss), static_cast<double>(half.stored) / kMiB,
      static_cast<double>(half.held) / kMiB, 100 * ratio(half.stored, half.held),
      100 * ratio(half.stored, half.held + half.metadata), 100 * ratio(half.stored, half.rss));
  std::fflush(stdout);
  state.counters["fill_eff"] = ratio(fill.stored, fill.held);
  state.counters["fill_rss_eff"] = ratio(fill.stored, fill.rss);
  state.counters["half_eff"] = ratio(half.stored, half.held);
  state.counters["half_rss_eff"] = ratio(half.stored, half.rss);
}

void BM_PoolEfficiency(benchmark::State& state) {
  const auto chain = static_cast<unsigned>(state.range(0));
  const std::vector<uint32_t>& compressed = sample().compressed_sizes;
  const std::vector<size_t> order = free_order(compressed.size());
  for (auto _ : state) {
    MemoryBudget budget(uint64_t{64} << 30);
    auto pool = std::move(Pool::create(PoolConfig{chain}, &budget)).value();
    std::vector<Handle> handles(compressed.size());  // touched before the baseline
    const uint64_t rss_before = resident_bytes();
    for (size_t i = 0; i < compressed.size(); ++i) {
      const uint32_t size = stored_size(compressed[i], pool->huge_class_size());
      handles[i] = *pool->allocate(size);
      WriteGuard guard = pool->write(handles[i]);
      std::memset(guard.bytes().data(), 0x5a, size);
    }
    const PoolStats full = pool->stats();
    const Phase fill{full.bytes_stored, full.pages_held * kPageSize, full.metadata_bytes,
                     resident_bytes() - rss_before};
    for (size_t k = 0; k < order.size() / 2; ++k)
      pool->free(handles[order[k]]);
    pool->compact();
    const PoolStats after = pool->stats();
    const Phase half{after.bytes_stored, after.pages_held * kPageSize, after.metadata_bytes,
                     resident_bytes() - rss_before};
    char name[32];
    std::snprintf(name, sizeof name, "pool chain %u", chain);
    report(state, name, fill, half);
    for (size_t k = order.size() / 2; k < order.size(); ++k)
      pool->free(handles[order[k]]);
  }
}
BENCHMARK(BM_PoolEfficiency)
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_MallocEfficiency(benchmark::State& state) {
  const std::vector<uint32_t>& compressed = sample().compressed_sizes;
  const std::vector<size_t> order = free_order(compressed.size());
  const size_t huge = SizeClassTable(kDefaultChainPages).huge_class_size();
  for (auto _ : state) {
    std::vector<void*> objects(compressed.size());
    std::vector<uint32_t> sizes(compressed.size());
    malloc_trim(0);
    const uint64_t rss_before = resident_bytes();
    const size_t heap_before = mallinfo2().uordblks;
    uint64_t stored = 0;
    for (size_t i = 0; i < compressed.size(); ++i) {
      sizes[i] = stored_size(compressed[i], huge);
      objects[i] = std::malloc(sizes[i]);
      std::memset(objects[i], 0x5a, sizes[i]);
      stored += sizes[i];
    }
    // "held" is the heap's own count of bytes in use (chunks with their headers); the resident
    // growth is what the machine pays, free chunks that cannot be given back included.
    const Phase fill{stored, mallinfo2().uordblks - heap_before, 0, resident_bytes() - rss_before};
    for (size_t k = 0; k < order.size() / 2; ++k) {
      std::free(objects[order[k]]);
      stored -= sizes[order[k]];
    }
    malloc_trim(0);  // give back what it can: whole free pages inside the heap, too
    const Phase half{stored, mallinfo2().uordblks - heap_before, 0, resident_bytes() - rss_before};
    report(state, "malloc", fill, half);
    for (size_t k = order.size() / 2; k < order.size(); ++k)
      std::free(objects[order[k]]);
  }
}
BENCHMARK(BM_MallocEfficiency)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace zsfs::pool::bench
