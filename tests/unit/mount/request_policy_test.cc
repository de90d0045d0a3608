// The request loop's decisions: the poll window follows the gaps between a reply and the next
// request (the shortest window that catches at least half of them; none when even the longest
// would not), and comes back when the gaps shorten again; a second thread is asked for only
// after a run of requests found waiting, which one-way messages neither make nor break.
#include "mount/request_policy.h"

#include <chrono>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

using std::chrono::microseconds;

// Records n gaps; gap(i) gives the i-th.
template <typename Gap>
void gaps(PollGovernor& governor, int n, Gap gap) {
  for (int i = 0; i < n; ++i)
    governor.record_gap(gap(i));
}

TEST(PollGovernor, StartsWithTheShortestWindow) {
  PollGovernor governor;
  EXPECT_EQ(governor.window(), PollGovernor::kWindows[0]);
}

TEST(PollGovernor, AClientThatAsksAgainAtOnceGetsTheShortestWindow) {
  PollGovernor governor;
  gaps(governor, 1000, [](int) { return microseconds(3); });
  EXPECT_EQ(governor.window(), microseconds(10));
  EXPECT_GT(governor.hit_rate(0), 0.99);
}

TEST(PollGovernor, LongerGapsGetTheWindowThatCatchesThem) {
  PollGovernor governor;
  gaps(governor, 1000, [](int) { return microseconds(20); });
  EXPECT_EQ(governor.window(), microseconds(25));
  gaps(governor, 1000, [](int) { return microseconds(30); });
  EXPECT_EQ(governor.window(), microseconds(50));
  gaps(governor, 1000, [](int) { return microseconds(100); });
  EXPECT_EQ(governor.window(), microseconds(100));
  EXPECT_LT(governor.hit_rate(2), 0.01);
}

TEST(PollGovernor, GapsLongerThanEveryWindowStopPolling) {
  PollGovernor governor;
  gaps(governor, 200, [](int) { return microseconds(1000); });
  EXPECT_EQ(governor.window(), microseconds(0));
  for (size_t i = 0; i < PollGovernor::kNumWindows; ++i)
    EXPECT_LT(governor.hit_rate(i), PollGovernor::kMinHitRate) << i;
}

TEST(PollGovernor, HalfTheGapsCaughtIsTheBar) {
  PollGovernor governor;
  // Three short gaps in five: the shortest window catches 60%.
  gaps(governor, 2000, [](int i) { return i % 5 < 3 ? microseconds(5) : microseconds(1000); });
  EXPECT_EQ(governor.window(), microseconds(10));
  // Two in five: no window catches half; polling would mostly burn its window.
  gaps(governor, 2000, [](int i) { return i % 5 < 2 ? microseconds(5) : microseconds(1000); });
  EXPECT_EQ(governor.window(), microseconds(0));
}

TEST(PollGovernor, PollingComesBackSoonAfterTheGapsShortenAgain) {
  PollGovernor governor;
  gaps(governor, 500, [](int) { return microseconds(5000); });
  ASSERT_EQ(governor.window(), microseconds(0));
  // The gaps are learned from sleeps too: no probe is needed, and a dozen short gaps will do.
  int n = 0;
  while (governor.window() == microseconds(0) && n < 1000) {
    governor.record_gap(microseconds(2));
    ++n;
  }
  EXPECT_EQ(governor.window(), microseconds(10));
  EXPECT_LE(n, 12);
}

TEST(BacklogDetector, AsksForASecondThreadAfterAStreakOfWaitingRequests) {
  BacklogDetector detector;
  for (uint32_t i = 1; i < BacklogDetector::kStreak; ++i)
    EXPECT_FALSE(detector.next(true, false)) << i;
  EXPECT_TRUE(detector.next(true, false));
  // And again only after a new streak.
  for (uint32_t i = 1; i < BacklogDetector::kStreak; ++i)
    EXPECT_FALSE(detector.next(true, false)) << i;
  EXPECT_TRUE(detector.next(true, false));
}

TEST(BacklogDetector, AnEmptyLookBreaksTheStreak) {
  BacklogDetector detector;
  for (int round = 0; round < 100; ++round) {
    for (uint32_t i = 1; i < BacklogDetector::kStreak; ++i)
      EXPECT_FALSE(detector.next(true, false));
    EXPECT_FALSE(detector.next(false, false));
  }
}

TEST(BacklogDetector, OneWayMessagesNeitherCountNorBreak) {
  BacklogDetector detector;
  // A burst of forgets (rm -rf sends them by the thousand) asks for nothing.
  for (int i = 0; i < 1000; ++i)
    EXPECT_FALSE(detector.next(true, true));
  for (uint32_t i = 1; i < BacklogDetector::kStreak; ++i) {
    EXPECT_FALSE(detector.next(true, false));
    EXPECT_FALSE(detector.next(true, true));
  }
  EXPECT_TRUE(detector.next(true, false));
}

}  // namespace
}  // namespace zsfs::mount
