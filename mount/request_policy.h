// request_policy: the request loop's decisions, apart from FUSE so that they can be tested
// alone: whether to poll for the next request (PollGovernor) and when requests queue up enough
// to wake a second thread (BacklogDetector). See request_loop.h for the loop that asks them.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace zsfs::mount {

// Decides, when no request is waiting after one was served, whether to poll for the next one
// before sleeping, and for how long.
//
// It learns from the gaps: the time from the moment the thread found nothing waiting to the
// arrival of the next request, whether a poll found it or it came while the thread slept (then
// the gap includes the wake-up). For each candidate window it keeps an exponentially weighted
// rate (weight 1/16 per gap) of gaps a poll of that length would have caught, and polls with the
// shortest window whose rate is at least kMinHitRate; when even the longest would catch fewer, it
// sleeps at once. A client that asks again within microseconds of each reply is caught by a
// short poll; one that works a few tens of microseconds between requests (tar between two files)
// by a longer one; one that pauses for longer costs no polling at all. Gaps are learned from
// sleeps too, so the governor notices when polling starts to pay again without probing.
//
// Measured on 2 cores (PVM, 14.7 us for the cheapest request) reading the settled Linux tree back
// with tar -c, page cache dropped: the gaps were 25% within 10 us, 63% within 20, 86% within 40
// and 96% within 80, so the governor polls 25 us. It took 8.27-10.39 s (8.52-9.05 in a second
// set) against 10.25-11.35 s for a 10 us window used while 1 poll in 4 or more hit (the governor
// before); polling always, whatever the gaps, 30 us 7.32 s, 50 us 8.54-8.72 s, 100 us 7.44 s.
// Untar and the metadata workload (W1, W7) were unchanged.
// Not thread-safe: one per request thread.
class PollGovernor {
 public:
  static constexpr size_t kNumWindows = 4;
  // The candidate windows, shortest first. Polling costs its window of CPU (system calls) when it
  // misses; a hit saves a sleep and a wake-up: 10 to 20 us of latency on the hosts measured, and
  // as much CPU in the scheduler, on the client's side as on this thread's.
  static constexpr std::array<std::chrono::microseconds, kNumWindows> kWindows = {
      std::chrono::microseconds(10), std::chrono::microseconds(25), std::chrono::microseconds(50),
      std::chrono::microseconds(100)};
  // A window is used only while it would have caught at least this share of the gaps: a miss
  // costs up to the whole window.
  static constexpr double kMinHitRate = 0.5;

  // How long to poll before sleeping now: zero for not at all.
  std::chrono::microseconds window() const;
  // The gap before the request that just arrived (see above).
  void record_gap(std::chrono::nanoseconds gap);
  // The share of recent gaps the window kWindows[i] would have caught.
  double hit_rate(size_t i) const { return static_cast<double>(rates_[i]) / kOne; }

 private:
  static constexpr uint32_t kOne = 1 << 16;  // fixed point
  // Optimistic: start polling with the shortest window.
  std::array<uint32_t, kNumWindows> rates_ = {kOne, kOne, kOne, kOne};
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
