// IdleHelper: a second pair of hands for work that splits into independent items (the blocks of
// a large read), on a core that would otherwise idle.
//
// run(n, work) calls work(i) once for every i in [0, n), returning the first error. The calling
// thread works through the items itself from the start; a helper thread, woken when the run
// begins, takes items too, whichever comes next. The helper runs under SCHED_IDLE: it gets a CPU
// only when nothing else wants one, so on a busy machine the caller simply does all the work
// (having paid one wake-up), and where a core is free a read of many compressed blocks decodes on
// two. The caller never waits for the helper to start: at the end it withdraws the run and
// waits only for items the helper has already taken.
//
// One run at a time uses the helper; a caller that finds it busy does its items alone. Runs of
// fewer than kMinItems are done alone too: below that the wake-up costs more than it saves.
//
// Invariants: after run() returns, the helper no longer touches that run's work. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

#include "base/result.h"

namespace zsfs::fs {

class IdleHelper {
 public:
  // Fewer items than this are done by the caller alone. A 4 KiB zstd block decodes in about
  // 4.5 us, an lz4 one in 1.5 us; waking a thread costs 2 to 20 us depending on the host.
  static constexpr size_t kMinItems = 8;

  IdleHelper();
  ~IdleHelper();
  IdleHelper(const IdleHelper&) = delete;
  IdleHelper& operator=(const IdleHelper&) = delete;

  // Calls work(i) for each i in [0, n), on this thread and the helper's; the first error, or ok.
  // work must be safe to call from two threads at once for different items.
  Status run(size_t n, const std::function<Status(size_t)>& work);

  // Items the helper has done, ever (for tests and statistics).
  uint64_t helped() const { return helped_.load(std::memory_order_relaxed); }

 private:
  void serve();
  // Takes and does items of the current run until none is left; returns how many it did.
  size_t work_through();
  void note_error(int error);

  std::mutex run_mu_;  // one run at a time
  // The current run. Written by the caller before it is posted and read by the helper only
  // while it is counted in active_.
  const std::function<Status(size_t)>* work_ = nullptr;
  size_t items_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<int> error_{0};
  // Posting: posted_ says a run may be helped with; sequence_ changes for every run (the helper
  // waits on it); active_ counts the helper while it looks at a run.
  std::atomic<bool> posted_{false};
  std::atomic<uint32_t> sequence_{0};
  std::atomic<uint32_t> active_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> helped_{0};
  std::thread thread_;
};

}  // namespace zsfs::fs
