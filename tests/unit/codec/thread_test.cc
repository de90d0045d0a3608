// Several threads compressing and decompressing at once, each switching between Compressors of
// different levels: every result must equal the one computed on a single thread beforehand. Run
// under ThreadSanitizer as well (build/codec-tsan).
#include <barrier>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;
using Payload = std::vector<std::byte>;

constexpr int kLevels[] = {-5, -1, 1, 3, 9};
constexpr size_t kThreads = 4;
constexpr int kRounds = 3;

Compressor make_zstd(int level) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  ZSFS_CHECK(compressor.ok());
  return *compressor;
}

Payload compress_payload(const Compressor& compressor, const BlockBytes& block,
                         Encoding& encoding) {
  BlockBytes out;
  const Compressed compressed = compressor.compress(block, out);
  encoding = compressed.encoding;
  return Payload(out.begin(), out.begin() + static_cast<ptrdiff_t>(compressed.size_bytes));
}

TEST(Threads, ConcurrentResultsEqualSingleThreadedOnes) {
  std::mt19937_64 rng(testing::test_seed());
  std::vector<BlockBytes> blocks;
  for (int i = 0; i < 4; ++i) {
    for (auto& named : testing::sample_blocks(rng))
      blocks.push_back(named.bytes);
  }

  // Expected payloads, computed on this thread alone.
  struct Expected {
    Encoding encoding;
    Payload payload;
  };
  std::map<int, std::vector<Expected>> expected;
  for (int level : kLevels) {
    const Compressor compressor = make_zstd(level);
    for (const BlockBytes& block : blocks) {
      Expected e{};
      e.payload = compress_payload(compressor, block, e.encoding);
      expected[level].push_back(std::move(e));
    }
  }

  std::barrier start(static_cast<std::ptrdiff_t>(kThreads));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(kThreads, 0);
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Two compressors of different levels per thread, used in turn: the thread's context must
      // follow each switch.
      const int level_a = kLevels[t % std::size(kLevels)];
      const int level_b = kLevels[(t + 2) % std::size(kLevels)];
      const Compressor a = make_zstd(level_a), b = make_zstd(level_b);
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        for (size_t i = 0; i < blocks.size(); ++i) {
          const bool use_a = (i + static_cast<size_t>(round)) % 2 == 0;
          const int level = use_a ? level_a : level_b;
          Encoding encoding;
          const Payload payload = compress_payload(use_a ? a : b, blocks[i], encoding);
          const Expected& want = expected.at(level)[i];
          if (encoding != want.encoding || payload != want.payload) ++mismatches[t];

          // Decode both this payload and one made at another level by the first thread.
          BlockBytes decoded;
          if (!decompress(encoding, payload, decoded).ok() || decoded != blocks[i]) {
            ++mismatches[t];
          }
          const Expected& other = expected.at(kLevels[(t + i) % std::size(kLevels)])[i];
          if (!decompress(other.encoding, other.payload, decoded).ok() || decoded != blocks[i]) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  for (size_t t = 0; t < kThreads; ++t)
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Threads, ShortLivedThreadsEachGetAndFreeTheirContexts) {
  // FUSE starts and ends worker threads as load changes; each new thread builds its contexts on
  // first use and frees them at exit (LeakSanitizer checks the latter).
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::text_block(rng);
  const Compressor compressor = make_zstd(3);
  BlockBytes reference;
  const Compressed expected = compressor.compress(block, reference);
  for (int i = 0; i < 16; ++i) {
    std::thread([&] {
      BlockBytes out, decoded;
      const Compressed compressed = compressor.compress(block, out);
      EXPECT_EQ(compressed.size_bytes, expected.size_bytes);
      EXPECT_TRUE(
          decompress(compressed.encoding, std::span(out.data(), compressed.size_bytes), decoded)
              .ok());
      EXPECT_EQ(decoded, block);
    }).join();
  }
}

}  // namespace
}  // namespace zsfs::codec
