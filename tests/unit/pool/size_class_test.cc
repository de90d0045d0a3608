// Tests of the size-class table (pool/size_class.h): class lookup, chain choice against an
// independent brute force, merging, and the huge-class threshold for several chain limits.
#include "pool/size_class.h"

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"

namespace zsfs::pool {
namespace {

constexpr size_t kPage = 4096;

// Brute force, written apart from the library: the chain length whose zspage wastes the smallest
// fraction of itself, i.e. minimal waste(i)/i compared exactly as waste(i) * j < waste(j) * i;
// ties keep the shorter chain.
unsigned brute_chain_pages(size_t size, unsigned max_pages) {
  unsigned best = 1;
  uint64_t best_waste = kPage % size;
  for (unsigned i = 2; i <= max_pages; ++i) {
    const uint64_t waste = (i * kPage) % size;
    if (waste * best < best_waste * i) {
      best = i;
      best_waste = waste;
    }
  }
  return best;
}

// (pages, objects) of the unmerged class of the given size.
std::pair<unsigned, unsigned> brute_shape(size_t size, unsigned max_pages) {
  const unsigned pages = brute_chain_pages(size, max_pages);
  return {pages, static_cast<unsigned>(pages * kPage / size)};
}

class SizeClassTableTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(SizeClassTableTest, ClassesAreSortedAlignedAndIndexed) {
  const SizeClassTable table(GetParam());
  const auto& classes = table.classes();
  ASSERT_FALSE(classes.empty());
  EXPECT_EQ(classes.back().size_bytes, 4096u);
  for (size_t i = 0; i < classes.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(classes[i].index, i);
    EXPECT_EQ(classes[i].size_bytes % 16, 0u);
    EXPECT_GE(classes[i].size_bytes, 32u);
    if (i > 0) {
      EXPECT_GT(classes[i].size_bytes, classes[i - 1].size_bytes);
    }
    EXPECT_GE(classes[i].pages_per_zspage, 1u);
    EXPECT_LE(classes[i].pages_per_zspage, GetParam());
    EXPECT_EQ(classes[i].objects_per_zspage,
              classes[i].pages_per_zspage * kPage / classes[i].size_bytes);
    EXPECT_EQ(classes[i].huge,
              classes[i].pages_per_zspage == 1 && classes[i].objects_per_zspage == 1);
  }
}

TEST_P(SizeClassTableTest, EverySizeMapsToTheSmallestClassThatFits) {
  const SizeClassTable table(GetParam());
  const auto& classes = table.classes();
  for (size_t size = 1; size <= 4096; ++size) {
    const SizeClass& c = table.class_for_size(size);
    ASSERT_GE(c.size_bytes, size) << "size " << size;
    if (c.index > 0) {
      ASSERT_LT(classes[c.index - 1].size_bytes, size) << "size " << size;
    }
    ASSERT_EQ(&c, &classes[c.index]);
  }
}

TEST_P(SizeClassTableTest, ChainChoiceMatchesBruteForce) {
  const unsigned max_pages = GetParam();
  const SizeClassTable table(max_pages);
  for (const SizeClass& c : table.classes()) {
    SCOPED_TRACE(c.size_bytes);
    EXPECT_EQ(c.pages_per_zspage, brute_chain_pages(c.size_bytes, max_pages));
    EXPECT_EQ(zspage_chain_pages(c.size_bytes, max_pages), c.pages_per_zspage);
  }
}

TEST_P(SizeClassTableTest, MergesExactlyTheKernelSizesWithTheSameShape) {
  const unsigned max_pages = GetParam();
  const SizeClassTable table(max_pages);
  // Each of the kernel's 255 sizes is served by the class that merged it: same shape, and every
  // kernel size between it and that class also has that shape.
  for (size_t size = 32; size <= 4096; size += 16) {
    const SizeClass& c = table.class_for_size(size);
    SCOPED_TRACE(size);
    EXPECT_EQ(brute_shape(size, max_pages),
              std::make_pair(c.pages_per_zspage, c.objects_per_zspage));
  }
  // Merging is maximal: neighbouring merged classes differ in shape.
  const auto& classes = table.classes();
  for (size_t i = 1; i < classes.size(); ++i) {
    EXPECT_NE(std::make_pair(classes[i - 1].pages_per_zspage, classes[i - 1].objects_per_zspage),
              std::make_pair(classes[i].pages_per_zspage, classes[i].objects_per_zspage))
        << "classes " << classes[i - 1].size_bytes << " and " << classes[i].size_bytes;
  }
}

TEST_P(SizeClassTableTest, HugeThresholdIsWhereOnlyHugeClassesRemain) {
  const unsigned max_pages = GetParam();
  const SizeClassTable table(max_pages);
  // Brute force: the smallest size from which every kernel size is served one object per page.
  size_t expected = 4096;
  for (size_t size = 4096; size >= 32; size -= 16) {
    if (brute_shape(size, max_pages) != std::make_pair(1u, 1u)) break;
    expected = size - 15;  // sizes size-15 .. size share this class
  }
  EXPECT_EQ(table.huge_class_size(), expected);
  for (size_t size = 1; size <= 4096; ++size) {
    ASSERT_EQ(table.class_for_size(size).huge, size >= table.huge_class_size()) << "size " << size;
  }
  // The huge sizes all merge into the one 4096-byte class.
  size_t nr_huge = 0;
  for (const SizeClass& c : table.classes())
    nr_huge += c.huge ? 1 : 0;
  EXPECT_EQ(nr_huge, 1u);
}

INSTANTIATE_TEST_SUITE_P(ChainLimits, SizeClassTableTest,
                         ::testing::Values(1u, 2u, 3u, 4u, 5u, 8u, 12u, 16u));

TEST(SizeClassTable, HugeThresholdsOfTheUsualChainLimits) {
  // Pinned so that a change of the chain rule shows up here. With the kernel's default chain of 8
  // the largest non-huge class is 3632 bytes, the value zram reports as huge_class_size.
  EXPECT_EQ(SizeClassTable(1).huge_class_size(), 2049u);
  EXPECT_EQ(SizeClassTable(4).huge_class_size(), 3265u);
  EXPECT_EQ(SizeClassTable(8).huge_class_size(), 3633u);
  EXPECT_EQ(SizeClassTable(16).huge_class_size(), 3841u);
}

TEST(SizeClassTable, ChainOfOneMergesSizesWithTheSameObjectCount) {
  // With one page per zspage the shape is 4096 / size objects, which falls with the size: the
  // classes are the runs of sizes that share a value.
  const SizeClassTable table(1);
  std::vector<unsigned> distinct;
  for (size_t size = 32; size <= 4096; size += 16) {
    const auto objects = static_cast<unsigned>(4096 / size);
    if (distinct.empty() || distinct.back() != objects) distinct.push_back(objects);
  }
  EXPECT_EQ(table.classes().size(), distinct.size());
}

TEST(SizeClassTable, PowerOfTwoSizesUseOnePage) {
  for (unsigned max_pages : {1u, 8u, 16u}) {
    for (size_t size = 32; size <= 4096; size *= 2) {
      EXPECT_EQ(zspage_chain_pages(size, max_pages), 1u) << size;
    }
  }
}

TEST(SizeClassTableDeathTest, ChainLimitOutOfRange) {
  EXPECT_DEATH(SizeClassTable(0), "chain limit out of range");
  EXPECT_DEATH(SizeClassTable(17), "chain limit out of range");
}

TEST(SizeClassTableDeathTest, SizeOutOfRange) {
  const SizeClassTable table(8);
  EXPECT_DEATH((void)table.class_for_size(0), "object size out of range");
  EXPECT_DEATH((void)table.class_for_size(4097), "object size out of range");
}

}  // namespace
}  // namespace zsfs::pool
