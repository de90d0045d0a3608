// same_filled_word() and fill_block(): every kind of repeated word is found and refilled exactly;
// a block that differs from a repeated word in a single byte, anywhere, is never taken for one.
#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;
using testing::word_block;

// Words of every byte pattern kind: zero, one byte repeated, one byte set at each position (which
// catches any mix-up of byte order or word boundaries), all bytes distinct, extremes, halves.
std::vector<uint64_t> interesting_words() {
  std::vector<uint64_t> words = {0,
                                 ~uint64_t{0},
                                 1,
                                 uint64_t{1} << 63,
                                 0x0123456789abcdefULL,
                                 0xefcdab8967452301ULL,
                                 0x00000000ffffffffULL,
                                 0xffffffff00000000ULL,
                                 0x0000ffff0000ffffULL,
                                 0x5555555555555555ULL,
                                 0xaaaaaaaaaaaaaaaaULL};
  for (unsigned byte = 0; byte < 256; byte += 17)
    words.push_back(0x0101010101010101ULL * byte);
  for (unsigned position = 0; position < 8; ++position) {
    words.push_back(uint64_t{0x5a} << (8 * position));
    words.push_back(~(uint64_t{0xff} << (8 * position)));
  }
  std::mt19937_64 rng(testing::test_seed());
  for (int i = 0; i < 32; ++i)
    words.push_back(rng());
  return words;
}

TEST(SameFilled, FindsEveryRepeatedWord) {
  for (uint64_t word : interesting_words()) {
    SCOPED_TRACE(::testing::Message() << std::hex << "word 0x" << word);
    const BlockBytes block = word_block(word);
    EXPECT_EQ(same_filled_word(block), word);
  }
}

TEST(SameFilled, FillBlockGivesTheBlockBack) {
  for (uint64_t word : interesting_words()) {
    SCOPED_TRACE(::testing::Message() << std::hex << "word 0x" << word);
    BlockBytes filled;
    filled.fill(std::byte{0xcc});
    fill_block(word, filled);
    EXPECT_EQ(filled, word_block(word));
    EXPECT_EQ(same_filled_word(filled), word);
  }
}

TEST(SameFilled, ShorterPeriodsAreRepeatedWordsToo) {
  // A byte, a 2-byte or a 4-byte pattern repeated is also one 8-byte word repeated.
  BlockBytes block;
  for (size_t i = 0; i < kBlockSize; ++i)
    block[i] = static_cast<std::byte>("abcd"[i % 4]);
  const std::optional<uint64_t> word = same_filled_word(block);
  ASSERT_TRUE(word.has_value());
  BlockBytes refilled;
  fill_block(*word, refilled);
  EXPECT_EQ(refilled, block);
}

TEST(SameFilled, LongerPeriodsAreNot) {
  std::mt19937_64 rng(testing::test_seed());
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(same_filled_word(testing::periodic_block(rng)).has_value());
  }
}

TEST(SameFilled, OneDifferentByteAnywhereIsNotSameFilled) {
  // Every position of the block, for a few words: start, middle and end are all covered, as are
  // the first and last word, which the implementation looks at first.
  for (uint64_t word : {uint64_t{0}, ~uint64_t{0}, uint64_t{0x0123456789abcdefULL}}) {
    BlockBytes block = word_block(word);
    for (size_t position = 0; position < kBlockSize; ++position) {
      const std::byte original = block[position];
      block[position] = original ^ std::byte{0x01};
      ASSERT_FALSE(same_filled_word(block).has_value())
          << std::hex << "word 0x" << word << std::dec << ", byte " << position;
      block[position] = original ^ std::byte{0x80};
      ASSERT_FALSE(same_filled_word(block).has_value())
          << std::hex << "word 0x" << word << std::dec << ", byte " << position;
      block[position] = original;
    }
    EXPECT_EQ(same_filled_word(block), word);
  }
}

TEST(SameFilled, OrdinaryBlocksAreNot) {
  std::mt19937_64 rng(testing::test_seed());
  for (const auto& [name, bytes] : testing::sample_blocks(rng)) {
    if (name == "zeros" || name == "word") continue;
    EXPECT_FALSE(same_filled_word(bytes).has_value()) << name;
  }
}

TEST(SameFilled, WorksOnUnalignedBlocks) {
  // A block handed over from a FUSE buffer need not be 8-byte aligned.
  std::vector<std::byte> buffer(kBlockSize + 8);
  for (size_t shift = 1; shift < 8; ++shift) {
    const BlockBytes expected = word_block(0x1122334455667788ULL);
    std::copy(expected.begin(), expected.end(), buffer.begin() + static_cast<ptrdiff_t>(shift));
    const Block block(buffer.data() + shift, kBlockSize);
    EXPECT_EQ(same_filled_word(block), 0x1122334455667788ULL) << "shift " << shift;

    const MutableBlock out(buffer.data() + shift, kBlockSize);
    fill_block(0x8877665544332211ULL, out);
    EXPECT_EQ(same_filled_word(block), 0x8877665544332211ULL) << "shift " << shift;
  }
}

}  // namespace
}  // namespace zsfs::codec
