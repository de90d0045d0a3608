// The recompressor over a real dedup store: a pass re-encodes due blocks and keeps only what
// takes a smaller pool object, settles every block once, trains a dictionary once enough data is
// due (and not before) and gives it to the blocks settled before it, honours the idle and huge
// filters, replaces a dictionary whose gain has decayed and frees one whose blocks are gone, and
// races writers and readers without a wrong byte or a broken count (run under ThreadSanitizer
// too).
#include "fs/recompressor.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fs/dedup_store.h"
#include "tests/unit/fs/dict_test_util.h"

namespace zsfs::fs {
namespace {

using testing::BlockBytes;
using testing::vocabulary_block;

BlockBytes random_block(uint64_t seed) {
  std::mt19937_64 rng(seed);
  BlockBytes b;
  for (size_t i = 0; i < b.size(); i += 8) {
    const uint64_t word = rng();
    std::memcpy(b.data() + i, &word, 8);
  }
  return b;
}

class RecompressorTest : public ::testing::Test {
 protected:
  // Small figures, so that a unit test reaches them: 1 MiB of due data trains a dictionary.
  static RecompressConfig test_config() {
    RecompressConfig config;
    config.level = 3;
    config.after.reset();  // requests only: the tests decide when a pass runs
    config.dict_size_bytes = 8 << 10;
    config.min_training_bytes = 1 << 20;
    config.gain_sample_every = 2;
    config.gain_window = 32;
    config.quiet_before_training = std::chrono::milliseconds(0);
    return config;
  }

  void SetUp() override { start(test_config()); }
  void TearDown() override { stop(); }

  void start(RecompressConfig config) {
    pool_ = std::move(*pool::Pool::create(pool::PoolConfig{}, &budget_));
    config.raw_threshold_bytes = pool_->huge_class_size();
    dicts_ = std::make_unique<DictionarySet>(&budget_, std::vector<int>{config.level});
    codec::CodecConfig primary;
    primary.algorithm = codec::Algorithm::kLz4;
    primary.raw_threshold_bytes = pool_->huge_class_size();
    store_ = std::make_unique<DedupStore>(pool_.get(), *codec::Compressor::create(primary), true,
                                          &budget_, dicts_.get());
    recompressor_ = std::make_unique<Recompressor>(store_.get(), dicts_.get(), &budget_, &quiesce_,
                                                   config, std::function<void()>(), &foreground_);
  }

  void stop() {
    recompressor_.reset();
    for (auto& [ref, block] : stored_)
      store_->unref(ref);
    stored_.clear();
    store_.reset();
    dicts_.reset();
    pool_.reset();
  }

  BlockRef put(const BlockBytes& block) {
    Result<BlockRef> ref = store_->put(block);
    EXPECT_TRUE(ref.ok());
    stored_.emplace_back(*ref, block);
    return *ref;
  }

  void run(RecompressRequest request = {}) {
    ASSERT_TRUE(recompressor_->request(request).ok());
    wait_idle();
  }

  // Waits until no pass is running or queued.
  void wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (!recompressor_->idle()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the pass never ended";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Restarts with no gain samples (the store's growth alone retrains), stores 400 blocks of one
  // kind and runs a pass: the first dictionary, whose slot it returns.
  DictSlot first_dictionary_without_gain_samples() {
    RecompressConfig config = test_config();
    config.gain_sample_every = 1u << 30;
    stop();
    start(config);
    for (uint64_t i = 0; i < 400; ++i)
      put(vocabulary_block(0, i));
    run();
    EXPECT_EQ(recompressor_->stats().trainings, 1u);
    return dicts_->current_slot();
  }

  // How many of the first `split` blocks stored, and of the others, name slot.
  std::pair<uint64_t, uint64_t> naming(DictSlot slot, size_t split) const {
    uint64_t before = 0;
    uint64_t after = 0;
    for (size_t i = 0; i < stored_.size(); ++i) {
      if (store_->info(stored_[i].first).dict == slot) ++(i < split ? before : after);
    }
    return {before, after};
  }

  void expect_every_block_intact() {
    for (const auto& [ref, block] : stored_) {
      BlockBytes out;
      ASSERT_TRUE(store_->read(ref, out).ok());
      ASSERT_EQ(out, block);
    }
    EXPECT_EQ(store_->check(), "");
  }

  MemoryBudget budget_{1ull << 30};
  RwLock quiesce_;
  std::unique_ptr<pool::Pool> pool_;
  std::unique_ptr<DictionarySet> dicts_;
  std::unique_ptr<DedupStore> store_;
  ForegroundMeter foreground_;
  std::unique_ptr<Recompressor> recompressor_;
  std::vector<std::pair<BlockRef, BlockBytes>> stored_;
};

TEST_F(RecompressorTest, APassReencodesEveryDueBlockOnceAndKeepsWhatIsSmaller) {
  for (uint64_t i = 0; i < 200; ++i)
    put(vocabulary_block(0, i));
  const StoreStats before = store_->stats();
  EXPECT_EQ(before.unsettled_blocks, 200u);
  EXPECT_EQ(before.by_encoding[static_cast<unsigned>(codec::Encoding::kLz4)].blocks, 200u);

  run();
  const StoreStats after = store_->stats();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(after.unsettled_blocks, 0u);
  EXPECT_EQ(r.tried, 200u);
  EXPECT_GT(r.kept, 150u);  // zstd at level 3 beats lz4 on text nearly always
  EXPECT_LT(r.bytes_after, r.bytes_before);
  EXPECT_EQ(after.by_encoding[static_cast<unsigned>(codec::Encoding::kZstd)].blocks, r.kept);
  EXPECT_LT(after.stored_bytes, before.stored_bytes);
  EXPECT_EQ(r.trainings, 0u);  // 800 KiB: too little to train on
  EXPECT_EQ(dicts_->live(), 0u);
  expect_every_block_intact();

  // Settled blocks are not looked at again.
  run();
  EXPECT_EQ(recompressor_->stats().tried, 200u);
  EXPECT_EQ(recompressor_->stats().requests_done, 2u);
}

TEST_F(RecompressorTest, TrainsADictionaryOnceEnoughIsDueAndBlocksNameIt) {
  for (uint64_t i = 0; i < 400; ++i)  // 1.6 MiB
    put(vocabulary_block(0, i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 1u);
  EXPECT_EQ(dicts_->live(), 1u);
  const DictSlot current = dicts_->current_slot();
  ASSERT_NE(current, kNoDict);
  uint64_t naming = 0;
  for (const auto& [ref, block] : stored_)
    naming += store_->info(ref).dict == current;
  EXPECT_EQ(naming, r.kept);
  EXPECT_GT(naming, 300u);
  EXPECT_GT(r.dict_gain_new, 0.05);  // measured on the samples compressed without it
  expect_every_block_intact();
  // The dictionary's memory is in the budget; deleting its blocks and retiring it returns it.
  const uint64_t dict_bytes = dicts_->memory_bytes();
  EXPECT_GT(dict_bytes, 0u);
  for (auto& [ref, block] : stored_)
    store_->unref(ref);
  stored_.clear();
  dicts_->retire_current_if_unused();
  EXPECT_EQ(dicts_->live(), 0u);
  EXPECT_EQ(dicts_->memory_bytes(), 0u);
}

TEST_F(RecompressorTest, BlocksSettledBeforeTheFirstDictionaryAreRedoneWithIt) {
  // Passes that keep up with the writes: each finds 800 KiB due, less than training needs.
  for (uint64_t i = 0; i < 200; ++i)
    put(vocabulary_block(0, i));
  run();
  ASSERT_EQ(recompressor_->stats().trainings, 0u);
  const uint64_t zstd = static_cast<unsigned>(codec::Encoding::kZstd);
  const uint64_t settled_alone = store_->stats().by_encoding[zstd].blocks;
  EXPECT_GT(settled_alone, 150u);
  for (uint64_t i = 200; i < 400; ++i)
    put(vocabulary_block(0, i));
  run();
  // The blocks settled alone count towards the training, and are redone with the dictionary.
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 1u);
  const DictSlot current = dicts_->current_slot();
  ASSERT_NE(current, kNoDict);
  const auto [early, late] = naming(current, 200);
  EXPECT_GT(early, 150u);
  EXPECT_GT(late, 150u);
  EXPECT_EQ(r.tried, 200u + 200u + 200u);  // the first 200 twice: alone, then in the sweep
  EXPECT_EQ(store_->stats().unsettled_blocks, 0u);
  expect_every_block_intact();
  // Once per dictionary: the next pass finds nothing to do.
  run();
  EXPECT_EQ(recompressor_->stats().tried, r.tried);
  EXPECT_EQ(recompressor_->stats().trainings, 1u);
}

TEST_F(RecompressorTest, TheFirstDictionaryWaitsForBlocksToBeDueAndIsTrainedOnTheWholeStore) {
  // An untar faster than recompress_after: enough is stored to train on (1.6 MiB), nothing is
  // due yet.
  for (uint64_t i = 0; i < 400; ++i)
    put(vocabulary_block(0, i));
  run(RecompressRequest{.idle = std::chrono::hours(1)});
  EXPECT_EQ(recompressor_->stats().trainings, 0u);
  EXPECT_EQ(recompressor_->stats().tried, 0u);
  EXPECT_EQ(dicts_->live(), 0u);
  // More is written; then the blocks come due: one dictionary, which both parts use.
  for (uint64_t i = 400; i < 800; ++i)
    put(vocabulary_block(0, i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 1u);
  EXPECT_EQ(r.tried, 800u);
  const DictSlot slot = dicts_->current_slot();
  ASSERT_NE(slot, kNoDict);
  const auto [early, late] = naming(slot, 400);
  EXPECT_GT(early, 300u);
  EXPECT_GT(late, 300u);
  expect_every_block_intact();
}

TEST_F(RecompressorTest, ADictionaryNoBlockTookIsRetiredAfterItsPass) {
  // Noise teaches a dictionary nothing and compresses no better with one.
  for (uint64_t i = 0; i < 400; ++i)
    put(random_block(i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.tried, 400u);
  EXPECT_EQ(r.trainings, 1u);
  EXPECT_EQ(r.kept, 0u);
  // A dictionary was trained, no block took it, and it is gone.
  EXPECT_EQ(dicts_->live(), 0u);
  EXPECT_EQ(dicts_->memory_bytes(), 0u);
  expect_every_block_intact();
}

TEST_F(RecompressorTest, AStoreThatGrewTrainsAgainAndTheSweepMovesItsBlocks) {
  const DictSlot first = first_dictionary_without_gain_samples();
  // Four times as much of another kind: a dictionary of the whole store does far better.
  for (uint64_t i = 0; i < 1200; ++i)
    put(vocabulary_block(1, i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 2u);
  EXPECT_EQ(r.trainings_discarded, 0u);
  const DictSlot second = dicts_->current_slot();
  ASSERT_NE(second, first);
  uint64_t on_second = 0;
  for (size_t i = 0; i < stored_.size(); ++i) {
    const DictSlot d = store_->info(stored_[i].first).dict;
    EXPECT_TRUE(d == first || d == second || d == kNoDict) << "block " << i;
    on_second += d == second;
  }
  EXPECT_GT(on_second, 1000u);
  // The sweep looked at every block settled before the new dictionary.
  EXPECT_EQ(r.tried, 400u + 1200u + 400u);
  expect_every_block_intact();
  run();
  EXPECT_EQ(recompressor_->stats().tried, r.tried);
  EXPECT_EQ(recompressor_->stats().trainings, 2u);
}

TEST_F(RecompressorTest, ADictionaryNoBetterThanTheCurrentOneIsDiscarded) {
  const DictSlot first = first_dictionary_without_gain_samples();
  const uint64_t tried = recompressor_->stats().tried;
  // The store doubles with noise, which teaches a dictionary nothing.
  for (uint64_t i = 0; i < 400; ++i)
    put(random_block(i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 1u);
  EXPECT_EQ(r.trainings_discarded, 1u);
  EXPECT_EQ(dicts_->current_slot(), first);
  EXPECT_EQ(dicts_->live(), 1u);
  EXPECT_EQ(r.tried, tried + 400u);  // the new blocks only: no sweep
  expect_every_block_intact();
}

TEST_F(RecompressorTest, APassEndsWithTheDictionaryAtRestAndTheNextOneWakesIt) {
  for (uint64_t i = 0; i < 400; ++i)
    put(vocabulary_block(0, i));
  run();
  const DictSlot slot = dicts_->current_slot();
  ASSERT_NE(slot, kNoDict);
  // Between passes the dictionary keeps what decoding needs, no compression form.
  const uint64_t resting = dicts_->memory_bytes();
  EXPECT_EQ(dicts_->pin_current().get()->cdict(3), nullptr);
  expect_every_block_intact();
  // New blocks: the next pass compresses them with the same dictionary, digested again for it.
  const uint64_t kept_before = recompressor_->stats().kept;
  std::vector<BlockRef> fresh;
  for (uint64_t i = 400; i < 500; ++i)
    fresh.push_back(put(vocabulary_block(0, i)));
  run();
  EXPECT_GT(recompressor_->stats().kept, kept_before + 50);
  uint64_t naming = 0;
  for (BlockRef ref : fresh)
    naming += store_->info(ref).dict == slot;
  EXPECT_GT(naming, 50u);
  EXPECT_EQ(dicts_->current_slot(), slot);
  EXPECT_EQ(dicts_->memory_bytes(), resting);
  expect_every_block_intact();
}

TEST_F(RecompressorTest, ATrainingWaitsWhileTheForegroundIsBusyAndGoesWhenItPauses) {
  RecompressConfig config = test_config();
  config.quiet_before_training = std::chrono::seconds(1);
  stop();
  start(config);
  for (uint64_t i = 0; i < 400; ++i)
    put(vocabulary_block(0, i));
  // A foreground of about 50,000 requests a second.
  std::atomic<bool> busy{true};
  std::thread foreground([&] {
    while (busy.load()) {
      for (int i = 0; i < 50; ++i)
        foreground_.note();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  ASSERT_TRUE(recompressor_->request({}).ok());
  // The pass begins with the training, which waits for a second of quiet (or, under a foreground
  // that never pauses, for 19 times the 8 s it is expected to take).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  RecompressorStats s = recompressor_->stats();
  EXPECT_TRUE(s.busy);
  EXPECT_EQ(s.trainings, 0u);
  EXPECT_EQ(s.tried, 0u);
  busy.store(false);
  foreground.join();
  wait_idle();
  s = recompressor_->stats();
  EXPECT_EQ(s.trainings, 1u);
  EXPECT_EQ(s.tried, 400u);
  EXPECT_GE(s.paced_waits, 1u);
  EXPECT_GE(s.paced_seconds, 2.0);  // 1.5 s busy, then 1 s quiet
  EXPECT_GT(s.last_training_seconds, 0.0);
}

TEST_F(RecompressorTest, IdleAndHugeFiltersChooseTheBlocks) {
  for (uint64_t i = 0; i < 50; ++i) {
    put(vocabulary_block(0, i));
    put(random_block(i));  // stays raw: a "huge" block
  }
  run(RecompressRequest{std::chrono::seconds(3600), false});  // nothing is an hour old
  EXPECT_EQ(recompressor_->stats().tried, 0u);
  run(RecompressRequest{std::chrono::seconds(0), true});
  EXPECT_EQ(recompressor_->stats().tried, 50u);  // the random blocks only
  EXPECT_EQ(recompressor_->stats().kept, 0u);    // random stays random
  EXPECT_EQ(store_->stats().unsettled_blocks, 50u);
  run();
  EXPECT_EQ(recompressor_->stats().tried, 100u);
  EXPECT_EQ(store_->stats().unsettled_blocks, 0u);
  expect_every_block_intact();
}

TEST_F(RecompressorTest, ADictionaryWhoseGainDecaysIsReplaced) {
  for (uint64_t i = 0; i < 400; ++i)
    put(vocabulary_block(0, i));
  run();
  ASSERT_EQ(recompressor_->stats().trainings, 1u);
  const DictSlot first = dicts_->current().slot();
  // Data of another kind: the first dictionary's gain collapses on it, and a new one is trained.
  for (uint64_t i = 0; i < 800; ++i)
    put(vocabulary_block(1, i));
  run();
  const RecompressorStats r = recompressor_->stats();
  EXPECT_EQ(r.trainings, 2u);
  EXPECT_NE(dicts_->current().slot(), first);
  EXPECT_EQ(dicts_->live(), 2u);
  expect_every_block_intact();
  // The first dictionary goes with the last block that uses it.
  for (auto it = stored_.begin(); it != stored_.end();) {
    if (store_->info(it->first).dict == first) {
      store_->unref(it->first);
      it = stored_.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_EQ(dicts_->live(), 1u);
  expect_every_block_intact();
}

TEST(Recompressor, RequestsAreRefusedWhenRecompressionIsOff) {
  MemoryBudget budget(64 << 20);
  auto pool = std::move(*pool::Pool::create(pool::PoolConfig{}, &budget));
  DictionarySet dicts(&budget, {3});
  DedupStore store(pool.get(), *codec::Compressor::create(codec::CodecConfig{}), true, &budget,
                   &dicts);
  RwLock quiesce;
  RecompressConfig config;
  config.enabled = false;
  Recompressor recompressor(&store, &dicts, &budget, &quiesce, config);
  Status status = recompressor.request({});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), EOPNOTSUPP);
  EXPECT_TRUE(recompressor.idle());
}

TEST_F(RecompressorTest, RacesWritersReadersAndDeletions) {
  for (uint64_t i = 0; i < 300; ++i)
    put(vocabulary_block(0, i));
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  // Readers of the blocks stored so far, while passes swap their payloads.
  std::vector<std::pair<BlockRef, BlockBytes>> fixed = stored_;
  std::thread reader([&] {
    while (!done) {
      for (const auto& [ref, block] : fixed) {
        BlockBytes out;
        if (!store_->read(ref, out).ok() || out != block) ++wrong;
      }
    }
  });
  // A writer that stores and drops blocks of both kinds, equal ones among them (dedup hits on
  // entries being re-encoded).
  std::thread writer([&] {
    for (uint64_t i = 0; i < 600 && wrong == 0; ++i) {
      const BlockBytes b = vocabulary_block(static_cast<int>(i % 2), i % 350);
      Result<BlockRef> ref = store_->put(b);
      if (!ref.ok()) {
        ++wrong;
        continue;
      }
      BlockBytes out;
      if (!store_->read(*ref, out).ok() || out != b) ++wrong;
      if (i % 3 != 0) {
        store_->unref(*ref);
      } else {
        stored_.emplace_back(*ref, b);  // only this thread touches stored_ until it is joined
      }
    }
  });
  for (int pass = 0; pass < 5; ++pass)
    run();
  writer.join();
  done = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0);
  run();
  EXPECT_EQ(store_->stats().unsettled_blocks, 0u);
  expect_every_block_intact();
}

}  // namespace
}  // namespace zsfs::fs
