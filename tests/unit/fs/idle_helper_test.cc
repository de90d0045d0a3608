// IdleHelper: every item done exactly once whoever does it, the first error returned, small runs
// and concurrent callers served, and the helper never touching a run after it returned (run
// under ThreadSanitizer and AddressSanitizer: the work and its captures die with each run).
#include "fs/idle_helper.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::fs {
namespace {

TEST(IdleHelper, EveryItemOnceWhoeverDoesIt) {
  IdleHelper helper;
  for (size_t n : {size_t{0}, size_t{1}, IdleHelper::kMinItems - 1, IdleHelper::kMinItems,
                   size_t{64}, size_t{1000}}) {
    for (int round = 0; round < 50; ++round) {
      // On the heap and gone after the run: the helper must not touch it later.
      auto counts = std::make_unique<std::vector<std::atomic<int>>>(n);
      Status status = helper.run(n, [&](size_t i) {
        (*counts)[i].fetch_add(1);
        return Status{};
      });
      ASSERT_TRUE(status.ok());
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ((*counts)[i].load(), 1) << "item " << i << " of " << n;
    }
  }
}

TEST(IdleHelper, TheFirstErrorIsReturned) {
  IdleHelper helper;
  for (size_t n : {size_t{4}, size_t{64}}) {
    std::atomic<size_t> done{0};
    Status status = helper.run(n, [&](size_t i) -> Status {
      done.fetch_add(1);
      if (i == n / 2) return Errno{EIO};
      return {};
    });
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error(), EIO);
    EXPECT_GE(done.load(), n / 2 + 1);
  }
}

TEST(IdleHelper, ConcurrentCallersEachGetTheirItemsDone) {
  IdleHelper helper;
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        std::vector<int> out(32, -1);
        Status status = helper.run(out.size(), [&](size_t i) {
          out[i] = t * 1000 + static_cast<int>(i);
          return Status{};
        });
        if (!status.ok()) ++wrong;
        for (size_t i = 0; i < out.size(); ++i) {
          if (out[i] != t * 1000 + static_cast<int>(i)) ++wrong;
        }
      }
    });
  }
  for (std::thread& caller : callers)
    caller.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(IdleHelper, HelpsWhenACoreIsFree) {
  // Not a promise (a busy machine leaves the helper no CPU), but with slow items and a second
  // core the helper takes some of them: checked only where there are two cores.
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one CPU";
  IdleHelper helper;
  for (int attempt = 0; attempt < 200 && helper.helped() == 0; ++attempt) {
    Status status = helper.run(64, [](size_t) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (std::chrono::steady_clock::now() < until) {
      }
      return Status{};
    });
    ASSERT_TRUE(status.ok());
  }
  if (helper.helped() == 0) GTEST_SKIP() << "no idle core in 200 runs (a loaded machine)";
  EXPECT_GT(helper.helped(), 0u);
}

}  // namespace
}  // namespace zsfs::fs
