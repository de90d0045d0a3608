// fingerprint(): XXH3-128 with seed 0, pinned by golden values so that any change (another hash,
// another seed, halves swapped) fails here rather than silently splitting the dedup index.
#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;

// The expected values come from the xxhsum tool (xxHash 0.8.1, `xxhsum -H2 FILE`), which prints
// the canonical form: high 64 bits, then low 64 bits.
TEST(Fingerprint, GoldenValues) {
  BlockBytes zeros{};
  EXPECT_EQ(fingerprint(zeros), (Fingerprint{0x93d76fe148c689baULL, 0x3ee8dc4f9e7ee495ULL}));

  BlockBytes mod251;
  for (size_t i = 0; i < kBlockSize; ++i)
    mod251[i] = static_cast<std::byte>(i % 251);
  EXPECT_EQ(fingerprint(mod251), (Fingerprint{0x7135ffa504f1bc71ULL, 0xe12cd72144990fe5ULL}));

  BlockBytes text;
  constexpr std::string_view kFox = "The quick brown fox jumps over the lazy dog.\n";
  for (size_t i = 0; i < kBlockSize; ++i)
    text[i] = static_cast<std::byte>(kFox[i % kFox.size()]);
  EXPECT_EQ(fingerprint(text), (Fingerprint{0x7cf6c0808074e4b7ULL, 0x4aedeff7a0624a60ULL}));

  // 0x0123456789abcdef stored little-endian, 512 times.
  BlockBytes word;
  static constexpr unsigned char kWordBytes[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
  for (size_t i = 0; i < kBlockSize; ++i)
    word[i] = static_cast<std::byte>(kWordBytes[i % 8]);
  EXPECT_EQ(fingerprint(word), (Fingerprint{0x97bf775f6f2ac337ULL, 0x1579a6aa5a593f1eULL}));
}

TEST(Fingerprint, DoesNotDependOnAlignment) {
  std::mt19937_64 rng(testing::test_seed());
  const BlockBytes block = testing::text_block(rng);
  const Fingerprint expected = fingerprint(block);
  std::vector<std::byte> buffer(kBlockSize + 64);
  for (size_t shift = 1; shift < 64; shift += 7) {
    std::copy(block.begin(), block.end(), buffer.begin() + static_cast<ptrdiff_t>(shift));
    EXPECT_EQ(fingerprint(Block(buffer.data() + shift, kBlockSize)), expected) << shift;
  }
}

TEST(Fingerprint, OneBitChangesIt) {
  std::mt19937_64 rng(testing::test_seed());
  BlockBytes block = testing::text_block(rng);
  const Fingerprint original = fingerprint(block);
  std::set<std::pair<uint64_t, uint64_t>> seen = {{original.low, original.high}};
  for (size_t bit = 0; bit < kBlockSize * 8; bit += 61) {
    block[bit / 8] ^= std::byte{1} << (bit % 8);
    const Fingerprint changed = fingerprint(block);
    EXPECT_TRUE(seen.insert({changed.low, changed.high}).second) << "bit " << bit;
    block[bit / 8] ^= std::byte{1} << (bit % 8);
  }
  EXPECT_EQ(fingerprint(block), original);
}

}  // namespace
}  // namespace zsfs::codec
