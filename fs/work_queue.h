// WorkQueue: a bounded queue of block references and the threads that work through it.
//
// The dedup store uses it to compress blocks in the background: a write stores a block raw,
// queues it, and returns; a worker thread compresses it later. The queue is bounded so that the
// raw blocks waiting can never take much memory: when it is full, try_push() refuses and the
// caller does the work itself, at once.
//
// Workers take items in batches to keep the lock out of the way. The destructor finishes every
// item queued, then joins the workers. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fs/block_map.h"

namespace zsfs::fs {

class WorkQueue {
 public:
  using Work = std::function<void(BlockRef)>;

  // threads >= 1 workers call work(ref) for every ref pushed; at most capacity refs wait.
  WorkQueue(unsigned threads, size_t capacity, Work work)
      : capacity_(capacity), work_(std::move(work)) {
    for (unsigned i = 0; i < threads; ++i)
      workers_.emplace_back([this] { run(); });
  }

  ~WorkQueue() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_workers_.notify_all();
    for (std::thread& t : workers_)
      t.join();
  }

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues ref; false (nothing queued) when the queue is full.
  bool try_push(BlockRef ref) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= capacity_) return false;
      queue_.push_back(ref);
    }
    wake_workers_.notify_one();
    return true;
  }

  // Waits until every ref queued before the call has been worked on.
  void drain() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
  }

  size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size() + busy_;
  }

 private:
  // Up to this many refs are taken per visit to the lock.
  static constexpr size_t kBatch = 32;

  void run() {
    std::vector<BlockRef> batch;
    batch.reserve(kBatch);
    std::unique_lock lock(mu_);
    for (;;) {
      wake_workers_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
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

  const size_t capacity_;
  const Work work_;
  mutable std::mutex mu_;
  std::condition_variable wake_workers_;
  std::condition_variable idle_;
  std::deque<BlockRef> queue_;
  size_t busy_ = 0;  // refs taken by workers and not yet done
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace zsfs::fs
