// RwLock (base/sync.h): exclusion, writer preference, and that every sleeper is woken: a lost
// wake-up shows as a test that never ends (CTest's timeout), a broken exclusion as torn pairs
// (and as a race under the thread sanitizer).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/sync.h"

namespace zsfs {
namespace {

using namespace std::chrono_literals;

// Two fields a writer changes together; a reader must never see them apart.
struct Pair {
  RwLock mu;
  uint64_t a ZSFS_GUARDED_BY(mu) = 0;
  uint64_t b ZSFS_GUARDED_BY(mu) = 0;
};

TEST(RwLock, WritersExcludeEveryoneAndReadersSeeWholeUpdates) {
  Pair pair;
  constexpr int kWriters = 3;
  constexpr int kReaders = 3;
  constexpr int kRounds = 20000;
  std::atomic<bool> torn{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        WriterLock lock(pair.mu);
        ++pair.a;
        ++pair.b;
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        ReaderLock lock(pair.mu);
        if (pair.a != pair.b) torn = true;
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_FALSE(torn);
  WriterLock lock(pair.mu);
  EXPECT_EQ(pair.a, uint64_t{kWriters} * kRounds);
  EXPECT_EQ(pair.b, pair.a);
}

TEST(RwLock, AWriterAsleepBehindReadersWakesWhenTheLastLeaves) {
  RwLock mu;
  mu.lock_shared();
  mu.lock_shared();
  std::atomic<bool> entered{false};
  std::thread writer([&] {
    WriterLock lock(mu);
    entered = true;
  });
  std::this_thread::sleep_for(50ms);  // long enough for the writer to go to sleep
  EXPECT_FALSE(entered);
  mu.unlock_shared();
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(entered);  // one reader is still in
  mu.unlock_shared();
  writer.join();
  EXPECT_TRUE(entered);
}

TEST(RwLock, ReadersAsleepBehindAWaitingWriterWakeAfterIt) {
  RwLock mu;
  mu.lock_shared();
  std::atomic<int> order{0};
  std::atomic<int> writer_at{0};
  std::atomic<int> readers_done{0};
  std::thread writer([&] {
    WriterLock lock(mu);
    writer_at = ++order;
  });
  std::this_thread::sleep_for(50ms);  // the writer waits: new readers must queue behind it
  std::vector<std::thread> readers;
  std::vector<int> reader_at(4);
  for (size_t i = 0; i < reader_at.size(); ++i) {
    readers.emplace_back([&, i] {
      ReaderLock lock(mu);
      reader_at[i] = ++order;
      ++readers_done;
    });
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(readers_done, 0);  // writer preference: they did not pass the waiting writer
  mu.unlock_shared();
  writer.join();
  for (std::thread& t : readers)
    t.join();
  EXPECT_EQ(writer_at, 1);
  for (int at : reader_at)
    EXPECT_GT(at, 1);
}

TEST(RwLock, WritersAsleepBehindAWriterAllGetTheirTurn) {
  RwLock mu;
  mu.lock();
  std::atomic<int> done{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) {
    writers.emplace_back([&] {
      WriterLock lock(mu);
      ++done;
    });
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(done, 0);
  mu.unlock();
  for (std::thread& t : writers)
    t.join();
  EXPECT_EQ(done, 4);
  EXPECT_TRUE(mu.try_lock());  // and nothing is left held
  mu.unlock();
}

// Many short holds with threads going to sleep and waking all the time: a wake-up lost in any
// interleaving leaves a thread asleep for good, and the test never ends.
TEST(RwLock, ContendedHandOffsLoseNoWakeUp) {
  RwLock mu;
  std::atomic<uint64_t> inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        if ((i + t) % 3 == 0) {
          WriterLock lock(mu);
          inside.fetch_add(1, std::memory_order_relaxed);
          if (i % 64 == 0) std::this_thread::yield();
        } else {
          ReaderLock lock(mu);
          if (i % 64 == 0) std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  uint64_t writes = 0;
  for (int t = 0; t < 6; ++t) {
    for (int i = 0; i < 5000; ++i)
      writes += (i + t) % 3 == 0;
  }
  EXPECT_EQ(inside.load(), writes);
}

}  // namespace
}  // namespace zsfs
