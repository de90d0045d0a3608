// Model-based randomized test of the pool: random allocate / write / read / free / compact steps
// checked against a reference std::map<Handle, std::vector<std::byte>>, with check_invariants()
// after every step.
//
// The seed is printed at the start of each run and in every failure message; set ZSFS_TEST_SEED
// to replay a run (each configuration adds its own offset to it).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pool/pool.h"
#include "pool_test_util.h"

namespace zsfs::pool {
namespace {

struct ModelConfig {
  const char* name;
  unsigned max_pages;
  uint64_t budget_bytes;
  int steps;
  uint64_t seed_offset;
};

class PoolModel {
 public:
  PoolModel(const ModelConfig& config, uint64_t seed)
      : config_(config),
        rng_(seed),
        budget_(config.budget_bytes),
        pool_(std::move(Pool::create(PoolConfig{config.max_pages}, &budget_)).value()) {}

  void run() {
    // Fewer steps under the sanitizers, which slow every step down: the thread sanitizer has
    // nothing to find in this single-threaded test.
    const int steps = testing::kThreadSanitized ? config_.steps / 4
                      : testing::kSanitized     ? config_.steps / 2
                                                : config_.steps;
    for (int step = 0; step < steps; ++step) {
      // The live count drifts toward a target that moves every 400 steps, so that the pool grows,
      // shrinks (fragmenting its zspages) and grows again.
      if (step % 400 == 0) target_live_ = std::uniform_int_distribution<size_t>(0, 1200)(rng_);
      this->step();
      if (::testing::Test::HasFatalFailure()) return;
      pool_->check_invariants();
      ASSERT_EQ(pool_->stats().objects, model_.size());
    }
    verify_all();
    for (const auto& [handle, bytes] : model_)
      pool_->free(handle);
    model_.clear();
    pool_->check_invariants();
    EXPECT_EQ(pool_->stats().pages_held, 0u);
    EXPECT_EQ(budget_.used_bytes(), pool_->metadata_bytes());
  }

 private:
  enum class Op { kAllocate, kFree, kRead, kWrite, kPatch, kCompact };

  Op pick_op() {
    const bool grow = model_.size() < target_live_;
    const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (roll < 2) return Op::kCompact;
    if (roll < 17) return Op::kRead;
    if (roll < 27) return Op::kWrite;
    if (roll < 37) return Op::kPatch;
    if (model_.empty()) return Op::kAllocate;
    // The rest: mostly allocations when growing, mostly frees when shrinking.
    return roll < (grow ? 82 : 52) ? Op::kAllocate : Op::kFree;
  }

  size_t pick_size() {
    const auto& classes = pool_->class_table().classes();
    switch (std::uniform_int_distribution<int>(0, 4)(rng_)) {
      case 0:  // anything
        return std::uniform_int_distribution<size_t>(1, kMaxObjectSize)(rng_);
      case 1:  // the sizes of compressed 4 KiB blocks
        return std::uniform_int_distribution<size_t>(300, 3000)(rng_);
      case 2: {  // exactly a class size
        const size_t i = std::uniform_int_distribution<size_t>(0, classes.size() - 1)(rng_);
        return classes[i].size_bytes;
      }
      case 3:  // small
        return std::uniform_int_distribution<size_t>(1, 80)(rng_);
      default:  // huge
        return std::uniform_int_distribution<size_t>(pool_->huge_class_size(),
                                                     kMaxObjectSize)(rng_);
    }
  }

  // A uniformly random live handle, by its position in live_.
  size_t pick_live_index() {
    return std::uniform_int_distribution<size_t>(0, live_.size() - 1)(rng_);
  }
  Handle pick_live() { return live_[pick_live_index()]; }

  std::vector<std::byte> random_bytes(size_t n) {
    std::vector<std::byte> bytes(n);
    for (auto& b : bytes)
      b = static_cast<std::byte>(rng_());
    return bytes;
  }

  void step() {
    switch (pick_op()) {
      case Op::kAllocate: {
        const size_t size = pick_size();
        const uint64_t objects_before = pool_->stats().objects;
        const uint64_t budget_before = budget_.used_bytes();
        Result<Handle> h = pool_->allocate(size);
        if (!h.ok()) {
          ASSERT_EQ(h.error(), ENOSPC) << "allocate(" << size << ")";
          ASSERT_EQ(budget_.used_bytes(), budget_before) << "a failed allocation charged";
          ASSERT_EQ(pool_->stats().objects, objects_before);
          ++refusals_;
          return;
        }
        ASSERT_EQ(model_.count(*h), 0u) << "live handle handed out twice";
        std::vector<std::byte> bytes = random_bytes(size);
        if (rng_() % 2 == 0) {
          pool_->write_bytes(*h, bytes);
        } else {
          WriteGuard guard = pool_->write(*h);
          ASSERT_EQ(guard.bytes().size(), size);
          std::copy(bytes.begin(), bytes.end(), guard.bytes().begin());
        }
        model_.emplace(*h, std::move(bytes));
        live_.push_back(*h);
        return;
      }
      case Op::kFree: {
        const size_t i = pick_live_index();
        const Handle h = live_[i];
        pool_->free(h);
        model_.erase(h);
        live_[i] = live_.back();
        live_.pop_back();
        return;
      }
      case Op::kRead: {
        if (model_.empty()) return;
        const Handle h = pick_live();
        const std::vector<std::byte>& expected = model_.at(h);
        ASSERT_EQ(pool_->object_size(h), expected.size());
        if (rng_() % 2 == 0) {
          std::vector<std::byte> actual(expected.size());
          pool_->read_bytes(h, actual);
          ASSERT_TRUE(actual == expected) << "read_bytes of " << h << " differs";
        } else {
          const ReadGuard guard = pool_->read(h);
          ASSERT_TRUE(std::equal(guard.bytes().begin(), guard.bytes().end(), expected.begin(),
                                 expected.end()))
              << "ReadGuard of " << h << " differs";
        }
        return;
      }
      case Op::kWrite: {
        if (model_.empty()) return;
        const Handle h = pick_live();
        std::vector<std::byte>& bytes = model_.at(h);
        bytes = random_bytes(bytes.size());
        pool_->write_bytes(h, bytes);
        return;
      }
      case Op::kPatch: {  // change a random range through a WriteGuard
        if (model_.empty()) return;
        const Handle h = pick_live();
        std::vector<std::byte>& bytes = model_.at(h);
        const size_t from = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng_);
        const size_t to = std::uniform_int_distribution<size_t>(from, bytes.size() - 1)(rng_);
        WriteGuard guard = pool_->write(h);
        ASSERT_TRUE(
            std::equal(guard.bytes().begin(), guard.bytes().end(), bytes.begin(), bytes.end()))
            << "WriteGuard of " << h << " shows other bytes";
        for (size_t i = from; i <= to; ++i) {
          bytes[i] = static_cast<std::byte>(rng_());
          guard.bytes()[i] = bytes[i];
        }
        return;
      }
      case Op::kCompact:
        pool_->compact();
        verify_all();
        return;
    }
  }

  void verify_all() {
    for (const auto& [handle, expected] : model_) {
      std::vector<std::byte> actual(expected.size());
      pool_->read_bytes(handle, actual);
      ASSERT_TRUE(actual == expected) << "object " << handle << " differs";
    }
  }

 public:
  uint64_t refusals_ = 0;

 private:
  const ModelConfig config_;
  std::mt19937_64 rng_;
  MemoryBudget budget_;
  std::unique_ptr<Pool> pool_;
  std::map<Handle, std::vector<std::byte>> model_;
  std::vector<Handle> live_;  // model_'s keys, for uniform picks
  size_t target_live_ = 0;
};

class PoolModelTest : public ::testing::TestWithParam<ModelConfig> {};

TEST_P(PoolModelTest, MatchesReferenceMap) {
  const ModelConfig& config = GetParam();
  const uint64_t seed = testing::test_seed(20240611) + config.seed_offset;
  // Printed up front too: a broken invariant aborts, and then no gtest message is shown.
  std::fprintf(stderr, "pool model %s: seed %llu (replay with ZSFS_TEST_SEED=%llu)\n", config.name,
               static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(seed - config.seed_offset));
  SCOPED_TRACE("seed " + std::to_string(seed) +
               ", replay with ZSFS_TEST_SEED=" + std::to_string(seed - config.seed_offset));
  PoolModel model(config, seed);
  model.run();
  if (config.budget_bytes < (uint64_t{1} << 30)) {
    EXPECT_GT(model.refusals_, 0u) << "the small budget was never reached";
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, PoolModelTest,
                         ::testing::Values(ModelConfig{"chain8", 8, uint64_t{1} << 30, 3000, 0},
                                           ModelConfig{"chain1", 1, uint64_t{1} << 30, 2000, 1},
                                           ModelConfig{"chain16", 16, uint64_t{1} << 30, 2000, 2},
                                           // 1 MiB: the pool keeps running into its budget.
                                           ModelConfig{"budget1m", 8, uint64_t{1} << 20, 3000, 3}),
                         [](const ::testing::TestParamInfo<ModelConfig>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace zsfs::pool
