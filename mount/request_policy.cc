// request_policy (see request_policy.h).
#include "mount/request_policy.h"

namespace zsfs::mount {

std::chrono::microseconds PollGovernor::window() const {
  for (size_t i = 0; i < kNumWindows; ++i) {
    if (hit_rate(i) >= kMinHitRate) return kWindows[i];
  }
  return std::chrono::microseconds(0);
}

void PollGovernor::record_gap(std::chrono::nanoseconds gap) {
  // rate += (caught - rate) / 16, in fixed point, for every window.
  for (size_t i = 0; i < kNumWindows; ++i) {
    const uint32_t caught = gap <= kWindows[i] ? kOne : 0;
    rates_[i] = rates_[i] - rates_[i] / 16 + caught / 16;
  }
}

bool BacklogDetector::next(bool found, bool one_way) {
  if (one_way) return false;  // neither a sign of concurrency nor of its end
  if (!found) {
    streak_ = 0;
    return false;
  }
  if (++streak_ < kStreak) return false;
  streak_ = 0;
  return true;
}

}  // namespace zsfs::mount
