// MemoryBudget: the limit, the reserve and its scope, force charges, and the per-thread count of
// refusals.
#include "base/budget.h"

#include <thread>

#include <gtest/gtest.h>

namespace zsfs {
namespace {

TEST(MemoryBudget, ChargesStopAtTheLimitLessTheReserveOutsideAReserveScope) {
  MemoryBudget budget(1000, 100);
  EXPECT_TRUE(budget.try_charge(900));
  EXPECT_EQ(budget.available_bytes(), 0u);
  EXPECT_FALSE(budget.try_charge(1));
  {
    const MemoryBudget::ReserveScope reserve;
    EXPECT_TRUE(budget.try_charge(100));
    EXPECT_FALSE(budget.try_charge(1));  // the limit itself
  }
  EXPECT_EQ(budget.used_bytes(), 1000u);
  budget.force_charge(50);  // memory already taken: counted whatever the limit
  EXPECT_EQ(budget.used_bytes(), 1050u);
  EXPECT_EQ(budget.peak_bytes(), 1050u);
  budget.uncharge(1050);
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(budget.available_bytes(), 900u);
}

TEST(MemoryBudget, RefusalsAreCountedForTheThreadThatMetThem) {
  MemoryBudget budget(1000, 100);
  const uint64_t before = MemoryBudget::refusals_in_this_thread();
  EXPECT_TRUE(budget.try_charge(900));
  EXPECT_EQ(MemoryBudget::refusals_in_this_thread(), before);
  EXPECT_FALSE(budget.try_charge(1));
  EXPECT_FALSE(budget.try_charge(2000));
  EXPECT_EQ(MemoryBudget::refusals_in_this_thread(), before + 2);
  // Another thread's refusal is not this one's, and it starts from its own count.
  uint64_t other_before = 1;
  uint64_t other_after = 0;
  std::thread other([&] {
    other_before = MemoryBudget::refusals_in_this_thread();
    (void)budget.try_charge(1);
    other_after = MemoryBudget::refusals_in_this_thread();
  });
  other.join();
  EXPECT_EQ(other_before, 0u);
  EXPECT_EQ(other_after, 1u);
  EXPECT_EQ(MemoryBudget::refusals_in_this_thread(), before + 2);
  budget.uncharge(900);
}

}  // namespace
}  // namespace zsfs
