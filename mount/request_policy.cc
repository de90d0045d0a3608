// request_policy (see request_policy.h).
#include "mount/request_policy.h"

namespace zsfs::mount {

bool PollGovernor::should_poll() {
  if (hit_rate() >= kMinHitRate) return true;
  if (++since_probe_ < kProbeEvery) return false;
  since_probe_ = 0;
  return true;
}

void PollGovernor::record(bool hit) {
  // rate += (outcome - rate) / 16, in fixed point.
  const uint32_t outcome = hit ? kOne : 0;
  rate_ = rate_ - rate_ / 16 + outcome / 16;
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
