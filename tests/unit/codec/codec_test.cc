// Compressor and decompress(): configuration checks, names, round trips of every kind of block at
// levels across zstd's range (negative ones included) and without compression, determinism, and
// the raw threshold.
#include "codec/codec.h"

#include <cstdint>
#include <random>
#include <vector>

#include <climits>
#include <gtest/gtest.h>

#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;

Compressor make(Algorithm algorithm, int level, size_t raw_threshold_bytes = kBlockSize) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{
      .algorithm = algorithm, .level = level, .raw_threshold_bytes = raw_threshold_bytes});
  ZSFS_CHECK(compressor.ok());
  return *compressor;
}

Compressor make_zstd(int level, size_t raw_threshold_bytes = kBlockSize) {
  return make(Algorithm::kZstd, level, raw_threshold_bytes);
}

// Compresses, checks what the contract promises about the result, and decodes it back.
Compressed round_trip(const Compressor& compressor, const BlockBytes& block) {
  BlockBytes payload;
  const Compressed compressed = compressor.compress(block, payload);
  EXPECT_TRUE(compressed.encoding == Encoding::kZstd || compressed.encoding == Encoding::kRaw);
  if (compressed.encoding == Encoding::kRaw) {
    EXPECT_EQ(compressed.size_bytes, kBlockSize);
    EXPECT_EQ(payload, block);
  } else {
    EXPECT_LT(compressed.size_bytes, compressor.config().raw_threshold_bytes);
  }
  BlockBytes decoded;
  decoded.fill(std::byte{0xcc});
  const Status status =
      decompress(compressed.encoding,
                 std::span<const std::byte>(payload.data(), compressed.size_bytes), decoded);
  EXPECT_TRUE(status.ok()) << "errno " << (status.ok() ? 0 : status.error());
  EXPECT_EQ(decoded, block);
  return compressed;
}

// The levels the issue names, plus both ends of zstd's range.
std::vector<int> test_levels() {
  return {min_level(), -5, -1, 1, 3, 9, 19, max_level()};
}

TEST(CodecNames, AreStable) {
  EXPECT_EQ(to_string(Encoding::kSameFilled), "same_filled");
  EXPECT_EQ(to_string(Encoding::kRaw), "raw");
  EXPECT_EQ(to_string(Encoding::kZstd), "zstd");
  EXPECT_EQ(to_string(Encoding::kLz4), "lz4");
  EXPECT_EQ(to_string(static_cast<Encoding>(77)), "unknown");
  EXPECT_EQ(to_string(Algorithm::kNone), "none");
  EXPECT_EQ(to_string(Algorithm::kLz4), "lz4");
  EXPECT_EQ(to_string(Algorithm::kZstd), "zstd");
  EXPECT_EQ(to_string(static_cast<Algorithm>(77)), "unknown");
}

TEST(CodecNames, ParseAlgorithmInvertsToString) {
  for (Algorithm algorithm : {Algorithm::kNone, Algorithm::kLz4, Algorithm::kZstd}) {
    EXPECT_EQ(parse_algorithm(to_string(algorithm)), algorithm);
  }
  EXPECT_FALSE(parse_algorithm("").has_value());
  EXPECT_FALSE(parse_algorithm("ZSTD").has_value());
  EXPECT_FALSE(parse_algorithm("lz4hc").has_value());
  EXPECT_FALSE(parse_algorithm("unknown").has_value());
}

TEST(CodecConfig, LevelRangeIsZstdsIncludingFastLevels) {
  EXPECT_LE(min_level(), -5);
  EXPECT_GE(max_level(), 19);
  EXPECT_GE(kDefaultLevel, min_level());
  EXPECT_LE(kDefaultLevel, max_level());
  EXPECT_EQ(CodecConfig{}.level, kDefaultLevel);
  EXPECT_EQ(CodecConfig{}.algorithm, Algorithm::kZstd);
  EXPECT_EQ(CodecConfig{}.raw_threshold_bytes, kBlockSize);
}

TEST(CodecConfig, AcceptsEveryValidSetting) {
  for (int level : {min_level(), -1, 0, 1, kDefaultLevel, max_level()}) {
    for (size_t threshold : {size_t{1}, size_t{2048}, kBlockSize}) {
      for (Algorithm algorithm : {Algorithm::kNone, Algorithm::kLz4, Algorithm::kZstd}) {
        const CodecConfig config{
            .algorithm = algorithm, .level = level, .raw_threshold_bytes = threshold};
        Result<Compressor> compressor = Compressor::create(config);
        ASSERT_TRUE(compressor.ok()) << level << " " << threshold;
        EXPECT_EQ(compressor->config().level, level);
        EXPECT_EQ(compressor->config().raw_threshold_bytes, threshold);
        EXPECT_EQ(compressor->config().algorithm, algorithm);
      }
    }
  }
}

TEST(CodecConfig, RejectsLevelsOutsideTheRange) {
  for (Algorithm algorithm : {Algorithm::kNone, Algorithm::kLz4, Algorithm::kZstd}) {
    for (int level : {INT_MIN, min_level() - 1, max_level() + 1, INT_MAX}) {
      Result<Compressor> compressor =
          Compressor::create(CodecConfig{.algorithm = algorithm, .level = level});
      ASSERT_FALSE(compressor.ok()) << level;
      EXPECT_EQ(compressor.error(), EINVAL);
    }
  }
}

TEST(CodecConfig, RejectsThresholdsOutsideTheBlock) {
  for (size_t threshold : {size_t{0}, kBlockSize + 1, SIZE_MAX}) {
    Result<Compressor> compressor =
        Compressor::create(CodecConfig{.raw_threshold_bytes = threshold});
    ASSERT_FALSE(compressor.ok()) << threshold;
    EXPECT_EQ(compressor.error(), EINVAL);
  }
}

TEST(CodecConfig, RejectsUnknownAlgorithms) {
  Result<Compressor> compressor =
      Compressor::create(CodecConfig{.algorithm = static_cast<Algorithm>(3)});
  ASSERT_FALSE(compressor.ok());
  EXPECT_EQ(compressor.error(), EINVAL);
}

TEST(Codec, RoundTripsEveryKindOfBlockAtEveryTestLevel) {
  std::mt19937_64 rng(testing::test_seed());
  const std::vector<testing::NamedBlock> blocks = testing::sample_blocks(rng);
  for (int level : test_levels()) {
    const Compressor compressor = make_zstd(level);
    for (const auto& [name, bytes] : blocks) {
      SCOPED_TRACE(::testing::Message() << name << " at level " << level);
      const Compressed compressed = round_trip(compressor, bytes);
      // Random bytes never compress; zeros, repeats, text and sparse blocks always do, even at -5.
      // A slice of machine code usually does, but not every slice at the fast levels, which leave
      // literals uncompressed. zstd's fastest level (-131072) skips so far ahead that it finds
      // nothing in 4 KiB: all is kept raw there.
      if (name == "random") {
        EXPECT_EQ(compressed.encoding, Encoding::kRaw);
      } else if (name != "binary" && level != min_level()) {
        EXPECT_EQ(compressed.encoding, Encoding::kZstd);
      }
    }
  }
}

TEST(Codec, ZerosAndRepeatsCompressToAFewBytes) {
  // The caller keeps same-filled blocks as a word, but the codec must still handle them well.
  const Compressed compressed = round_trip(make_zstd(1), testing::word_block(0));
  EXPECT_EQ(compressed.encoding, Encoding::kZstd);
  EXPECT_LE(compressed.size_bytes, 16u);
}

TEST(Codec, HigherLevelsDoNotCompressWorse) {
  // Not a promise zstd makes for every block, but true of text, and a sign that the level is
  // really applied.
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  const size_t fast = round_trip(make_zstd(-5), text).size_bytes;
  const size_t normal = round_trip(make_zstd(3), text).size_bytes;
  const size_t strong = round_trip(make_zstd(19), text).size_bytes;
  EXPECT_LT(normal, fast);
  EXPECT_LE(strong, normal);
}

TEST(Codec, AlgorithmNoneKeepsEveryBlockRaw) {
  std::mt19937_64 rng(testing::test_seed());
  const Compressor compressor = make(Algorithm::kNone, kDefaultLevel);
  for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
    EXPECT_EQ(round_trip(compressor, bytes).encoding, Encoding::kRaw) << name;
  }
}

TEST(Codec, CompressionIsDeterministic) {
  // Same block and config, same bytes: also after the thread's context has served other levels
  // and other blocks in between.
  std::mt19937_64 rng(testing::test_seed());
  const std::vector<testing::NamedBlock> blocks = testing::sample_blocks(rng);
  for (int level : {-5, 1, 3, 9}) {
    const Compressor compressor = make_zstd(level);
    for (const auto& [name, bytes] : blocks) {
      BlockBytes first, second, other;
      const Compressed a = compressor.compress(bytes, first);
      (void)make_zstd(level + 7).compress(blocks[2].bytes, other);
      const Compressed b = compressor.compress(bytes, second);
      ASSERT_EQ(a.encoding, b.encoding) << name << " at " << level;
      ASSERT_EQ(a.size_bytes, b.size_bytes) << name << " at " << level;
      EXPECT_TRUE(std::equal(first.begin(), first.begin() + static_cast<ptrdiff_t>(a.size_bytes),
                             second.begin()))
          << name << " at " << level;
    }
  }
}

TEST(Codec, RandomBlocksAreKeptRaw) {
  std::mt19937_64 rng(testing::test_seed());
  for (int level : test_levels()) {
    EXPECT_EQ(round_trip(make_zstd(level), testing::random_block(rng)).encoding, Encoding::kRaw);
  }
}

TEST(Codec, RawThresholdIsHonouredToTheByte) {
  std::mt19937_64 rng(testing::test_seed());
  for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
    if (name == "random") continue;
    SCOPED_TRACE(name);
    const Compressed unlimited = round_trip(make_zstd(3), bytes);
    if (unlimited.encoding == Encoding::kRaw) continue;  // a slice of code that does not compress
    const size_t size = unlimited.size_bytes;
    // A result of `size` bytes is kept when the threshold is above it, and only then.
    const Compressed above = round_trip(make_zstd(3, size + 1), bytes);
    EXPECT_EQ(above.encoding, Encoding::kZstd);
    EXPECT_EQ(above.size_bytes, size);
    EXPECT_EQ(round_trip(make_zstd(3, size), bytes).encoding, Encoding::kRaw);
  }
}

TEST(Codec, TinyThresholdsKeepEverythingRaw) {
  std::mt19937_64 rng(testing::test_seed());
  for (size_t threshold : {size_t{1}, size_t{2}, size_t{5}, size_t{8}}) {
    for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
      EXPECT_EQ(round_trip(make_zstd(1, threshold), bytes).encoding, Encoding::kRaw)
          << name << " under threshold " << threshold;
    }
  }
}

TEST(Codec, EveryThresholdGivesAValidResult) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  for (size_t threshold = 1; threshold <= kBlockSize; threshold += 37) {
    (void)round_trip(make_zstd(1, threshold), text);
  }
}

TEST(Codec, WorksOnUnalignedBuffers) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  std::vector<std::byte> in(kBlockSize + 8), out(kBlockSize + 8), decoded(kBlockSize + 8);
  std::copy(text.begin(), text.end(), in.begin() + 3);
  const Compressed compressed = make_zstd(3).compress(Block(in.data() + 3, kBlockSize),
                                                      MutableBlock(out.data() + 5, kBlockSize));
  ASSERT_EQ(compressed.encoding, Encoding::kZstd);
  ASSERT_TRUE(decompress(Encoding::kZstd, std::span(out.data() + 5, compressed.size_bytes),
                         MutableBlock(decoded.data() + 1, kBlockSize))
                  .ok());
  EXPECT_TRUE(std::equal(text.begin(), text.end(), decoded.begin() + 1));
}

TEST(Decompress, RejectsEncodingsItDoesNotDecode) {
  BlockBytes payload{}, out;
  for (auto encoding :
       {Encoding::kSameFilled, static_cast<Encoding>(4), static_cast<Encoding>(255)}) {
    for (size_t size : {size_t{0}, size_t{8}, kBlockSize}) {
      const Status status = decompress(encoding, std::span(payload.data(), size), out);
      ASSERT_FALSE(status.ok());
      EXPECT_EQ(status.error(), EIO);
    }
  }
}

TEST(Decompress, RawPayloadsMustBeExactlyOneBlock) {
  std::vector<std::byte> payload(kBlockSize + 1, std::byte{7});
  BlockBytes out;
  for (size_t size : {size_t{0}, size_t{1}, kBlockSize - 1, kBlockSize + 1}) {
    const Status status = decompress(Encoding::kRaw, std::span(payload.data(), size), out);
    ASSERT_FALSE(status.ok()) << size;
    EXPECT_EQ(status.error(), EIO);
  }
  ASSERT_TRUE(decompress(Encoding::kRaw, std::span(payload.data(), kBlockSize), out).ok());
  EXPECT_EQ(out, testing::word_block(0x0707070707070707ULL));
}

}  // namespace
}  // namespace zsfs::codec
