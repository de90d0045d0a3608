// codec_bench: what the codec costs per 4 KiB block on one core, and what it saves.
//
//   codec_bench [--corpus=FILE] [--corpus_max_mb=N] [--levels=-1,1,3] [benchmark flags]
//
// Speeds are decimal MB/s of uncompressed data per core ("speed", as zstd -b prints them); each
// benchmark iteration is one pass over the whole corpus. Ratios are uncompressed / stored bytes.
//   compress/L, decompress/L      the codec at level L: Compressor::compress, decompress()
//   zstd_default_frame_*/L        plain zstd, default frame, same level: what `zstd -b -B4096`
//                                 runs, so the codec's own overhead shows apart from the CLI's
//   write_path/L                  what zsfs does to each written block: same-filled test,
//                                 fingerprint, compress
//   incompressible/L              random blocks: the cost of finding out that a block stays raw
//   same_filled_word, fingerprint, fill_block, byte_histogram: the per-block helpers, and the
//                                 cheapest possible order-0 "is it compressible" pre-test
// compare_zstd_cli.sh runs this beside zstd's command-line benchmark on the Linux source.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <zstd.h>

#include "codec/codec.h"
#include "codec/zstd_block.h"
#include "tests/bench/codec/corpus.h"

namespace zsfs::codec::bench {
namespace {

using benchmark::Counter;

// Objects in zsfs's pool take whole 16-byte size-class steps (32 bytes at least); "ratio_16B"
// rounds each payload that way, an estimate of what the pool really holds. Same-filled blocks
// cost no pool object at all.
constexpr size_t kPoolStepBytes = 16;
constexpr size_t kPoolMinObjectBytes = 32;

size_t pool_bytes(size_t payload_bytes) {
  return std::max(kPoolMinObjectBytes,
                  (payload_bytes + kPoolStepBytes - 1) / kPoolStepBytes * kPoolStepBytes);
}

// The default corpus: big enough to leave the caches, small enough to load in a few seconds.
constexpr uint64_t kDefaultCorpusBytes = uint64_t{256} << 20;
// Random blocks for the incompressible case.
constexpr size_t kRandomBlocks = 2048;

const Corpus* g_corpus = nullptr;

Compressor make_compressor(int level) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  if (!compressor.ok()) {
    std::fprintf(stderr, "codec_bench: level %d is outside %d..%d\n", level, min_level(),
                 max_level());
    std::exit(2);
  }
  return *compressor;
}

void set_speed(benchmark::State& state, double bytes_per_iteration) {
  state.counters["speed"] =
      Counter(bytes_per_iteration, Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

void BM_Compress(benchmark::State& state, int level) {
  const Corpus& corpus = *g_corpus;
  const Compressor compressor = make_compressor(level);
  std::vector<std::byte> out(kBlockSize);
  size_t stored = 0, stored_pool = 0, nr_raw = 0;
  for (auto _ : state) {
    stored = stored_pool = nr_raw = 0;
    for (size_t i = 0; i < corpus.nr_blocks(); ++i) {
      const Compressed compressed =
          compressor.compress(corpus.block(i), MutableBlock(out.data(), kBlockSize));
      stored += compressed.size_bytes;
      stored_pool += pool_bytes(compressed.size_bytes);
      nr_raw += compressed.encoding == Encoding::kRaw;
    }
    benchmark::DoNotOptimize(out.data());
  }
  const auto in = static_cast<double>(corpus.bytes.size());
  set_speed(state, in);
  state.counters["ratio"] = in / static_cast<double>(stored);
  state.counters["ratio_16B"] = in / static_cast<double>(stored_pool);
  state.counters["bytes_per_block"] =
      static_cast<double>(stored) / static_cast<double>(corpus.nr_blocks());
  state.counters["raw_blocks"] = static_cast<double>(nr_raw);
  state.counters["ctx_bytes"] = static_cast<double>(zstd_block::thread_context_bytes());
}

void BM_Decompress(benchmark::State& state, int level) {
  const Corpus& corpus = *g_corpus;
  const Compressor compressor = make_compressor(level);
  // Payloads packed one after another, as varied in size and place as in the pool.
  std::vector<std::byte> payloads;
  std::vector<std::pair<size_t, Compressed>> index;
  std::vector<std::byte> out(kBlockSize);
  for (size_t i = 0; i < corpus.nr_blocks(); ++i) {
    const Compressed compressed =
        compressor.compress(corpus.block(i), MutableBlock(out.data(), kBlockSize));
    index.emplace_back(payloads.size(), compressed);
    payloads.insert(payloads.end(), out.begin(),
                    out.begin() + static_cast<ptrdiff_t>(compressed.size_bytes));
  }
  for (auto _ : state) {
    for (const auto& [offset, compressed] : index) {
      const Status status =
          decompress(compressed.encoding,
                     std::span<const std::byte>(payloads.data() + offset, compressed.size_bytes),
                     MutableBlock(out.data(), kBlockSize));
      if (!status.ok()) {
        state.SkipWithError("decompress failed");
        return;
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_speed(state, static_cast<double>(corpus.bytes.size()));
}

// Plain zstd on the same blocks with its default frame (magic, content size, no checksum), the
// way `zstd -b -B4096` calls it: the yardstick for the codec's overhead.
struct ZstdContexts {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

void BM_ZstdDefaultFrameCompress(benchmark::State& state, int level) {
  const Corpus& corpus = *g_corpus;
  ZstdContexts zstd;
  ZSTD_CCtx_setParameter(zstd.cctx, ZSTD_c_compressionLevel, level);
  std::vector<std::byte> out(ZSTD_compressBound(kBlockSize));
  size_t stored = 0;
  for (auto _ : state) {
    stored = 0;
    for (size_t i = 0; i < corpus.nr_blocks(); ++i) {
      const size_t size =
          ZSTD_compress2(zstd.cctx, out.data(), out.size(), corpus.block(i).data(), kBlockSize);
      stored += size;
    }
    benchmark::DoNotOptimize(out.data());
  }
  const auto in = static_cast<double>(corpus.bytes.size());
  set_speed(state, in);
  state.counters["ratio"] = in / static_cast<double>(stored);
  state.counters["bytes_per_block"] =
      static_cast<double>(stored) / static_cast<double>(corpus.nr_blocks());
}

void BM_ZstdDefaultFrameDecompress(benchmark::State& state, int level) {
  const Corpus& corpus = *g_corpus;
  ZstdContexts zstd;
  ZSTD_CCtx_setParameter(zstd.cctx, ZSTD_c_compressionLevel, level);
  std::vector<std::byte> frames;
  std::vector<std::pair<size_t, size_t>> index;
  std::vector<std::byte> out(ZSTD_compressBound(kBlockSize));
  for (size_t i = 0; i < corpus.nr_blocks(); ++i) {
    const size_t size =
        ZSTD_compress2(zstd.cctx, out.data(), out.size(), corpus.block(i).data(), kBlockSize);
    index.emplace_back(frames.size(), size);
    frames.insert(frames.end(), out.begin(), out.begin() + static_cast<ptrdiff_t>(size));
  }
  for (auto _ : state) {
    for (const auto& [offset, size] : index) {
      const size_t decoded =
          ZSTD_decompressDCtx(zstd.dctx, out.data(), kBlockSize, frames.data() + offset, size);
      if (decoded != kBlockSize) {
        state.SkipWithError("zstd decompress failed");
        return;
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_speed(state, static_cast<double>(corpus.bytes.size()));
}

void BM_WritePath(benchmark::State& state, int level) {
  const Corpus& corpus = *g_corpus;
  const Compressor compressor = make_compressor(level);
  std::vector<std::byte> out(kBlockSize);
  size_t stored_pool = 0, nr_same_filled = 0;
  for (auto _ : state) {
    stored_pool = nr_same_filled = 0;
    for (size_t i = 0; i < corpus.nr_blocks(); ++i) {
      const Block block = corpus.block(i);
      if (same_filled_word(block)) {
        ++nr_same_filled;
        continue;
      }
      benchmark::DoNotOptimize(fingerprint(block));
      stored_pool +=
          pool_bytes(compressor.compress(block, MutableBlock(out.data(), kBlockSize)).size_bytes);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const auto in = static_cast<double>(corpus.bytes.size());
  set_speed(state, in);
  state.counters["ratio_16B"] = in / static_cast<double>(stored_pool);
  state.counters["same_filled_blocks"] = static_cast<double>(nr_same_filled);
}

std::vector<std::byte> random_blocks() {
  std::vector<std::byte> bytes(kRandomBlocks * kBlockSize);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < bytes.size(); i += 8) {
    const uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  return bytes;
}

void BM_Incompressible(benchmark::State& state, int level) {
  static const std::vector<std::byte> bytes = random_blocks();
  const Compressor compressor = make_compressor(level);
  std::vector<std::byte> out(kBlockSize);
  for (auto _ : state) {
    for (size_t i = 0; i < kRandomBlocks; ++i) {
      const Compressed compressed = compressor.compress(
          Block(bytes.data() + i * kBlockSize, kBlockSize), MutableBlock(out.data(), kBlockSize));
      if (compressed.encoding != Encoding::kRaw) state.SkipWithError("random block compressed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_speed(state, static_cast<double>(bytes.size()));
}

// Per-block helpers, run over the corpus (the mix the filesystem sees) or over one block.
template <class F>
void over_corpus(benchmark::State& state, F&& per_block) {
  const Corpus& corpus = *g_corpus;
  for (auto _ : state) {
    for (size_t i = 0; i < corpus.nr_blocks(); ++i)
      per_block(corpus.block(i));
  }
  set_speed(state, static_cast<double>(corpus.bytes.size()));
}

template <class F>
void over_one_block(benchmark::State& state, const std::vector<std::byte>& block, F&& per_block) {
  for (auto _ : state)
    per_block(Block(block.data(), kBlockSize));
  set_speed(state, static_cast<double>(kBlockSize));
}

// The straightforward same-filled test, kept as the reference same_filled_word() is measured
// against: a loop over words that stops at the first mismatch.
std::optional<uint64_t> same_filled_word_loop(Block block) {
  uint64_t first, word;
  std::memcpy(&first, block.data(), 8);
  for (size_t offset = 8; offset < kBlockSize; offset += 8) {
    std::memcpy(&word, block.data() + offset, 8);
    if (word != first) return std::nullopt;
  }
  return first;
}

// The least any order-0 compressibility pre-test must do: count the block's bytes.
uint32_t byte_histogram_max(Block block) {
  uint32_t counts[256] = {};
  for (std::byte b : block)
    ++counts[std::to_integer<uint8_t>(b)];
  return *std::max_element(std::begin(counts), std::end(counts));
}

void register_helpers() {
  static const std::vector<std::byte> zeros(kBlockSize);
  static const std::vector<std::byte> last_byte_differs = [] {
    std::vector<std::byte> block(kBlockSize);
    block.back() = std::byte{1};
    return block;
  }();
  auto same = [](Block block) { benchmark::DoNotOptimize(same_filled_word(block)); };
  auto loop = [](Block block) { benchmark::DoNotOptimize(same_filled_word_loop(block)); };
  benchmark::RegisterBenchmark("same_filled_word/zeros",
                               [=](benchmark::State& s) { over_one_block(s, zeros, same); });
  benchmark::RegisterBenchmark("same_filled_word_loop/zeros",
                               [=](benchmark::State& s) { over_one_block(s, zeros, loop); });
  benchmark::RegisterBenchmark("same_filled_word/last_byte_differs", [=](benchmark::State& s) {
    over_one_block(s, last_byte_differs, same);
  });
  benchmark::RegisterBenchmark("same_filled_word/corpus",
                               [=](benchmark::State& s) { over_corpus(s, same); });
  benchmark::RegisterBenchmark("same_filled_word_loop/corpus",
                               [=](benchmark::State& s) { over_corpus(s, loop); });
  benchmark::RegisterBenchmark("fingerprint/corpus", [](benchmark::State& s) {
    over_corpus(s, [](Block block) { benchmark::DoNotOptimize(fingerprint(block)); });
  });
  benchmark::RegisterBenchmark("byte_histogram/corpus", [](benchmark::State& s) {
    over_corpus(s, [](Block block) { benchmark::DoNotOptimize(byte_histogram_max(block)); });
  });
  for (uint64_t word : {uint64_t{0}, uint64_t{0x0123456789abcdefULL}}) {
    benchmark::RegisterBenchmark(word == 0 ? "fill_block/zeros" : "fill_block/word",
                                 [word](benchmark::State& s) {
                                   std::vector<std::byte> out(kBlockSize);
                                   for (auto _ : s) {
                                     fill_block(word, MutableBlock(out.data(), kBlockSize));
                                     benchmark::DoNotOptimize(out.data());
                                     benchmark::ClobberMemory();
                                   }
                                   set_speed(s, static_cast<double>(kBlockSize));
                                 });
  }
}

// "max" across repetitions: for a speed, the best pass, which is what zstd -b reports.
void add_max_statistic(benchmark::internal::Benchmark* benchmark) {
  benchmark->ComputeStatistics(
      "max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

void register_levels(const std::vector<int>& levels) {
  for (int level : levels) {
    const std::string suffix = "/" + std::to_string(level);
    for (auto [name, function] :
         {std::pair{"compress", &BM_Compress}, std::pair{"decompress", &BM_Decompress},
          std::pair{"zstd_default_frame_compress", &BM_ZstdDefaultFrameCompress},
          std::pair{"zstd_default_frame_decompress", &BM_ZstdDefaultFrameDecompress},
          std::pair{"write_path", &BM_WritePath}}) {
      add_max_statistic(benchmark::RegisterBenchmark((name + suffix).c_str(), function, level)
                            ->Unit(benchmark::kMillisecond));
    }
  }
  for (int level : {-1, 1, 3, 9, 19}) {
    add_max_statistic(
        benchmark::RegisterBenchmark(("incompressible/" + std::to_string(level)).c_str(),
                                     &BM_Incompressible, level)
            ->Unit(benchmark::kMillisecond));
  }
}

std::vector<int> parse_levels(const std::string& list) {
  std::vector<int> levels;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    levels.push_back(std::stoi(item));
  return levels;
}

}  // namespace
}  // namespace zsfs::codec::bench

int main(int argc, char** argv) {
  using namespace zsfs::codec::bench;
  benchmark::Initialize(&argc, argv);
  std::string corpus_path;
  uint64_t corpus_max_bytes = kDefaultCorpusBytes;
  std::vector<int> levels = {-1, 1, 3};
  int unused = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("--corpus=")) {
      corpus_path = arg.substr(9);
    } else if (arg.starts_with("--corpus_max_mb=")) {
      corpus_max_bytes = std::stoull(arg.substr(16)) << 20;
    } else if (arg.starts_with("--levels=")) {
      levels = parse_levels(arg.substr(9));
    } else {
      argv[unused++] = argv[i];
    }
  }
  argc = unused;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  static const Corpus corpus = corpus_path.empty()
                                   ? build_machine_corpus(corpus_max_bytes)
                                   : load_corpus_file(corpus_path, corpus_max_bytes);
  if (corpus.nr_blocks() == 0) {
    std::fprintf(stderr, "codec_bench: empty corpus\n");
    return 2;
  }
  g_corpus = &corpus;
  size_t nr_same_filled = 0;
  for (size_t i = 0; i < corpus.nr_blocks(); ++i)
    nr_same_filled += zsfs::codec::same_filled_word(corpus.block(i)).has_value();
  benchmark::AddCustomContext("corpus", corpus.description);
  benchmark::AddCustomContext("corpus_blocks", std::to_string(corpus.nr_blocks()));
  benchmark::AddCustomContext("corpus_same_filled_blocks", std::to_string(nr_same_filled));
  benchmark::AddCustomContext("zstd", ZSTD_versionString());

  register_levels(levels);
  register_helpers();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
