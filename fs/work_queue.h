// WorkQueue: a bounded queue of block references and the threads that work through it.
//
// The dedup store uses it to compress blocks in the background: a write stores a block raw,
// queues it, and returns; a worker thread compresses it later. The queue is bounded so that the
// raw blocks waiting can never take much memory: when it is full, try_push() refuses and the
// caller does the work itself, at once.
//
// The workers run under SCHED_IDLE: they get a CPU only when nothing else wants it, so a block
// goes to the background only as far as a core is idle; on a busy machine the queue fills and
// writers do their own work, as if there were no background. Waking a sleeping worker is a
// system call, which on some hosts costs as much as compressing a block: a push wakes a worker
// when the queue was empty (the start of a burst) and when kWakeBatch items wait; a woken worker
// waits up to kWakePeriod for the batch to fill before it starts, so a burst costs two wake-ups,
// not one per block.
//
// Workers come and go with the work: a push that finds no worker awake starts one (up to the
// number asked for), and a worker that has found nothing to do for kRetireAfter ends. Ending is
// what gives glibc's per-thread cache of freed chunks back (see base/threads.h); an idle
// mount has no worker at all. Starting one costs tens of microseconds, once per burst.
//
// Workers take items in batches to keep the lock out of the way. The destructor finishes every
// item queued, then joins the workers. Thread-safe; mu_ guards everything but the constants.
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "base/threads.h"
#include "fs/block_map.h"

namespace zsfs::fs {

class WorkQueue {
 public:
  using Work = std::function<void(BlockRef)>;
  using Hook = std::function<void()>;

  // Up to threads >= 1 workers call work(ref) for every ref pushed; at most capacity refs wait.
  // A worker that finds nothing queued calls before_sleep() (if given) before it sleeps, outside
  // the queue's lock: where it gives back what it holds only while working.
  WorkQueue(unsigned threads, size_t capacity, Work work, Hook before_sleep = {})
      : max_workers_(threads),
        capacity_(capacity),
        work_(std::move(work)),
        before_sleep_(std::move(before_sleep)) {}

  ~WorkQueue() {
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      workers.swap(workers_);
    }
    wake_workers_.notify_all();
    for (std::thread& t : workers)
      t.join();
  }

  // A worker that has waited this long without work ends.
  static constexpr auto kRetireAfter = std::chrono::seconds(1);

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues ref; false (nothing queued) when the queue is full.
  bool try_push(BlockRef ref) {
    std::unique_lock lock(mu_);
    if (queue_.size() >= capacity_) return false;
    queue_.push_back(ref);
    if (queue_.size() != 1 && queue_.size() != kWakeBatch) return true;
    if (sleeping_ > 0 || running() >= max_workers_) {
      lock.unlock();
      wake_workers_.notify_one();
      return true;
    }
    start_worker(lock);
    return true;
  }

  // Workers running now (for tests).
  size_t workers() const {
    std::lock_guard lock(mu_);
    return running();
  }

  // Waits until every ref queued before the call has been worked on.
  void drain() {
    std::unique_lock lock(mu_);
    // No worker (none could be started): the caller does the work.
    while (!queue_.empty() && running() == 0) {
      const BlockRef ref = queue_.front();
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      work_(ref);
      lock.lock();
      --busy_;
    }
    ++drainers_;  // no waiting for a batch to fill
    if (!queue_.empty()) wake_workers_.notify_all();
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
    --drainers_;
  }

  size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size() + busy_;
  }

 private:
  // Up to this many refs are taken per visit to the lock.
  static constexpr size_t kBatch = 32;
  // A push wakes a worker when this many refs wait (see above)...
  static constexpr size_t kWakeBatch = 32;
  // ...and a worker waits this long for a batch to fill: what a short write leaves in the queue
  // waits at most this long, plus the wait for an idle core.
  static constexpr auto kWakePeriod = std::chrono::milliseconds(2);

  static void lower_priority() {
    sched_param param{};
    // Best effort: without it the worker competes with requests as any thread does.
    (void)sched_setscheduler(0, SCHED_IDLE, &param);
  }

  // Workers started and not yet returned from run(); mu_ held.
  size_t running() const { return workers_.size() - ended_.size(); }

  // Starts a worker; lock holds mu_ and is released. Workers that have ended are joined first
  // (they are past their last use of the queue). When no thread can be had, the items wait
  // for a running worker, or for drain(), which then does them itself.
  void start_worker(std::unique_lock<std::mutex>& lock) {
    std::vector<std::thread> ended;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (std::find(ended_.begin(), ended_.end(), it->get_id()) != ended_.end()) {
        ended.push_back(std::move(*it));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    ended_.clear();
    try {
      workers_.emplace_back([this] {
        lower_priority();
        run();
      });
      name_thread(workers_.back(), "zsfs-encode");
    } catch (const std::system_error&) {
      // No thread now: a later push tries again.
    }
    lock.unlock();
    for (std::thread& t : ended)
      t.join();
  }

  void run() {
    std::vector<BlockRef> batch;
    batch.reserve(kBatch);
    std::unique_lock lock(mu_);
    for (;;) {
      // Nothing queued: sleep until a push wakes us (an idle mount must not tick), and end
      // after kRetireAfter of it.
      if (!stopping_ && queue_.empty() && before_sleep_) {
        lock.unlock();
        before_sleep_();
        lock.lock();
      }
      ++sleeping_;
      const bool woken =
          wake_workers_.wait_for(lock, kRetireAfter, [&] { return stopping_ || !queue_.empty(); });
      --sleeping_;
      if (!woken) {
        ended_.push_back(std::this_thread::get_id());
        note_thread_end();
        return;
      }
      // A burst has begun: let it fill a batch, for a moment.
      if (!stopping_ && queue_.size() < kWakeBatch) {
        wake_workers_.wait_for(lock, kWakePeriod, [&] {
          return stopping_ || drainers_ > 0 || queue_.size() >= kWakeBatch;
        });
      }
      if (queue_.empty()) return;  // stopping, and nothing left to do
      while (!queue_.empty() && batch.size() < kBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      busy_ += batch.size();
      lock.unlock();
      for (BlockRef ref : batch)
        work_(ref);
      lock.lock();
      busy_ -= batch.size();
      batch.clear();
      if (queue_.empty() && busy_ == 0) idle_.notify_all();
    }
  }

  const size_t max_workers_;
  const size_t capacity_;
  const Work work_;
  const Hook before_sleep_;
  mutable std::mutex mu_;
  std::condition_variable wake_workers_;
  std::condition_variable idle_;
  std::deque<BlockRef> queue_;
  size_t busy_ = 0;      // refs taken by workers and not yet done
  size_t drainers_ = 0;  // threads waiting in drain()
  bool stopping_ = false;
  size_t sleeping_ = 0;                 // workers waiting for a push
  std::vector<std::thread> workers_;    // started and not yet joined
  std::vector<std::thread::id> ended_;  // workers_ that have returned from run()
};

}  // namespace zsfs::fs
