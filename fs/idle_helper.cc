// IdleHelper (see idle_helper.h).
//
// The hand-over, with sequentially consistent atomics: the caller sets the run's fields, sets
// posted_, bumps sequence_ and wakes the helper. The helper counts itself in active_ and only then
// looks at posted_; the caller, done with its own items, clears posted_ and then waits for active_
// to be 0. So either the helper sees posted_ cleared and leaves the run alone, or the caller sees
// the helper counted and waits for it: the helper never reads a run its caller has left.
#include "fs/idle_helper.h"

#include <sched.h>

#include "base/threads.h"

namespace zsfs::fs {

IdleHelper::IdleHelper() : thread_([this] { serve(); }) {}

IdleHelper::~IdleHelper() {
  stopping_.store(true);
  sequence_.fetch_add(1);
  sequence_.notify_one();
  thread_.join();
}

Status IdleHelper::run(size_t n, const std::function<Status(size_t)>& work) {
  std::unique_lock lock(run_mu_, std::defer_lock);
  if (n < kMinItems || !lock.try_lock()) {
    for (size_t i = 0; i < n; ++i) {
      Status status = work(i);
      if (!status.ok()) return status;
    }
    return {};
  }
  work_ = &work;
  items_ = n;
  next_.store(0);
  error_.store(0);
  posted_.store(true);
  sequence_.fetch_add(1);
  sequence_.notify_one();

  work_through();

  posted_.store(false);
  for (uint32_t active = active_.load(); active != 0; active = active_.load())
    active_.wait(active);
  work_ = nullptr;
  const int error = error_.load();
  return error == 0 ? Status{} : Status(Errno{error});
}

size_t IdleHelper::work_through() {
  size_t done = 0;
  for (size_t i = next_.fetch_add(1); i < items_; i = next_.fetch_add(1), ++done) {
    Status status = (*work_)(i);
    if (!status.ok()) note_error(status.error());
  }
  return done;
}

void IdleHelper::note_error(int error) {
  int none = 0;
  error_.compare_exchange_strong(none, error);
}

void IdleHelper::serve() {
  name_this_thread("zsfs-helper");
  sched_param param{};
  // Best effort: without SCHED_IDLE the helper competes for a CPU like any thread, which only
  // makes it help more often.
  (void)sched_setscheduler(0, SCHED_IDLE, &param);
  // From the sequence's first value: a run posted, or a stop asked for, before this thread got
  // to run is still seen.
  uint32_t seen = 0;
  for (;;) {
    const uint32_t now = sequence_.load();
    if (now == seen) {
      sequence_.wait(seen);
      continue;
    }
    seen = now;
    if (stopping_.load()) return;
    active_.fetch_add(1);
    if (posted_.load()) helped_.fetch_add(work_through(), std::memory_order_relaxed);
    active_.fetch_sub(1);
    active_.notify_all();
  }
}

}  // namespace zsfs::fs
