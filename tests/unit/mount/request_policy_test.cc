// The request loop's decisions: polling continues while polls find requests often enough, stops
// when they rarely do (probing now and then), and resumes when they find requests again; a
// second thread is asked for only after a run of requests found waiting, which one-way messages
// neither make nor break.
#include "mount/request_policy.h"

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

// Runs n rounds of "should I poll? here is the outcome" where polls hit with the given period
// (every hit_every-th poll hits; 0: never); returns how many rounds polled.
int polls(PollGovernor& governor, int n, int hit_every) {
  int polled = 0;
  for (int i = 0; i < n; ++i) {
    if (!governor.should_poll()) continue;
    ++polled;
    governor.record(hit_every > 0 && polled % hit_every == 0);
  }
  return polled;
}

TEST(PollGovernor, KeepsPollingWhilePollsFindRequests) {
  PollGovernor governor;
  EXPECT_EQ(polls(governor, 1000, 1), 1000);
  EXPECT_GT(governor.hit_rate(), 0.99);
  // One hit in two is well above the bar.
  EXPECT_EQ(polls(governor, 1000, 2), 1000);
}

TEST(PollGovernor, StopsWhenPollsRarelyFindAnythingAndProbes) {
  PollGovernor governor;
  (void)polls(governor, 100, 0);  // misses bring the rate down
  EXPECT_LT(governor.hit_rate(), PollGovernor::kMinHitRate);
  const int polled = polls(governor, 3200, 0);
  // Only the probes poll: one request in kProbeEvery.
  EXPECT_EQ(polled, 3200 / static_cast<int>(PollGovernor::kProbeEvery));
}

TEST(PollGovernor, ResumesWhenProbesHitAgain) {
  PollGovernor governor;
  (void)polls(governor, 200, 0);
  ASSERT_LT(governor.hit_rate(), PollGovernor::kMinHitRate);
  // Every probe hits from now on: polling comes back after a few of them.
  int rounds = 0;
  while (governor.hit_rate() < PollGovernor::kMinHitRate && rounds < 100000) {
    if (governor.should_poll()) governor.record(true);
    ++rounds;
  }
  EXPECT_GE(governor.hit_rate(), PollGovernor::kMinHitRate);
  EXPECT_LT(rounds, 20 * static_cast<int>(PollGovernor::kProbeEvery));
  EXPECT_TRUE(governor.should_poll());
}

TEST(PollGovernor, OneHitInFiveIsNotEnough) {
  PollGovernor governor;
  (void)polls(governor, 2000, 5);
  EXPECT_LT(governor.hit_rate(), PollGovernor::kMinHitRate);
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
