// The kZstd payload format, checked against zstd itself: the experimental magicless parameters
// take effect with the shared library we link, the elided header is the one zstd writes, a payload
// with its magic and header restored is a standard zstd frame, and the check is what codec.h says.
// Also: each thread re-applies the level only when it changes, and contexts it releases are made
// anew with the same parameters.
#define ZSTD_STATIC_LINKING_ONLY

#include "codec/zstd_block.h"

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zstd.h>

#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;

constexpr std::byte kMagic[4] = {std::byte{0x28}, std::byte{0xb5}, std::byte{0x2f},
                                 std::byte{0xfd}};  // ZSTD_MAGICNUMBER, little-endian

Compressed compress_at(int level, const BlockBytes& block, BlockBytes& out) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  ZSFS_CHECK(compressor.ok());
  return compressor->compress(block, out);
}

TEST(ZstdBlock, MagiclessParametersTakeEffectInTheSharedLibrary) {
  // The setters accept the experimental parameters...
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ASSERT_NE(cctx, nullptr);
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 12)));
  // ...and act on them: no magic number, and the header zstd_block does not store.
  std::mt19937_64 rng(testing::test_seed());
  for (int level : {min_level(), -1, 1, 3, 9, 19, max_level()}) {
    ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)));
    const BlockBytes block = testing::text_block(rng);
    std::vector<std::byte> frame(ZSTD_compressBound(kBlockSize));
    const size_t size = ZSTD_compress2(cctx, frame.data(), frame.size(), block.data(), kBlockSize);
    ASSERT_FALSE(ZSTD_isError(size)) << ZSTD_getErrorName(size);
    ASSERT_GE(size, 2u);
    EXPECT_EQ(frame[0], zstd_block::kFrameHeader[0]) << "level " << level;
    EXPECT_EQ(frame[1], zstd_block::kFrameHeader[1]) << "level " << level;
    EXPECT_NE(std::memcmp(frame.data(), kMagic, sizeof kMagic), 0);
  }
  ZSTD_freeCCtx(cctx);
}

TEST(ZstdBlock, EveryLevelCompresses) {
  // A level whose frames came out with another header would silently keep every block raw (and
  // say so once on stderr): make sure none does, from the fast levels to the strongest.
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::text_block(rng);
  for (int level = -10; level <= max_level(); ++level) {
    BlockBytes payload, decoded;
    const Compressed compressed = compress_at(level, block, payload);
    ASSERT_EQ(compressed.encoding, Encoding::kZstd) << "level " << level;
    ASSERT_TRUE(
        decompress(Encoding::kZstd, std::span(payload.data(), compressed.size_bytes), decoded)
            .ok());
    EXPECT_EQ(decoded, block) << "level " << level;
  }
}

TEST(ZstdBlock, PayloadIsAStandardFrameOnceMagicAndHeaderAreRestored) {
  std::mt19937_64 rng(testing::test_seed());
  for (int level : {-5, 1, 3, 19}) {
    for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
      BlockBytes payload;
      const Compressed compressed = compress_at(level, bytes, payload);
      if (compressed.encoding != Encoding::kZstd) continue;
      SCOPED_TRACE(::testing::Message() << name << " at level " << level);

      // Layout: block header first (no magic, no frame header), check last.
      const size_t body_bytes = compressed.size_bytes - zstd_block::kCheckBytes;
      uint32_t check = 0;
      for (size_t i = 0; i < 4; ++i) {
        check |= std::to_integer<uint32_t>(payload[body_bytes + i]) << (8 * i);
      }
      EXPECT_EQ(check, static_cast<uint32_t>(fingerprint(bytes).low));
      EXPECT_EQ(check, block_check::of(bytes));

      // Magic + header + body is a frame that zstd's plain one-shot decoder reads back.
      std::vector<std::byte> frame(kMagic, kMagic + 4);
      frame.insert(frame.end(), zstd_block::kFrameHeader.begin(), zstd_block::kFrameHeader.end());
      frame.insert(frame.end(), payload.begin(),
                   payload.begin() + static_cast<ptrdiff_t>(body_bytes));
      EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size());
      BlockBytes decoded;
      const size_t size = ZSTD_decompress(decoded.data(), kBlockSize, frame.data(), frame.size());
      ASSERT_EQ(size, kBlockSize) << (ZSTD_isError(size) ? ZSTD_getErrorName(size) : "");
      EXPECT_EQ(decoded, bytes);
    }
  }
}

TEST(ZstdBlock, PerObjectOverheadIsSevenBytes) {
  // Against the same level's default frame, a payload is 3 bytes shorter: 10 bytes of magic,
  // frame header, content size and block header become 3 bytes of block header and 4 of check.
  std::mt19937_64 rng(testing::test_seed());
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  for (int level : {-1, 1, 3}) {
    ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)));
    const BlockBytes block = testing::text_block(rng);
    std::vector<std::byte> frame(ZSTD_compressBound(kBlockSize));
    const size_t default_size =
        ZSTD_compress2(cctx, frame.data(), frame.size(), block.data(), kBlockSize);
    ASSERT_FALSE(ZSTD_isError(default_size));
    BlockBytes payload;
    const Compressed compressed = compress_at(level, block, payload);
    ASSERT_EQ(compressed.encoding, Encoding::kZstd);
    EXPECT_EQ(compressed.size_bytes + 3, default_size) << "level " << level;
  }
  ZSTD_freeCCtx(cctx);
}

TEST(ZstdBlock, LevelIsSetOnlyWhenItChanges) {
  // On a fresh thread, so that the count starts from zero.
  std::thread([] {
    std::mt19937_64 rng(testing::test_seed());
    const BlockBytes block = testing::text_block(rng);
    BlockBytes out;
    EXPECT_EQ(zstd_block::thread_level_changes(), 0u);
    EXPECT_EQ(zstd_block::thread_context_bytes(), 0u);
    const std::vector<std::pair<int, uint64_t>> steps = {{1, 1}, {1, 1},  {1, 1},  {3, 2}, {3, 2},
                                                         {1, 3}, {-5, 4}, {-5, 4}, {1, 5}};
    for (const auto& [level, expected_changes] : steps) {
      (void)compress_at(level, block, out);
      EXPECT_EQ(zstd_block::thread_level_changes(), expected_changes) << "level " << level;
    }
    EXPECT_GT(zstd_block::thread_context_bytes(), 0u);
    // Decompression needs no compression context, and never changes the level.
    BlockBytes decoded;
    const Compressed compressed = compress_at(1, block, out);
    ASSERT_TRUE(
        decompress(compressed.encoding, std::span(out.data(), compressed.size_bytes), decoded)
            .ok());
    EXPECT_EQ(zstd_block::thread_level_changes(), 5u);
  }).join();
}

TEST(ZstdBlock, ReleasedContextsAreMadeAnewAndMakeTheSameFrames) {
  std::thread([] {
    std::mt19937_64 rng(testing::test_seed());
    const BlockBytes block = testing::text_block(rng);
    BlockBytes before, after, decoded;
    const Compressed first = compress_at(9, block, before);
    ASSERT_TRUE(
        decompress(first.encoding, std::span(before.data(), first.size_bytes), decoded).ok());
    EXPECT_GT(zstd_block::thread_context_bytes(), 0u);
    release_thread_contexts();
    EXPECT_EQ(zstd_block::thread_context_bytes(), 0u);
    // The level is set again on the new context: the same frame as before, and it decodes.
    const Compressed second = compress_at(9, block, after);
    ASSERT_EQ(second.size_bytes, first.size_bytes);
    EXPECT_EQ(std::memcmp(before.data(), after.data(), first.size_bytes), 0);
    release_thread_contexts();
    ASSERT_TRUE(
        decompress(second.encoding, std::span(after.data(), second.size_bytes), decoded).ok());
    EXPECT_EQ(decoded, block);
  }).join();
}

TEST(ZstdBlock, LimitsBelowTheSmallestPayloadNeverCallZstd) {
  std::thread([] {
    BlockBytes out;
    const BlockBytes zeros{};
    for (size_t limit = 0; limit <= zstd_block::kMinPayloadBytes; ++limit) {
      EXPECT_FALSE(zstd_block::encode(zeros, 1, limit, out).has_value()) << limit;
    }
    EXPECT_EQ(zstd_block::thread_context_bytes(), 0u);
    // zstd never makes a frame's first block an RLE block (old decoders rejected that), so even
    // zeros take a compressed block: a few bytes more than the theoretical minimum.
    const std::optional<size_t> size = zstd_block::encode(zeros, 1, kBlockSize, out);
    ASSERT_TRUE(size.has_value());
    EXPECT_GT(*size, zstd_block::kMinPayloadBytes);
    EXPECT_LE(*size, 16u);
    EXPECT_EQ(zstd_block::encode(zeros, 1, *size + 1, out), size);
    EXPECT_FALSE(zstd_block::encode(zeros, 1, *size, out).has_value());
  }).join();
}

}  // namespace
}  // namespace zsfs::codec
