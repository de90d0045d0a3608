// Damaged payloads: every truncation, every single-bit flip of a few payloads, seeded random byte
// damage, trailing bytes, frames of the wrong length. decompress() must answer EIO or the exact
// original bytes: never a crash, never an out-of-bounds access (run under ASan), never wrong bytes
// reported as success.
//
// The tests also count how many damaged payloads zstd alone would have decoded to 4096 wrong bytes
// without an error: those are the ones only the payload's check catches, and the reason it exists.
#define ZSTD_STATIC_LINKING_ONLY

#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <zstd.h>

#include "codec/codec.h"
#include "codec/zstd_block.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;
using Payload = std::vector<std::byte>;

Payload compress_payload(const BlockBytes& block, int level) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  ZSFS_CHECK(compressor.ok());
  BlockBytes out;
  const Compressed compressed = compressor->compress(block, out);
  ZSFS_CHECK(compressed.encoding == Encoding::kZstd);
  return Payload(out.begin(), out.begin() + static_cast<ptrdiff_t>(compressed.size_bytes));
}

// What zstd by itself makes of a payload's frame, check ignored: true if it decodes to exactly
// 4096 bytes that differ from original.
bool zstd_alone_decodes_wrong_bytes(const Payload& payload, const BlockBytes& original) {
  if (payload.size() < zstd_block::kCheckBytes) return false;
  // The frame is the elided header followed by the payload less its check.
  const size_t body_bytes = payload.size() - zstd_block::kCheckBytes;
  Payload frame(zstd_block::kFrameHeader.size() + body_bytes);
  std::memcpy(frame.data(), zstd_block::kFrameHeader.data(), zstd_block::kFrameHeader.size());
  std::memcpy(frame.data() + zstd_block::kFrameHeader.size(), payload.data(), body_bytes);
  struct DCtxDeleter {
    void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
  };
  static const std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx = [] {
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> created(ZSTD_createDCtx());
    ZSTD_DCtx_setParameter(created.get(), ZSTD_d_format, ZSTD_f_zstd1_magicless);
    return created;
  }();
  BlockBytes decoded;
  const size_t size =
      ZSTD_decompressDCtx(dctx.get(), decoded.data(), kBlockSize, frame.data(), frame.size());
  return size == kBlockSize && decoded != original;
}

struct Outcomes {
  size_t errors = 0;
  size_t right_bytes = 0;
  size_t caught_by_check_only = 0;
};

// The one property every test here checks, returning which way it went.
void expect_error_or_original(const Payload& payload, const BlockBytes& original,
                              Outcomes& outcomes) {
  BlockBytes out;
  out.fill(std::byte{0xcc});
  const Status status = decompress(Encoding::kZstd, payload, out);
  if (status.ok()) {
    ASSERT_EQ(out, original) << "damaged payload decoded to wrong bytes, reported as success";
    ++outcomes.right_bytes;
  } else {
    ASSERT_EQ(status.error(), EIO);
    ++outcomes.errors;
    if (zstd_alone_decodes_wrong_bytes(payload, original)) ++outcomes.caught_by_check_only;
  }
}

struct Subject {
  std::string name;
  BlockBytes block;
  int level;
};

// A slice of this program's machine code that compresses at level: most slices do.
BlockBytes compressible_binary_block(std::mt19937_64& rng, int level) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  ZSFS_CHECK(compressor.ok());
  for (;;) {
    const BlockBytes block = testing::binary_block(rng);
    BlockBytes out;
    if (compressor->compress(block, out).encoding == Encoding::kZstd) return block;
  }
}

std::vector<Subject> subjects() {
  std::mt19937_64 rng(testing::test_seed());
  return {{"text", testing::text_block(rng), 1},
          {"text", testing::text_block(rng), 19},
          {"binary", compressible_binary_block(rng, 3), 3},
          {"sparse", testing::sparse_block(rng), -5},
          {"zeros", testing::word_block(0), 1}};
}

TEST(Corruption, EveryTruncationIsAnError) {
  for (const Subject& subject : subjects()) {
    const Payload payload = compress_payload(subject.block, subject.level);
    for (size_t length = 0; length < payload.size(); ++length) {
      BlockBytes out;
      const Status status = decompress(Encoding::kZstd, std::span(payload.data(), length), out);
      ASSERT_FALSE(status.ok()) << subject.name << ": truncated to " << length << " of "
                                << payload.size();
      EXPECT_EQ(status.error(), EIO);
    }
  }
}

TEST(Corruption, EverySingleBitFlipIsAnErrorOrHarmless) {
  for (const Subject& subject : subjects()) {
    SCOPED_TRACE(::testing::Message() << subject.name << " at level " << subject.level);
    Payload payload = compress_payload(subject.block, subject.level);
    Outcomes outcomes;
    for (size_t bit = 0; bit < payload.size() * 8; ++bit) {
      payload[bit / 8] ^= std::byte{1} << (bit % 8);
      ASSERT_NO_FATAL_FAILURE(expect_error_or_original(payload, subject.block, outcomes))
          << "bit " << bit;
      payload[bit / 8] ^= std::byte{1} << (bit % 8);
    }
    std::cout << subject.name << " at level " << subject.level << ": " << payload.size() * 8
              << " single-bit flips, " << outcomes.errors << " EIO, " << outcomes.right_bytes
              << " harmless; zstd alone would have returned wrong bytes for "
              << outcomes.caught_by_check_only << "\n";
  }
}

TEST(Corruption, RandomByteDamageIsAnErrorOrHarmless) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (const Subject& subject : subjects()) {
    SCOPED_TRACE(::testing::Message() << subject.name << " at level " << subject.level);
    const Payload original = compress_payload(subject.block, subject.level);
    Outcomes outcomes;
    for (int trial = 0; trial < 2000; ++trial) {
      Payload payload = original;
      // One to four bytes replaced by random values, in one place or scattered.
      const size_t damaged = 1 + rng() % 4;
      const size_t start = rng() % payload.size();
      for (size_t i = 0; i < damaged; ++i) {
        const size_t position =
            trial % 2 == 0 ? (start + i) % payload.size() : rng() % payload.size();
        payload[position] = static_cast<std::byte>(rng());
      }
      ASSERT_NO_FATAL_FAILURE(expect_error_or_original(payload, subject.block, outcomes))
          << "trial " << trial;
    }
  }
}

TEST(Corruption, TrailingBytesAreAnError) {
  std::mt19937_64 rng(testing::test_seed());
  for (const Subject& subject : subjects()) {
    const Payload payload = compress_payload(subject.block, subject.level);
    for (size_t extra = 1; extra <= 16; ++extra) {
      Payload longer = payload;
      for (size_t i = 0; i < extra; ++i)
        longer.push_back(static_cast<std::byte>(rng()));
      BlockBytes out;
      const Status status = decompress(Encoding::kZstd, longer, out);
      ASSERT_FALSE(status.ok()) << subject.name << " + " << extra << " bytes";
      EXPECT_EQ(status.error(), EIO);
    }
  }
}

// A payload made of a given frame body, with a check that matches `checked` so that only the
// frame's shape can be what decompress() objects to.
Payload handmade_payload(const Payload& body, const BlockBytes& checked) {
  Payload payload = body;
  const uint32_t check = block_check::of(checked);
  for (size_t i = 0; i < 4; ++i)
    payload.push_back(static_cast<std::byte>(check >> (8 * i)));
  return payload;
}

// A magicless frame holding content, made as a stream of unknown size so that zstd keeps the
// 4 KiB window (and so the header decompress() assumes) whatever the content's length.
Payload magicless_frame(std::span<const std::byte> content) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, zstd_block::kWindowLog);
  Payload frame(ZSTD_compressBound(content.size()) + 64);
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ZSTD_inBuffer in{content.data(), content.size(), 0};
  ZSFS_CHECK(!ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
  ZSFS_CHECK(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end) == 0);
  ZSTD_freeCCtx(cctx);
  frame.resize(out.pos);
  ZSFS_CHECK(
      std::equal(zstd_block::kFrameHeader.begin(), zstd_block::kFrameHeader.end(), frame.begin()));
  return frame;
}

// The same frame without its header, as a payload holds it.
Payload frame_body(std::span<const std::byte> content) {
  Payload frame = magicless_frame(content);
  frame.erase(frame.begin(), frame.begin() + 2);
  return frame;
}

TEST(Corruption, FramesOfTheWrongLengthAreAnError) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::text_block(rng);
  BlockBytes out;
  for (size_t length : {size_t{0}, size_t{1}, kBlockSize - 1, kBlockSize + 1, 2 * kBlockSize}) {
    std::vector<std::byte> source(length);
    for (size_t i = 0; i < length; ++i)
      source[i] = block[i % kBlockSize];
    const Payload payload = handmade_payload(frame_body(source), block);
    const Status status = decompress(Encoding::kZstd, payload, out);
    ASSERT_FALSE(status.ok()) << "frame of " << length << " bytes";
    EXPECT_EQ(status.error(), EIO);
  }
  // The same path with the right length succeeds: the handmade payloads are otherwise valid.
  ASSERT_TRUE(decompress(Encoding::kZstd,
                         handmade_payload(frame_body(std::span(block.data(), kBlockSize)), block),
                         out)
                  .ok());
  EXPECT_EQ(out, block);
}

TEST(Corruption, TwoFramesInOnePayloadAreAnError) {
  // Two halves, each a complete frame: together the right 4096 bytes and the right check, but
  // not the one frame a payload is.
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::text_block(rng);
  const std::span<const std::byte> all(block.data(), kBlockSize);
  Payload body = frame_body(all.first(kBlockSize / 2));
  Payload second = magicless_frame(all.last(kBlockSize / 2));
  body.insert(body.end(), second.begin(), second.end());
  BlockBytes out;
  const Status status = decompress(Encoding::kZstd, handmade_payload(body, block), out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), EIO);

  // Nor is a whole frame followed by an empty one.
  Payload whole = frame_body(all);
  Payload empty = magicless_frame({});
  whole.insert(whole.end(), empty.begin(), empty.end());
  const Status trailing = decompress(Encoding::kZstd, handmade_payload(whole, block), out);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error(), EIO);
}

TEST(Corruption, GarbageIsAnError) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 3000; ++trial) {
    Payload payload(rng() % 200);
    for (std::byte& b : payload)
      b = static_cast<std::byte>(rng());
    BlockBytes out;
    const Status status = decompress(Encoding::kZstd, payload, out);
    ASSERT_FALSE(status.ok()) << "trial " << trial;
    EXPECT_EQ(status.error(), EIO);
  }
}

}  // namespace
}  // namespace zsfs::codec
