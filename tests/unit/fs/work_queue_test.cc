// WorkQueue: every ref pushed is worked on by the time drain() returns; a full queue refuses the
// push; a worker that runs out of work calls its before-sleep hook, once, after its last item.
#include "fs/work_queue.h"

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::fs {
namespace {

// What the worker did, in order: 'w' for an item, 's' for the hook.
class Trace {
 public:
  void add(char c) {
    std::lock_guard lock(mu_);
    events_ += c;
  }
  std::string events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::string events_;
};

// Waits up to 10 s for pred.
template <class Pred>
bool eventually(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(WorkQueue, WorksEveryRefAndCallsTheHookOnceOutOfWork) {
  Trace trace;
  WorkQueue queue(
      1, 100, [&](BlockRef) { trace.add('w'); }, [&] { trace.add('s'); });
  for (BlockRef ref = 1; ref <= 40; ++ref)
    ASSERT_TRUE(queue.try_push(ref));
  queue.drain();
  EXPECT_EQ(queue.queued(), 0u);
  // The worker goes to sleep after its last item, and says so first.
  ASSERT_TRUE(eventually([&] { return trace.events().back() == 's'; })) << trace.events();
  const std::string events = trace.events();
  std::string items;
  for (char c : events)
    if (c == 'w') items += c;
  EXPECT_EQ(items.size(), 40u);
  // Once each time the worker runs out of work, not at every wake-up: never twice in a row.
  EXPECT_EQ(events.find("ss"), std::string::npos) << events;
}

TEST(WorkQueue, AFullQueueRefusesAndAQueueWithoutHookWorks) {
  std::mutex gate;
  std::unique_lock hold(gate);  // the worker blocks on its first item until released
  int done = 0;
  WorkQueue queue(1, 4, [&](BlockRef) {
    std::lock_guard wait(gate);
    ++done;
  });
  ASSERT_TRUE(queue.try_push(1));
  // Whether the worker has taken the first ref yet or not, at most 4 wait.
  int accepted = 1;
  for (BlockRef ref = 2; ref <= 10; ++ref)
    accepted += queue.try_push(ref) ? 1 : 0;
  EXPECT_LE(accepted, 5);
  EXPECT_GE(accepted, 4);
  hold.unlock();
  queue.drain();
  EXPECT_EQ(done, accepted);
}

// Workers come with the work and go after WorkQueue::kRetireAfter without it (their thread's
// end is what gives glibc's per-thread cache back): none before the first push, one for a
// burst, none again once idle, and the next burst is done by a new thread.
TEST(WorkQueue, AWorkerStartsWithABurstAndEndsOnceIdle) {
  std::mutex mu;
  std::vector<std::thread::id> ids;
  WorkQueue queue(1, 100, [&](BlockRef) {
    std::lock_guard lock(mu);
    ids.push_back(std::this_thread::get_id());
  });
  EXPECT_EQ(queue.workers(), 0u);
  for (BlockRef ref = 1; ref <= 10; ++ref)
    ASSERT_TRUE(queue.try_push(ref));
  EXPECT_EQ(queue.workers(), 1u);
  queue.drain();
  ASSERT_TRUE(eventually([&] { return queue.workers() == 0; }));
  for (BlockRef ref = 11; ref <= 20; ++ref)
    ASSERT_TRUE(queue.try_push(ref));
  queue.drain();
  std::lock_guard lock(mu);
  ASSERT_EQ(ids.size(), 20u);
  EXPECT_NE(ids.front(), ids.back());
  EXPECT_NE(ids.front(), std::this_thread::get_id());
  EXPECT_NE(ids.back(), std::this_thread::get_id());
}

}  // namespace
}  // namespace zsfs::fs
