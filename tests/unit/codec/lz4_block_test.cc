// The kLz4 payload: its layout (an LZ4 block that liblz4 itself decodes, then the check), round
// trips of every kind of block, the raw threshold to the byte, determinism, and damage: every
// truncation, every bit flip of a text block's payload, trailing bytes and a wrong check give EIO
// or the original bytes, never a crash or wrong bytes reported as success.
#include "codec/lz4_block.h"

#include <lz4.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "codec/block_check.h"
#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;
using Payload = std::vector<std::byte>;

Compressor make_lz4(size_t raw_threshold_bytes = kBlockSize) {
  Result<Compressor> compressor = Compressor::create(
      CodecConfig{.algorithm = Algorithm::kLz4, .raw_threshold_bytes = raw_threshold_bytes});
  ZSFS_CHECK(compressor.ok());
  return *compressor;
}

Compressed round_trip(const Compressor& compressor, const BlockBytes& block) {
  BlockBytes encoded, decoded;
  const Compressed compressed = compressor.compress(block, encoded);
  EXPECT_LT(compressed.size_bytes, compressed.encoding == Encoding::kRaw
                                       ? kBlockSize + 1
                                       : compressor.config().raw_threshold_bytes);
  const Status status =
      decompress(compressed.encoding, std::span(encoded.data(), compressed.size_bytes), decoded);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(decoded, block);
  return compressed;
}

Payload lz4_payload(const BlockBytes& block) {
  BlockBytes out;
  const Compressed compressed = make_lz4().compress(block, out);
  ZSFS_CHECK(compressed.encoding == Encoding::kLz4);
  return Payload(out.begin(), out.begin() + static_cast<ptrdiff_t>(compressed.size_bytes));
}

// EIO, or exactly the original bytes: what every damaged payload must give.
void expect_eio_or_original(const Payload& payload, const BlockBytes& original) {
  BlockBytes out;
  const Status status = decompress(Encoding::kLz4, payload, out);
  if (status.ok()) {
    EXPECT_EQ(out, original);
  } else {
    EXPECT_EQ(status.error(), EIO);
  }
}

TEST(Lz4Block, RoundTripsEveryKindOfBlock) {
  std::mt19937_64 rng(testing::test_seed());
  const Compressor compressor = make_lz4();
  for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
    SCOPED_TRACE(name);
    const Compressed compressed = round_trip(compressor, bytes);
    if (name == "random") {
      EXPECT_EQ(compressed.encoding, Encoding::kRaw);
    } else if (name != "binary") {
      EXPECT_EQ(compressed.encoding, Encoding::kLz4);
    }
  }
}

TEST(Lz4Block, PayloadIsAnLz4BlockThenTheCheck) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  const Payload payload = lz4_payload(text);
  ASSERT_GT(payload.size(), block_check::kCheckBytes);
  const size_t body = payload.size() - block_check::kCheckBytes;
  BlockBytes decoded;
  EXPECT_EQ(LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data()),
                                reinterpret_cast<char*>(decoded.data()), static_cast<int>(body),
                                static_cast<int>(kBlockSize)),
            static_cast<int>(kBlockSize));
  EXPECT_EQ(decoded, text);
  EXPECT_EQ(block_check::load(payload.data() + body), block_check::of(text));
}

TEST(Lz4Block, SmallerThanRawForTextAndBiggerThanZstd) {
  // Not a promise either library makes for every block, but the reason lz4 is the fast encoding
  // and zstd the small one.
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  BlockBytes out;
  const size_t lz4 = make_lz4().compress(text, out).size_bytes;
  Result<Compressor> zstd = Compressor::create(CodecConfig{.level = 3});
  ASSERT_TRUE(zstd.ok());
  const size_t zstd_bytes = zstd->compress(text, out).size_bytes;
  EXPECT_LT(lz4, kBlockSize * 3 / 4);
  EXPECT_LT(zstd_bytes, lz4);
}

TEST(Lz4Block, RawThresholdIsHonouredToTheByte) {
  std::mt19937_64 rng(testing::test_seed());
  for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
    if (name == "random") continue;
    SCOPED_TRACE(name);
    const Compressed unlimited = round_trip(make_lz4(), bytes);
    if (unlimited.encoding == Encoding::kRaw) continue;
    const size_t size = unlimited.size_bytes;
    const Compressed above = round_trip(make_lz4(size + 1), bytes);
    EXPECT_EQ(above.encoding, Encoding::kLz4);
    EXPECT_EQ(above.size_bytes, size);
    EXPECT_EQ(round_trip(make_lz4(size), bytes).encoding, Encoding::kRaw);
  }
}

TEST(Lz4Block, EveryThresholdGivesAValidResult) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  for (size_t threshold = 1; threshold <= kBlockSize; threshold += 13)
    (void)round_trip(make_lz4(threshold), text);
}

TEST(Lz4Block, CompressionIsDeterministic) {
  std::mt19937_64 rng(testing::test_seed());
  const std::vector<testing::NamedBlock> blocks = testing::sample_blocks(rng);
  const Compressor compressor = make_lz4();
  for (const auto& [name, bytes] : blocks) {
    BlockBytes first, second, other;
    const Compressed a = compressor.compress(bytes, first);
    (void)compressor.compress(blocks[3].bytes, other);  // the thread's state served another block
    const Compressed b = compressor.compress(bytes, second);
    ASSERT_EQ(a.encoding, b.encoding) << name;
    ASSERT_EQ(a.size_bytes, b.size_bytes) << name;
    EXPECT_TRUE(std::equal(first.begin(), first.begin() + static_cast<ptrdiff_t>(a.size_bytes),
                           second.begin()))
        << name;
  }
}

TEST(Lz4Block, EveryTruncationIsEio) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  const Payload payload = lz4_payload(text);
  BlockBytes out;
  for (size_t length = 0; length < payload.size(); ++length) {
    const Status status = decompress(Encoding::kLz4, std::span(payload.data(), length), out);
    ASSERT_FALSE(status.ok()) << length;
    EXPECT_EQ(status.error(), EIO);
  }
}

TEST(Lz4Block, EveryBitFlipIsEioOrTheOriginal) {
  std::mt19937_64 rng(testing::test_seed());
  for (const BlockBytes& block : {testing::text_block(rng), testing::sparse_block(rng)}) {
    const Payload payload = lz4_payload(block);
    for (size_t bit = 0; bit < payload.size() * 8; ++bit) {
      Payload damaged = payload;
      damaged[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
      expect_eio_or_original(damaged, block);
    }
  }
}

TEST(Lz4Block, RandomDamageIsEioOrTheOriginal) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::binary_block(rng);
  BlockBytes out;
  if (make_lz4().compress(block, out).encoding != Encoding::kLz4) GTEST_SKIP() << "incompressible";
  const Payload payload = lz4_payload(block);
  for (int trial = 0; trial < 2000; ++trial) {
    Payload damaged = payload;
    for (int hits = 1 + static_cast<int>(rng() % 4); hits > 0; --hits)
      damaged[rng() % damaged.size()] = static_cast<std::byte>(rng());
    expect_eio_or_original(damaged, block);
  }
}

TEST(Lz4Block, TrailingBytesAndAWrongCheckAreEio) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  const Payload payload = lz4_payload(text);
  BlockBytes out;
  // A byte after the check.
  Payload longer = payload;
  longer.push_back(std::byte{0});
  EXPECT_EQ(decompress(Encoding::kLz4, longer, out).error(), EIO);
  // A byte between the LZ4 block and the check: the block no longer ends where it should.
  Payload inserted = payload;
  inserted.insert(inserted.end() - static_cast<ptrdiff_t>(block_check::kCheckBytes), std::byte{0});
  EXPECT_EQ(decompress(Encoding::kLz4, inserted, out).error(), EIO);
  // The check of another block.
  Payload wrong_check = payload;
  block_check::store(block_check::of(testing::text_block(rng)) ^ 1u,
                     wrong_check.data() + wrong_check.size() - block_check::kCheckBytes);
  EXPECT_EQ(decompress(Encoding::kLz4, wrong_check, out).error(), EIO);
}

TEST(Lz4Block, WorksOnUnalignedBuffers) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes text = testing::text_block(rng);
  std::vector<std::byte> in(kBlockSize + 8), out(kBlockSize + 8), decoded(kBlockSize + 8);
  std::copy(text.begin(), text.end(), in.begin() + 3);
  const Compressed compressed = make_lz4().compress(Block(in.data() + 3, kBlockSize),
                                                    MutableBlock(out.data() + 5, kBlockSize));
  ASSERT_EQ(compressed.encoding, Encoding::kLz4);
  ASSERT_TRUE(decompress(Encoding::kLz4, std::span(out.data() + 5, compressed.size_bytes),
                         MutableBlock(decoded.data() + 1, kBlockSize))
                  .ok());
  EXPECT_TRUE(std::equal(text.begin(), text.end(), decoded.begin() + 1));
}

}  // namespace
}  // namespace zsfs::codec
