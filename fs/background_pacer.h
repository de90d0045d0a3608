// BackgroundPacer: keeps the background's heavy work (the recompressor's batches and its
// dictionary trainings) out of the way of a foreground that is using the filesystem.
//
// Why: SCHED_IDLE decides who runs, not what running costs the others. On a machine of two cores,
// a SCHED_IDLE thread re-encoding at zstd level 15, or training a dictionary, slowed a stream of
// FUSE requests (file creation, one at a time) by 37 to 49%: each request wakes a thread on the
// core the background holds, which must be preempted first, and finds the caches full of the
// background's tables.
//
// How: the request layer counts every request into a ForegroundMeter. Before each piece of work,
// the background thread calls wait_turn(expected). When the foreground made fewer than
// busy_requests_per_second requests per second since the previous turn began (or over one poll,
// whichever is longer), the work runs at once. Otherwise the pacer sleeps a poll at a time, and
// the work runs as soon as one poll finds the foreground quiet, or once the time waited pays for
// `expected` at busy_share: under a foreground that never pauses, the background works about
// busy_share of the time, so that it still gets done and costs the foreground little. Work that
// cannot pause once begun (a training of seconds) can ask for a longer quiet stretch first.
//
// Thread safety: ForegroundMeter may be used from any thread (note() is one relaxed increment).
// A BackgroundPacer belongs to the one thread that does the background work.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace zsfs::fs {

// Foreground requests, counted as they arrive.
class ForegroundMeter {
 public:
  void note() noexcept { requests_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }

 private:
  // On a line of its own: every request thread writes it.
  alignas(64) std::atomic<uint64_t> requests_{0};
};

struct PacerConfig {
  // The rate at which the foreground counts as busy. Below it: a person's shell, or zsfsctl
  // polling the statistics (20 requests a second while it waits for a pass).
  double busy_requests_per_second = 200;
  // The share of the time background work may take while the foreground stays busy.
  double busy_share = 1.0 / 20;
  // How often a waiting pacer looks at the foreground again.
  std::chrono::milliseconds poll{20};
};

struct PacerStats {
  uint64_t turns = 0;  // pieces of work let through
  uint64_t waits = 0;  // of which waited for the foreground (to slow down, or to pause)
  double waited_seconds = 0;
};

class BackgroundPacer {
 public:
  using Clock = std::chrono::steady_clock;
  // The clock and the sleep, replaceable for tests. sleep(d) waits about d and returns false
  // when the work is to stop.
  struct Hooks {
    std::function<Clock::time_point()> now;
    std::function<bool(Clock::duration)> sleep;
  };

  // meter must outlive the pacer; null means no foreground is ever seen.
  BackgroundPacer(const ForegroundMeter* meter, const PacerConfig& config, Hooks hooks);

  // Returns true when work expected to take `expected` may begin, false when sleep() said to
  // stop first. With quiet_for, the work also waits for the foreground to be quiet that long
  // (work that cannot pause once begun waits for a pause, not for a gap between requests);
  // the share still lets it through in the end.
  bool wait_turn(Clock::duration expected, Clock::duration quiet_for = Clock::duration::zero());
  // The time since the last turn began: what the work took.
  Clock::duration since_turn() const { return hooks_.now() - turn_began_; }

  const PacerStats& stats() const { return stats_; }

 private:
  uint64_t foreground_requests() const { return meter_ != nullptr ? meter_->requests() : 0; }
  // Whether the foreground made requests at the busy rate since `since`, when it had made
  // `requests_then`.
  bool busy_since(Clock::time_point since, uint64_t requests_then, Clock::time_point now,
                  uint64_t requests_now) const;

  const ForegroundMeter* meter_;
  const PacerConfig config_;
  const Hooks hooks_;
  Clock::time_point turn_began_;
  uint64_t requests_at_turn_ = 0;
  PacerStats stats_;
};

}  // namespace zsfs::fs
