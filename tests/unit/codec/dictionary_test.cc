// Dictionaries: training on sample blocks, digesting for the levels that use them, compressing
// against them (smaller than without, same frame header), and decoding: only with the very
// dictionary a block was made with; with none or another, EIO, never wrong bytes. Also the bad
// inputs: sizes out of range, too few samples, bytes zstd cannot load, levels out of range. And
// the search a large dictionary is digested with, against zstd's own choice.

// zstd's magicless format and ZSTD_createCDict_byReference, to compare with zstd's own digest.
#define ZSTD_STATIC_LINKING_ONLY

#include "codec/dictionary.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zstd.h>

#include "codec/codec.h"
#include "codec/zstd_block.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;

// Text-like blocks (one vocabulary, as a source tree has), n of them, one after another.
std::vector<std::byte> text_samples(std::mt19937_64& rng, size_t n) {
  std::vector<std::byte> samples;
  for (size_t i = 0; i < n; ++i) {
    const BlockBytes block = testing::text_block(rng);
    samples.insert(samples.end(), block.begin(), block.end());
  }
  return samples;
}

constexpr size_t kDictBytes = 16 << 10;

std::unique_ptr<Dictionary> trained(std::mt19937_64& rng, std::vector<int> levels = {3}) {
  Result<std::vector<std::byte>> bytes = train_dictionary(text_samples(rng, 512), kDictBytes, 3);
  ZSFS_CHECK(bytes.ok());
  Result<std::unique_ptr<Dictionary>> dict = Dictionary::create(*bytes, levels);
  ZSFS_CHECK(dict.ok());
  return std::move(*dict);
}

Compressor make_zstd(int level) {
  Result<Compressor> compressor = Compressor::create(CodecConfig{.level = level});
  ZSFS_CHECK(compressor.ok());
  return *compressor;
}

TEST(Dictionary, TrainsWithinTheSizeAskedAndHasAnId) {
  std::mt19937_64 rng(testing::test_seed());
  Result<std::vector<std::byte>> bytes = train_dictionary(text_samples(rng, 512), kDictBytes, 3);
  ASSERT_TRUE(bytes.ok());
  EXPECT_LE(bytes->size(), kDictBytes);
  EXPECT_GE(bytes->size(), kMinDictionaryBytes);
  Result<std::unique_ptr<Dictionary>> dict = Dictionary::create(*bytes, std::vector<int>{3});
  ASSERT_TRUE(dict.ok());
  EXPECT_NE((*dict)->dict_id(), 0u);
  EXPECT_TRUE(
      std::equal(bytes->begin(), bytes->end(), (*dict)->bytes().begin(), (*dict)->bytes().end()));
  // The content, the decompression form and one compression form.
  EXPECT_GT((*dict)->memory_bytes(), bytes->size());
}

TEST(Dictionary, IsDigestedForTheLevelsAskedOnly) {
  std::mt19937_64 rng(testing::test_seed());
  const auto dict = trained(rng, {1, 9, 9});
  EXPECT_NE(dict->cdict(1), nullptr);
  EXPECT_NE(dict->cdict(9), nullptr);
  EXPECT_EQ(dict->cdict(3), nullptr);
  EXPECT_NE(dict->ddict(), nullptr);
  // Each further level costs the memory of its compression form.
  EXPECT_GT(dict->memory_bytes(), trained(rng, {1})->memory_bytes());
}

TEST(Dictionary, DroppedCompressionFormsAreMadeAgainAndMakeTheSameFrames) {
  std::mt19937_64 rng(testing::test_seed());
  const auto dict = trained(rng, {3, 9});
  const Compressor compressor = make_zstd(9);
  const BlockBytes block = testing::text_block(rng);
  BlockBytes before, after;
  const Compressed first = compressor.compress(block, before, dict.get());
  const size_t whole = dict->memory_bytes();
  const size_t freed = dict->drop_compression_forms();
  EXPECT_EQ(dict->cdict(9), nullptr);
  EXPECT_EQ(dict->memory_bytes(), whole - freed);
  // Made apart (the dictionary unchanged until they are adopted), for a level named twice once.
  Result<Dictionary::Forms> forms = dict->make_compression_forms(std::vector<int>{3, 9, 9});
  ASSERT_TRUE(forms.ok());
  EXPECT_EQ(forms->bytes(), freed);
  EXPECT_EQ(dict->cdict(9), nullptr);
  EXPECT_EQ(dict->adopt_compression_forms(std::move(*forms)), freed);
  EXPECT_EQ(dict->memory_bytes(), whole);
  ASSERT_NE(dict->cdict(9), nullptr);
  const Compressed second = compressor.compress(block, after, dict.get());
  ASSERT_EQ(second.size_bytes, first.size_bytes);
  EXPECT_EQ(0, std::memcmp(before.data(), after.data(), first.size_bytes));
  // A level it has keeps its form (the new one is freed); one out of range is refused.
  Result<Dictionary::Forms> again = dict->make_compression_forms(std::vector<int>{9});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(dict->adopt_compression_forms(std::move(*again)), 0u);
  EXPECT_EQ(dict->memory_bytes(), whole);
  Result<Dictionary::Forms> bad =
      dict->make_compression_forms(std::vector<int>{1, max_level() + 1});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), EINVAL);
  EXPECT_EQ(dict->cdict(1), nullptr);
}

// Text from this repository's sources (the test's own tree): the .cc files under dir, in name
// order, end to end, up to bytes.
std::vector<std::byte> source_text(const std::string& dir, size_t bytes) {
  std::vector<std::filesystem::path> paths;
  // A path, not string concatenation: GCC 12's -Warray-bounds misreads the inlined operator+ for
  // some lengths of ZSFS_SOURCE_DIR (CI's checkout path failed the release build).
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::filesystem::path(ZSFS_SOURCE_DIR) / dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".cc") paths.push_back(entry);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::byte> text;
  for (const auto& path : paths) {
    std::vector<char> content(std::filesystem::file_size(path));
    std::ifstream file(path, std::ios::binary);
    file.read(content.data(), static_cast<std::streamsize>(content.size()));
    const size_t take = std::min(content.size(), bytes - text.size());
    for (size_t i = 0; i < take; ++i)
      text.push_back(static_cast<std::byte>(content[i]));
    if (text.size() == bytes) break;
  }
  return text;
}

// The frame bytes of each 4 KiB block of text compressed alone with cdict, by a context set as
// zstd_block.cc sets one.
size_t frame_bytes(const ZSTD_CDict* cdict, std::span<const std::byte> text) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_format, ZSTD_f_zstd1_magicless);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_dictIDFlag, 0);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, 12);
  ZSTD_CCtx_refCDict(cctx.get(), cdict);
  size_t total = 0;
  std::array<std::byte, 2 * kBlockSize> out;
  for (size_t at = 0; at + kBlockSize <= text.size(); at += kBlockSize) {
    const size_t n =
        ZSTD_compress2(cctx.get(), out.data(), out.size(), text.data() + at, kBlockSize);
    EXPECT_FALSE(ZSTD_isError(n));
    total += n;
  }
  return total;
}

// zstd digests a dictionary of more than 256 KiB with the parameters of its table for large
// inputs, whose search at level 15 is weaker than the one it uses below and whose tables are
// sized for megabytes; Dictionary keeps the stronger search for 4 KiB blocks and sizes the tables
// for the dictionary: smaller frames than zstd's own digest gives, in less memory.
TEST(Dictionary, ALargeDictionaryKeepsTheSearchOfASmallOne) {
  const std::vector<std::byte> content = source_text("tests", 512 << 10);  // no header: raw
  const std::vector<std::byte> blocks = source_text("fs", 256 << 10);
  ASSERT_EQ(content.size(), size_t{512} << 10);
  ASSERT_EQ(blocks.size(), size_t{256} << 10);
  const std::vector<int> levels{15};
  Result<std::unique_ptr<Dictionary>> ours = Dictionary::create(content, levels);
  ASSERT_TRUE(ours.ok());
  std::unique_ptr<ZSTD_CDict, size_t (*)(ZSTD_CDict*)> zstds(
      ZSTD_createCDict_byReference(content.data(), content.size(), 15), ZSTD_freeCDict);
  // Measured when written: 71,237 bytes against 74,439 (4.3% smaller).
  EXPECT_LT(frame_bytes((*ours)->cdict(15), blocks), frame_bytes(zstds.get(), blocks) * 99 / 100);
  // And in tables sized for the dictionary, not for megabytes of input: about half the memory.
  EXPECT_LT(ZSTD_sizeof_CDict((*ours)->cdict(15)), ZSTD_sizeof_CDict(zstds.get()) * 3 / 4);
}

TEST(Dictionary, CompressesSimilarBlocksSmallerAndRoundTrips) {
  std::mt19937_64 rng(testing::test_seed());
  for (int level : {1, 3, 9}) {
    const auto dict = trained(rng, {level});
    const Compressor compressor = make_zstd(level);
    size_t with = 0, without = 0;
    for (int i = 0; i < 32; ++i) {
      const BlockBytes block = testing::text_block(rng);
      BlockBytes a, b, decoded;
      const Compressed plain = compressor.compress(block, a);
      const Compressed using_dict = compressor.compress(block, b, dict.get());
      ASSERT_EQ(using_dict.encoding, Encoding::kZstd);
      // Same frame header with and without: it is not stored, so it must not differ.
      without += plain.size_bytes;
      with += using_dict.size_bytes;
      ASSERT_TRUE(decompress(Encoding::kZstd, std::span(b.data(), using_dict.size_bytes), decoded,
                             dict.get())
                      .ok());
      EXPECT_EQ(decoded, block);
    }
    // Measured on these blocks: 10% smaller at level 1, 20% at 3 and 9.
    EXPECT_LT(with, without * 19 / 20) << "level " << level;
  }
}

TEST(Dictionary, DecodingWithNoneOrAnotherIsEio) {
  std::mt19937_64 rng(testing::test_seed());
  const auto dict = trained(rng);
  const auto other = trained(rng);
  const Compressor compressor = make_zstd(3);
  int compressed_blocks = 0;
  for (int i = 0; i < 64; ++i) {
    const BlockBytes block = testing::text_block(rng);
    BlockBytes encoded, decoded;
    const Compressed c = compressor.compress(block, encoded, dict.get());
    if (c.encoding != Encoding::kZstd) continue;
    ++compressed_blocks;
    const std::span<const std::byte> payload(encoded.data(), c.size_bytes);
    for (const Dictionary* wrong : std::vector<const Dictionary*>{nullptr, other.get()}) {
      const Status status = decompress(Encoding::kZstd, payload, decoded, wrong);
      if (status.ok()) {
        // Only if the block never reached into the dictionary could it decode the same.
        EXPECT_EQ(decoded, block);
      } else {
        EXPECT_EQ(status.error(), EIO);
      }
    }
  }
  EXPECT_EQ(compressed_blocks, 64);
}

TEST(Dictionary, BlocksWithoutADictionaryStillDecodeWhenOneIsGiven) {
  // A dictionary-free payload names no dictionary: decoding it with one would read garbage
  // history, so the filesystem never does; the codec must still answer EIO or the block.
  std::mt19937_64 rng(testing::test_seed());
  const auto dict = trained(rng);
  const BlockBytes block = testing::text_block(rng);
  BlockBytes encoded, decoded;
  const Compressed c = make_zstd(3).compress(block, encoded);
  const Status status =
      decompress(Encoding::kZstd, std::span(encoded.data(), c.size_bytes), decoded, dict.get());
  if (status.ok()) {
    EXPECT_EQ(decoded, block);
  } else {
    EXPECT_EQ(status.error(), EIO);
  }
}

TEST(Dictionary, SharedByThreadsAtSeveralLevels) {
  std::mt19937_64 rng(testing::test_seed());
  const auto dict = trained(rng, {1, 3});
  std::vector<BlockBytes> blocks;
  for (int i = 0; i < 64; ++i)
    blocks.push_back(testing::text_block(rng));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Compressor compressor = make_zstd(t % 2 == 0 ? 1 : 3);
      for (int round = 0; round < 20; ++round) {
        for (const BlockBytes& block : blocks) {
          BlockBytes encoded, decoded;
          const Compressed c = compressor.compress(block, encoded, dict.get());
          const Status status =
              decompress(c.encoding, std::span(encoded.data(), c.size_bytes), decoded, dict.get());
          if (!status.ok() || decoded != block) ++failures;
          // Interleave plain blocks: the thread's contexts must drop the dictionary for them.
          const Compressed plain = compressor.compress(block, encoded);
          if (!decompress(plain.encoding, std::span(encoded.data(), plain.size_bytes), decoded)
                   .ok() ||
              decoded != block) {
            ++failures;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Dictionary, BadInputsAreRefused) {
  std::mt19937_64 rng(testing::test_seed());
  const std::vector<std::byte> samples = text_samples(rng, 512);
  // Sizes out of range, a sample buffer that is not whole blocks, a level out of range.
  for (size_t size : {size_t{0}, kMinDictionaryBytes - 1, kMaxDictionaryBytes + 1}) {
    Result<std::vector<std::byte>> bytes = train_dictionary(samples, size, 3);
    ASSERT_FALSE(bytes.ok()) << size;
    EXPECT_EQ(bytes.error(), EINVAL);
  }
  EXPECT_EQ(train_dictionary(std::span(samples).first(samples.size() - 1), kDictBytes, 3).error(),
            EINVAL);
  EXPECT_EQ(train_dictionary(samples, kDictBytes, max_level() + 1).error(), EINVAL);
  // Too few samples to train a dictionary of this size.
  EXPECT_EQ(train_dictionary(std::span(samples).first(2 * kBlockSize), kDictBytes, 3).error(),
            EINVAL);

  Result<std::vector<std::byte>> bytes = train_dictionary(samples, kDictBytes, 3);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(Dictionary::create(*bytes, std::vector<int>{max_level() + 1}).error(), EINVAL);
  EXPECT_EQ(
      Dictionary::create(std::span(*bytes).first(kMinDictionaryBytes - 1), std::vector<int>{3})
          .error(),
      EINVAL);
  // A header whose entropy tables are damaged: zstd refuses to load it.
  std::vector<std::byte> damaged = *bytes;
  std::fill(damaged.begin() + 8, damaged.begin() + 64, std::byte{0xff});
  EXPECT_EQ(Dictionary::create(damaged, std::vector<int>{3}).error(), EINVAL);
}

}  // namespace
}  // namespace zsfs::codec
