// HeapTrimmer: when the daemon gives freed metadata back with malloc_trim().
#include "fs/heap_trimmer.h"

#include <chrono>

#include <gtest/gtest.h>

namespace zsfs::fs {
namespace {

using Clock = HeapTrimmer::Clock;
using std::chrono::milliseconds;
constexpr uint64_t kMiB = 1 << 20;
constexpr auto kQuiet = std::chrono::seconds(1);

TEST(HeapTrimmer, NeverWhileTheMetadataGrowsOrHoldsStill) {
  Clock::time_point t{};
  HeapTrimmer trimmer(0, kQuiet, t);
  for (uint64_t mib = 1; mib <= 100; ++mib) {
    t += milliseconds(500);
    EXPECT_FALSE(trimmer.should_trim(mib * kMiB, t)) << mib;
  }
  for (int i = 0; i < 10; ++i) {
    t += std::chrono::seconds(5);
    EXPECT_FALSE(trimmer.should_trim(100 * kMiB, t));
  }
}

TEST(HeapTrimmer, OncePerSixteenMiBReleased) {
  Clock::time_point t{};
  HeapTrimmer trimmer(100 * kMiB, kQuiet, t);
  int trims = 0;
  // A deletion releasing 1 MiB every 100 ms: never quiet, so only the released amount counts.
  for (uint64_t mib = 99; mib >= 20; --mib) {
    t += milliseconds(100);
    if (trimmer.should_trim(mib * kMiB, t)) ++trims;
  }
  // 80 MiB released, a trim each time more than 16 MiB went since the last: at 83, 66, 49, 32.
  EXPECT_EQ(trims, 4);
}

TEST(HeapTrimmer, OnceMoreWhenADeletionSettles) {
  Clock::time_point t{};
  HeapTrimmer trimmer(10 * kMiB, kQuiet, t);
  t += milliseconds(100);
  EXPECT_FALSE(trimmer.should_trim(7 * kMiB, t));  // 3 MiB released: not yet
  // Woken again and again within the quiet period (every deletion wakes the compactor): no trim.
  for (int i = 0; i < 9; ++i) {
    t += milliseconds(100);
    EXPECT_FALSE(trimmer.should_trim(7 * kMiB, t)) << i;
  }
  t += milliseconds(100);
  EXPECT_TRUE(trimmer.should_trim(7 * kMiB, t));  // quiet for a period: trim once
  for (int i = 0; i < 20; ++i) {
    t += milliseconds(500);
    EXPECT_FALSE(trimmer.should_trim(7 * kMiB, t)) << i;  // and only once
  }
}

TEST(HeapTrimmer, ManyWakeUpsDuringAStopAndGoDeletionStayRare) {
  // Deletions that free a little, pause briefly, and free again, with a wake-up after each: the
  // clock, not the count of wake-ups, decides what is quiet.
  Clock::time_point t{};
  HeapTrimmer trimmer(64 * kMiB, kQuiet, t);
  int trims = 0;
  uint64_t heap = 64 * kMiB;
  for (int i = 0; i < 10000; ++i) {
    t += milliseconds(1);
    if (i % 2 == 0) heap -= 4096;
    if (trimmer.should_trim(heap, t)) ++trims;
  }
  // 20 MiB released in 10 s: one trim for the first 16 MiB and none for waiting.
  EXPECT_EQ(trims, 1);
}

// Threads that end to give back their malloc caches leave free chunks in the arenas: once the
// count of them has moved since the last trim and then held still for a quiet period, one trim,
// however still the metadata was meanwhile.
TEST(HeapTrimmer, OnceMoreWhenThreadsHaveEndedAndAllIsQuiet) {
  Clock::time_point t{};
  HeapTrimmer trimmer(10 * kMiB, kQuiet, t);
  uint64_t ends = 0;
  for (int i = 0; i < 20; ++i) {
    t += milliseconds(500);
    EXPECT_FALSE(trimmer.should_trim(10 * kMiB, t, ends)) << i;  // nothing ended, nothing freed
  }
  ends = 3;
  t += milliseconds(500);
  EXPECT_FALSE(trimmer.should_trim(10 * kMiB, t, ends));  // just ended: not yet
  // Ending again and again (a pass a second) keeps it from being quiet.
  for (int i = 0; i < 10; ++i) {
    t += milliseconds(500);
    if (i % 2 == 0) ++ends;
    EXPECT_FALSE(trimmer.should_trim(10 * kMiB, t, ends)) << i;
  }
  t += milliseconds(400);  // the last end was 900 ms ago
  EXPECT_FALSE(trimmer.should_trim(10 * kMiB, t, ends));
  t += milliseconds(200);
  EXPECT_TRUE(trimmer.should_trim(10 * kMiB, t, ends));  // quiet for a period: trim once
  for (int i = 0; i < 10; ++i) {
    t += milliseconds(500);
    EXPECT_FALSE(trimmer.should_trim(10 * kMiB, t, ends)) << i;  // and only once
  }
}

}  // namespace
}  // namespace zsfs::fs
