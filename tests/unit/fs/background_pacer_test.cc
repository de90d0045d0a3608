// The pacer on a fake clock, against a foreground whose request rate the test sets over time:
// work goes at once while the foreground is quiet; while it is busy, the work waits until a poll
// finds it quiet or the time waited pays for the work at the share; a quiet stretch asked for is
// waited for, and a burst inside it starts it again; a stop ends the wait; and a request or two in
// a window too short to mean anything do not count as busy.
#include "fs/background_pacer.h"

#include <chrono>
#include <functional>
#include <utility>

#include <gtest/gtest.h>

namespace zsfs::fs {
namespace {

using Clock = BackgroundPacer::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A foreground on a clock that moves only when the pacer sleeps (or the test says so). rate(t)
// gives its requests per second at t since the start.
class FakeForeground {
 public:
  explicit FakeForeground(std::function<double(Clock::duration)> rate) : rate_(std::move(rate)) {}

  // Moves the clock on by d, a millisecond at a time, counting the requests made meanwhile.
  void advance(Clock::duration d) {
    for (Clock::duration step = milliseconds(1); d > Clock::duration::zero(); d -= step) {
      owed_ += rate_(now_ - start_) * 0.001;
      now_ += step;
      for (; owed_ >= 1; owed_ -= 1)
        meter_.note();
    }
  }

  BackgroundPacer make_pacer(const PacerConfig& config = PacerConfig{}) {
    return BackgroundPacer(&meter_, config,
                           BackgroundPacer::Hooks{[this] { return now_; },
                                                  [this](Clock::duration d) {
                                                    ++sleeps_;
                                                    advance(d);
                                                    return sleeps_ != stop_at_sleep_;
                                                  }});
  }

  Clock::duration elapsed() const { return now_ - start_; }
  int sleeps() const { return sleeps_; }
  void stop_at_sleep(int n) { stop_at_sleep_ = n; }

 private:
  std::function<double(Clock::duration)> rate_;
  ForegroundMeter meter_;
  const Clock::time_point start_{seconds(1000)};
  Clock::time_point now_ = start_;
  double owed_ = 0;
  int sleeps_ = 0;
  int stop_at_sleep_ = -1;
};

constexpr double kBusy = 10'000;  // requests per second: a stream of file creations

TEST(BackgroundPacerTest, AQuietForegroundLetsWorkGoAtOnce) {
  FakeForeground fg([](Clock::duration) { return 0.0; });
  BackgroundPacer pacer = fg.make_pacer();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(pacer.wait_turn(milliseconds(100)));
    fg.advance(milliseconds(100));  // the work
  }
  EXPECT_EQ(fg.sleeps(), 0);
  EXPECT_EQ(pacer.stats().turns, 10u);
  EXPECT_EQ(pacer.stats().waits, 0u);
}

TEST(BackgroundPacerTest, ABusyForegroundGivesTheWorkItsShareOfTheTime) {
  FakeForeground fg([](Clock::duration) { return kBusy; });
  PacerConfig config;
  config.busy_share = 1.0 / 20;
  BackgroundPacer pacer = fg.make_pacer(config);
  fg.advance(milliseconds(50));  // the foreground was busy before the first turn too
  const Clock::duration before = fg.elapsed();
  ASSERT_TRUE(pacer.wait_turn(milliseconds(100)));
  // 100 ms of work at a twentieth of the time: 1.9 s of waiting, in polls of 20 ms.
  const Clock::duration waited = fg.elapsed() - before;
  EXPECT_GE(waited, milliseconds(1900));
  EXPECT_LT(waited, milliseconds(1900) + config.poll);
  EXPECT_EQ(pacer.stats().waits, 1u);
  EXPECT_NEAR(pacer.stats().waited_seconds, 1.9, 0.021);

  // The work, then the next turn: the foreground made its requests during the work too.
  fg.advance(milliseconds(100));
  EXPECT_EQ(pacer.since_turn(), milliseconds(100));
  ASSERT_TRUE(pacer.wait_turn(milliseconds(100)));
  EXPECT_EQ(pacer.stats().waits, 2u);
}

TEST(BackgroundPacerTest, WorkGoesAtTheFirstPollThatFindsTheForegroundQuiet) {
  // Busy for the first 200 ms, then quiet.
  FakeForeground fg([](Clock::duration t) { return t < milliseconds(200) ? kBusy : 0.0; });
  BackgroundPacer pacer = fg.make_pacer();
  fg.advance(milliseconds(50));
  ASSERT_TRUE(pacer.wait_turn(seconds(10)));
  // Polls end at 70, 90, ..., 210 ms; the one ending at 230 ms is the first without requests.
  EXPECT_EQ(fg.elapsed(), milliseconds(230));
  EXPECT_EQ(pacer.stats().waits, 1u);
}

TEST(BackgroundPacerTest, AQuietStretchAskedForIsWaitedForAndABurstStartsItAgain) {
  FakeForeground quiet([](Clock::duration) { return 0.0; });
  BackgroundPacer pacer = quiet.make_pacer();
  ASSERT_TRUE(pacer.wait_turn(seconds(6), seconds(2)));
  EXPECT_EQ(quiet.elapsed(), seconds(2));

  // A burst from 1 s to 1.5 s: the stretch counts again from its end.
  FakeForeground bursty(
      [](Clock::duration t) { return t >= seconds(1) && t < milliseconds(1500) ? kBusy : 0.0; });
  BackgroundPacer bursty_pacer = bursty.make_pacer();
  ASSERT_TRUE(bursty_pacer.wait_turn(seconds(6), seconds(2)));
  EXPECT_GE(bursty.elapsed(), milliseconds(3500));
  EXPECT_LE(bursty.elapsed(), milliseconds(3540));
}

TEST(BackgroundPacerTest, ANeverQuietForegroundStillLetsAStretchedTurnThroughAtTheShare) {
  FakeForeground fg([](Clock::duration) { return kBusy; });
  PacerConfig config;
  config.busy_share = 1.0 / 4;
  BackgroundPacer pacer = fg.make_pacer(config);
  ASSERT_TRUE(pacer.wait_turn(seconds(1), seconds(2)));
  // 1 s of work at a quarter of the time: 3 s of waiting, not forever.
  EXPECT_GE(fg.elapsed(), seconds(3));
  EXPECT_LT(fg.elapsed(), seconds(3) + config.poll);
}

TEST(BackgroundPacerTest, AStopEndsTheWait) {
  FakeForeground fg([](Clock::duration) { return kBusy; });
  fg.stop_at_sleep(3);
  BackgroundPacer pacer = fg.make_pacer();
  fg.advance(milliseconds(50));
  EXPECT_FALSE(pacer.wait_turn(seconds(10)));
  EXPECT_EQ(fg.sleeps(), 3);
  EXPECT_EQ(pacer.stats().turns, 0u);
  EXPECT_EQ(pacer.stats().waits, 1u);
}

TEST(BackgroundPacerTest, AFewRequestsInAShortWorkAreNotABusyForeground) {
  // 1,000 requests a second, but the work between turns took 2 ms: 2 requests, judged over a
  // poll (20 ms), are 100 a second, under the 200 that make a foreground busy.
  FakeForeground fg([](Clock::duration) { return 1'000.0; });
  BackgroundPacer pacer = fg.make_pacer();
  ASSERT_TRUE(pacer.wait_turn(milliseconds(2)));
  fg.advance(milliseconds(2));
  ASSERT_TRUE(pacer.wait_turn(milliseconds(2)));
  EXPECT_EQ(pacer.stats().waits, 0u);
  // The same rate over a 100 ms piece of work is busy.
  fg.advance(milliseconds(100));
  ASSERT_TRUE(pacer.wait_turn(milliseconds(2)));
  EXPECT_EQ(pacer.stats().waits, 1u);
}

TEST(BackgroundPacerTest, WithoutAMeterNothingIsEverBusy) {
  BackgroundPacer pacer(nullptr, PacerConfig{},
                        BackgroundPacer::Hooks{[] { return Clock::now(); },
                                               [](Clock::duration) {
                                                 ADD_FAILURE() << "slept";
                                                 return true;
                                               }});
  EXPECT_TRUE(pacer.wait_turn(seconds(1)));
  EXPECT_EQ(pacer.stats().waits, 0u);
}

}  // namespace
}  // namespace zsfs::fs
