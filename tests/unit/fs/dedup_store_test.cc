// The dedup store: same-filled interning, sharing after byte comparison, fingerprint
// collisions, reference counting down to a freed pool, the budget, corruption, and races.
#include "fs/dedup_store.h"

#include <array>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

using Block = std::array<std::byte, codec::kBlockSize>;

Block block_of(std::string_view s) {
  Block b{};
  std::memcpy(b.data(), s.data(), std::min(s.size(), b.size()));
  return b;
}

Block text(uint64_t seed) {
  return block_of(testing::text_block(seed));
}

codec::Fingerprint all_collide(codec::Block) {
  return {42, 42};
}

class DedupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reset(64 << 20, true); }

  void reset(uint64_t budget_bytes, bool dedup,
             DedupStore::FingerprintFn fingerprint = &codec::fingerprint,
             BackgroundConfig background = {}) {
    store_.reset();
    dicts_.reset();
    pool_.reset();
    budget_ = std::make_unique<MemoryBudget>(budget_bytes);
    pool_ = std::move(*pool::Pool::create(pool::PoolConfig{}, budget_.get()));
    dicts_ = std::make_unique<DictionarySet>(budget_.get(), std::vector<int>{codec::kDefaultLevel});
    codec::CodecConfig config;
    config.raw_threshold_bytes = pool_->huge_class_size();
    store_ = std::make_unique<DedupStore>(pool_.get(), *codec::Compressor::create(config), dedup,
                                          budget_.get(), dicts_.get(), background, fingerprint);
  }

  BlockRef put(const Block& b) {
    Result<BlockRef> ref = store_->put(b);
    EXPECT_TRUE(ref.ok());
    return ref.ok() ? *ref : kHole;
  }
  Block read(BlockRef ref) {
    Block out{};
    EXPECT_TRUE(store_->read(ref, out).ok());
    return out;
  }
  void expect_consistent() { EXPECT_EQ(store_->check(), ""); }

  std::unique_ptr<MemoryBudget> budget_;
  std::unique_ptr<pool::Pool> pool_;
  std::unique_ptr<DictionarySet> dicts_;
  std::unique_ptr<DedupStore> store_;
};

TEST_F(DedupStoreTest, SameFilledBlocksAreInternedWithoutPoolMemory) {
  Block zeros{};
  Block ones;
  ones.fill(std::byte{0xff});
  const BlockRef z1 = put(zeros);
  const BlockRef z2 = put(zeros);
  const BlockRef o = put(ones);
  EXPECT_EQ(z1, z2);
  EXPECT_NE(z1, o);
  EXPECT_EQ(store_->info(z1).refs, 2u);
  EXPECT_EQ(store_->info(z1).encoding, codec::Encoding::kSameFilled);
  EXPECT_EQ(pool_->stats().pages_held, 0u);
  EXPECT_EQ(read(o), ones);
  EXPECT_EQ(store_->stats().same_refs, 3u);
  EXPECT_EQ(store_->stats().same_entries, 2u);
  store_->unref(z1);
  store_->unref(z2);
  store_->unref(o);
  EXPECT_EQ(store_->stats().same_entries, 0u);
  expect_consistent();
}

TEST_F(DedupStoreTest, EqualBlocksShareOneObjectUntilTheLastReference) {
  const Block a = text(1);
  const BlockRef r1 = put(a);
  const BlockRef r2 = put(a);
  EXPECT_EQ(r1, r2);
  EXPECT_EQ(store_->info(r1).refs, 2u);
  EXPECT_EQ(store_->info(r1).encoding, codec::Encoding::kZstd);
  EXPECT_LT(store_->info(r1).stored_bytes, codec::kBlockSize);
  EXPECT_EQ(read(r1), a);
  EXPECT_TRUE(store_->try_ref(r1));
  EXPECT_EQ(store_->stats().stored_refs, 3u);
  store_->unref(r1);
  store_->unref(r1);
  EXPECT_GT(pool_->stats().objects, 0u);
  store_->unref(r1);
  EXPECT_EQ(pool_->stats().objects, 0u);
  EXPECT_EQ(pool_->stats().pages_held, 0u);
  EXPECT_EQ(store_->memory_bytes(), 0u);
  expect_consistent();
}

TEST_F(DedupStoreTest, IncompressibleBlocksAreKeptRaw) {
  const Block noise = block_of(testing::random_bytes(3, codec::kBlockSize));
  const BlockRef r = put(noise);
  EXPECT_EQ(store_->info(r).encoding, codec::Encoding::kRaw);
  EXPECT_EQ(store_->info(r).stored_bytes, codec::kBlockSize);
  EXPECT_EQ(store_->stats().raw_blocks, 1u);
  EXPECT_EQ(read(r), noise);
  store_->unref(r);
}

TEST_F(DedupStoreTest, WithoutDedupEqualBlocksAreStoredTwice) {
  reset(64 << 20, false);
  const Block a = text(1);
  const BlockRef r1 = put(a);
  const BlockRef r2 = put(a);
  EXPECT_NE(r1, r2);
  EXPECT_EQ(store_->stats().stored_blocks, 2u);
  store_->unref(r1);
  store_->unref(r2);
  expect_consistent();
}

TEST_F(DedupStoreTest, ColludingFingerprintsNeverShareDifferentBytes) {
  reset(64 << 20, true, &all_collide);
  std::vector<BlockRef> refs;
  for (uint64_t seed = 0; seed < 6; ++seed)
    refs.push_back(put(text(seed)));
  for (size_t i = 0; i < refs.size(); ++i) {
    for (size_t j = 0; j < i; ++j)
      EXPECT_NE(refs[i], refs[j]);
    EXPECT_EQ(read(refs[i]), text(i));
  }
  // An equal block is still found among its colliding twins (four candidates are compared).
  const BlockRef again = put(text(2));
  EXPECT_EQ(again, refs[2]);
  store_->unref(again);
  for (BlockRef r : refs)
    store_->unref(r);
  EXPECT_EQ(pool_->stats().objects, 0u);
  expect_consistent();
}

TEST_F(DedupStoreTest, CorruptStoredBytesReadAsEio) {
  const BlockRef r = put(text(9));
  const BlockInfo info = store_->info(r);
  std::vector<std::byte> garbage(info.stored_bytes, std::byte{0x5a});
  pool_->write_bytes(info.handle, garbage);
  Block out{};
  Status s = store_->read(r, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), EIO);
  store_->unref(r);
}

TEST_F(DedupStoreTest, BudgetRefusalIsEnospcAndLeaksNothing) {
  reset(64 * 1024, true);
  std::vector<BlockRef> refs;
  int error = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    Result<BlockRef> r = store_->put(block_of(testing::random_bytes(seed, codec::kBlockSize)));
    if (!r.ok()) {
      error = r.error();
      break;
    }
    refs.push_back(*r);
  }
  EXPECT_EQ(error, ENOSPC);
  EXPECT_FALSE(refs.empty());
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_EQ(read(refs[i]), block_of(testing::random_bytes(i, codec::kBlockSize)));
  }
  for (BlockRef r : refs)
    store_->unref(r);
  EXPECT_EQ(budget_->used_bytes(), 0u);
  expect_consistent();
}

TEST_F(DedupStoreTest, PreallocatedRefIsNotCounted) {
  EXPECT_TRUE(store_->try_ref(kUnwritten));
  store_->unref(kUnwritten);
  EXPECT_EQ(read(kUnwritten), Block{});
  EXPECT_EQ(store_->info(kUnwritten).refs, 0u);
}

TEST_F(DedupStoreTest, RacingWritersOfEqualBlocksEndUpSharing) {
  constexpr int kThreads = 4;
  constexpr uint64_t kBlocks = 64;
  std::vector<std::vector<BlockRef>> refs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kBlocks; ++i) {
        Result<BlockRef> r = store_->put(text(i));
        ASSERT_TRUE(r.ok());
        refs[static_cast<size_t>(t)].push_back(*r);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  // Equal blocks written at once may, rarely, be stored twice (each thread missed the other's
  // insert), but every reference reads back right and the counts add up.
  const StoreStats s = store_->stats();
  EXPECT_EQ(s.stored_refs, kThreads * kBlocks);
  EXPECT_GE(s.stored_blocks, kBlocks);
  EXPECT_LE(s.stored_blocks, kBlocks + 4);
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t i = 0; i < kBlocks; ++i) {
      EXPECT_EQ(read(refs[static_cast<size_t>(t)][i]), text(i));
    }
  }
  expect_consistent();
  for (auto& list : refs) {
    for (BlockRef r : list)
      store_->unref(r);
  }
  EXPECT_EQ(store_->stats().stored_blocks, 0u);
  EXPECT_EQ(budget_->used_bytes(), pool_->metadata_bytes());
}

TEST_F(DedupStoreTest, BackgroundCompressionSwapsPayloadsInPlace) {
  reset(64 << 20, true, &codec::fingerprint, BackgroundConfig{2, 64, std::nullopt});
  std::vector<BlockRef> refs;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    refs.push_back(put(text(seed)));
    // Readable at once, whether still raw or already compressed.
    EXPECT_EQ(read(refs.back()), text(seed));
  }
  // A block written again while its first copy may still be staged is shared.
  EXPECT_EQ(put(text(5)), refs[5]);
  store_->unref(refs[5]);
  store_->settle();
  const StoreStats s = store_->stats();
  EXPECT_EQ(s.staged_blocks, 0u);
  EXPECT_EQ(s.raw_blocks, 0u);
  EXPECT_EQ(s.stored_refs, 200u);  // the queue's references are gone
  EXPECT_LT(s.stored_bytes, 200u * codec::kBlockSize / 2);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    EXPECT_EQ(store_->info(refs[seed]).encoding, codec::Encoding::kZstd);
    EXPECT_EQ(read(refs[seed]), text(seed));
  }
  expect_consistent();
  for (BlockRef r : refs)
    store_->unref(r);
  store_->settle();
  EXPECT_EQ(pool_->stats().objects, 0u);
  EXPECT_EQ(budget_->used_bytes(), 0u);
}

TEST_F(DedupStoreTest, BackgroundDropsBlocksFreedBeforeTheirTurn) {
  reset(64 << 20, true, &codec::fingerprint, BackgroundConfig{1, 1000, std::nullopt});
  for (uint64_t seed = 0; seed < 500; ++seed)
    store_->unref(put(text(seed)));
  store_->settle();
  EXPECT_EQ(store_->stats().stored_blocks, 0u);
  EXPECT_EQ(pool_->stats().objects, 0u);
  expect_consistent();
}

TEST_F(DedupStoreTest, BackgroundRacesReadersAndWriters) {
  reset(256 << 20, true, &codec::fingerprint, BackgroundConfig{2, 32, std::nullopt});
  constexpr int kThreads = 3;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<BlockRef> mine;
      for (uint64_t i = 0; i < 300; ++i) {
        const uint64_t seed = i % 50 + static_cast<uint64_t>(t % 2) * 1000;
        mine.push_back(put(text(seed)));
        EXPECT_EQ(read(mine.back()), text(seed));
        if (i % 7 == 0) {
          store_->unref(mine.front());
          mine.erase(mine.begin());
        }
      }
      for (BlockRef r : mine)
        store_->unref(r);
    });
  }
  for (auto& th : threads)
    th.join();
  store_->settle();
  EXPECT_EQ(store_->stats().stored_blocks, 0u);
  EXPECT_EQ(budget_->used_bytes(), 0u);
  expect_consistent();
}

}  // namespace
}  // namespace zsfs::fs
