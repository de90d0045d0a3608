// HeapTrimmer: decides when the daemon hands freed heap memory back to the system. StillSince:
// how long a figure has held still, which the compactor asks of the pool's pages too.
//
// Metadata (inodes, directories, block maps, the dedup store, the pool's handle tables) lives in
// malloc's arenas; freeing it leaves the pages resident until malloc_trim(). A trim walks every
// free chunk of every arena and madvises it, holding the arena locks meanwhile, so it must be
// rare: once per kReleasedBytes of metadata released, and once more when the metadata has shrunk
// and then held still for a quiet period (the tail of a large deletion would otherwise stay
// resident). Threads that end to give back their malloc caches (base/threads.h) leave free
// chunks behind too: once some have ended since the last trim, a quiet period brings one more.
// Quiet is judged by the clock, not by counting calls, so that it does not depend on how often the
// caller asks.
//
// Not thread-safe: the compactor thread alone uses it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace zsfs::fs {

// How long a watched figure has held still, by the clock.
class StillSince {
 public:
  using Clock = std::chrono::steady_clock;

  StillSince(uint64_t value, Clock::time_point now) : last_(value), since_(now) {}

  // Records value as of now; returns how long it has not changed.
  Clock::duration update(uint64_t value, Clock::time_point now) {
    if (value != last_) {
      last_ = value;
      since_ = now;
    }
    return now - since_;
  }

 private:
  uint64_t last_;
  Clock::time_point since_;  // when it last changed
};

class HeapTrimmer {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr uint64_t kReleasedBytes = 16 << 20;

  HeapTrimmer(uint64_t heap_bytes, Clock::duration quiet_period, Clock::time_point now)
      : quiet_period_(quiet_period),
        at_last_trim_(heap_bytes),
        heap_(heap_bytes, now),
        ends_(0, now) {}

  // Whether to trim now, the metadata being heap_bytes and thread_ends the count of threads
  // ended so far (base/threads.h); after true, the caller trims.
  bool should_trim(uint64_t heap_bytes, Clock::time_point now, uint64_t thread_ends = 0) {
    const bool heap_quiet = heap_.update(heap_bytes, now) >= quiet_period_;
    const bool quiet = ends_.update(thread_ends, now) >= quiet_period_ && heap_quiet;
    const bool settled = (heap_bytes < at_last_trim_ || thread_ends != ends_at_last_trim_) && quiet;
    if (heap_bytes + kReleasedBytes < at_last_trim_ || settled) {
      at_last_trim_ = heap_bytes;
      ends_at_last_trim_ = thread_ends;
      return true;
    }
    at_last_trim_ = std::max(at_last_trim_, heap_bytes);
    return false;
  }

 private:
  const Clock::duration quiet_period_;
  uint64_t at_last_trim_;  // the metadata at the last trim, or the most since
  uint64_t ends_at_last_trim_ = 0;
  StillSince heap_;  // the metadata, and how long it has held still
  StillSince ends_;  // the count of threads ended, and how long it has held still
};

}  // namespace zsfs::fs
