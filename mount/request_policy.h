// request_policy: the request loop's decisions, apart from FUSE so that they can be tested
// alone: whether to poll for the next request (PollGovernor) and when requests queue up enough
// to wake a second thread (BacklogDetector). See request_loop.h for the loop that asks them.
#pragma once

#include <chrono>
#include <cstdint>

namespace zsfs::mount {

// Decides, after each request, whether to poll for the next one before sleeping.
//
// It keeps an exponentially weighted hit rate (weight 1/16 per poll) of polls that found a
// request within the window, and polls while the rate is at least kMinHitRate; below it, it
// still polls one request in kProbeEvery, so that it notices when polling starts to pay again.
// Not thread-safe: one per request thread.
class PollGovernor {
 public:
  // How long a poll lasts at most.
  static constexpr auto kWindow = std::chrono::microseconds(10);
  // Polling costs at most kWindow of CPU when it misses and saves a sleep and a wake-up (10 to
  // 20 us of latency on the hosts measured, and as much CPU in the scheduler) when it hits: it
  // pays from about one hit in three or four.
  static constexpr double kMinHitRate = 0.25;
  static constexpr uint32_t kProbeEvery = 32;

  // Whether to poll before sleeping now.
  bool should_poll();
  // The outcome of a poll that should_poll() allowed.
  void record(bool hit);
  double hit_rate() const { return static_cast<double>(rate_) / kOne; }

 private:
  static constexpr uint32_t kOne = 1 << 16;  // fixed point
  uint32_t rate_ = kOne;                     // optimistic: start polling
  uint32_t since_probe_ = 0;
};

// Counts requests found already waiting when the thread looked for the next one, and says when
// there have been enough in a row to wake a second thread.
class BacklogDetector {
 public:
  // Requests found waiting in a row before a second thread is woken.
  static constexpr uint32_t kStreak = 8;

  // The thread looked for the next request: found says whether one was waiting at once, and
  // one_way whether it is a message that needs no reply. Returns true when a second thread
  // should be woken.
  bool next(bool found, bool one_way);

 private:
  uint32_t streak_ = 0;
};

}  // namespace zsfs::mount
