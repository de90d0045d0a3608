// BackgroundPacer (see background_pacer.h).
#include "fs/background_pacer.h"

#include <algorithm>
#include <utility>

namespace zsfs::fs {

BackgroundPacer::BackgroundPacer(const ForegroundMeter* meter, const PacerConfig& config,
                                 Hooks hooks)
    : meter_(meter), config_(config), hooks_(std::move(hooks)) {
  turn_began_ = hooks_.now();
  requests_at_turn_ = foreground_requests();
}

bool BackgroundPacer::busy_since(Clock::time_point since, uint64_t requests_then,
                                 Clock::time_point now, uint64_t requests_now) const {
  // Over a window of at least one poll: a piece of work that took microseconds must not make
  // one request look like thousands a second.
  const Clock::duration window = std::max<Clock::duration>(now - since, config_.poll);
  const double seconds = std::chrono::duration<double>(window).count();
  return static_cast<double>(requests_now - requests_then) >=
         config_.busy_requests_per_second * seconds;
}

bool BackgroundPacer::wait_turn(Clock::duration expected, Clock::duration quiet_for) {
  Clock::time_point now = hooks_.now();
  uint64_t requests = foreground_requests();
  const bool busy = busy_since(turn_began_, requests_at_turn_, now, requests);
  if (busy || quiet_for > Clock::duration::zero()) {
    // The average since the last turn hides bursts: a quiet stretch is timed from now.
    bool quiet = !busy;
    Clock::time_point quiet_from = now;
    const Clock::time_point began_waiting = now;
    // The waiting that pays for `expected` at busy_share: expected * (1 - share) / share.
    const double share = std::clamp(config_.busy_share, 0.001, 1.0);
    const auto owed = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(expected) * ((1 - share) / share));
    bool stop = false;
    for (;;) {
      if (!hooks_.sleep(config_.poll)) {
        stop = true;
        break;
      }
      const Clock::time_point polled = hooks_.now();
      const uint64_t requests_polled = foreground_requests();
      if (busy_since(now, requests, polled, requests_polled)) {
        quiet = false;
      } else if (!quiet) {
        quiet = true;
        quiet_from = now;
      }
      now = polled;
      requests = requests_polled;
      if (quiet && now - quiet_from >= quiet_for) break;
      if (now - began_waiting >= owed) break;
    }
    ++stats_.waits;
    stats_.waited_seconds += std::chrono::duration<double>(hooks_.now() - began_waiting).count();
    if (stop) return false;
  }
  ++stats_.turns;
  turn_began_ = now;
  requests_at_turn_ = requests;
  return true;
}

}  // namespace zsfs::fs
