// Locks with clang thread-safety annotations.
//
// Mutex wraps std::mutex, and RwLock is a compact reader-writer lock (below), so that clang's
// -Wthread-safety can check which lock guards which field (ZSFS_GUARDED_BY) and which functions
// expect a lock held (ZSFS_REQUIRES). Under GCC the annotations compile to nothing. Lock only
// through the RAII guards below.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "base/check.h"

#if defined(__clang__)
#define ZSFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define ZSFS_THREAD_ANNOTATION(x)
#endif

#define ZSFS_CAPABILITY(x) ZSFS_THREAD_ANNOTATION(capability(x))
#define ZSFS_SCOPED_CAPABILITY ZSFS_THREAD_ANNOTATION(scoped_lockable)
#define ZSFS_GUARDED_BY(x) ZSFS_THREAD_ANNOTATION(guarded_by(x))
#define ZSFS_PT_GUARDED_BY(x) ZSFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ZSFS_REQUIRES(...) ZSFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ZSFS_REQUIRES_SHARED(...) ZSFS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ZSFS_ACQUIRE(...) ZSFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ZSFS_ACQUIRE_SHARED(...) ZSFS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define ZSFS_RELEASE(...) ZSFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ZSFS_RELEASE_SHARED(...) ZSFS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define ZSFS_RELEASE_GENERIC(...) ZSFS_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define ZSFS_TRY_ACQUIRE(...) ZSFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ZSFS_EXCLUDES(...) ZSFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ZSFS_ASSERT_CAPABILITY(x) ZSFS_THREAD_ANNOTATION(assert_capability(x))
#define ZSFS_NO_THREAD_SAFETY_ANALYSIS ZSFS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace zsfs {

class ZSFS_CAPABILITY("mutex") Mutex {
 public:
  void lock() ZSFS_ACQUIRE() { mu_.lock(); }
  void unlock() ZSFS_RELEASE() { mu_.unlock(); }
  bool try_lock() ZSFS_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// RwLock: a reader-writer lock in four bytes, for objects there are millions of (inodes).
//
// std::shared_mutex costs 56 bytes here; an inode is about 110 bytes without it. RwLock keeps its
// whole state in one 32-bit word and sleeps on it with C++20 atomic wait/notify (a futex on
// Linux), so an uncontended lock or unlock is one atomic operation.
//
//   state = | writer (1) | sleepers (1) | waiting writers (14) | readers (16) |
//
// Writers are preferred: a reader does not enter while a writer holds or waits for the lock, so a
// stream of readers cannot starve writers. The price is the usual one: a thread that holds the
// lock shared must not take it shared again (a waiting writer would block the second acquisition
// forever). zsfs never does; the lock hierarchy forbids taking one inode's lock twice.
//
// The sleepers bit says a thread may be asleep on the word: a thread sets it before it waits, and
// a release that lets others in clears it and wakes them all only when it was set (the woken set
// it again if they must sleep on). Without it every writer's unlock would have to notify, and
// libstdc++'s notify skips the futex system call only when no thread waits on any word of the
// same bucket of its 16-entry wait table: with a parked request thread or the idle helper asleep
// there, a sixteenth or more of all inodes paid a FUTEX_WAKE on every unlock.
//
// At most 65535 readers and 16383 waiting writers at once (checked); zsfs has a few dozen threads.
class ZSFS_CAPABILITY("rwlock") RwLock {
 public:
  RwLock() = default;
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock_shared() ZSFS_ACQUIRE_SHARED() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & (kWriter | kWaitingMask)) == 0) {
        ZSFS_DCHECK((s & kReaderMask) != kReaderMask);
        if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          return;
        }
        continue;
      }
      s = sleep(s);
    }
  }

  void unlock_shared() ZSFS_RELEASE_SHARED() {
    const uint32_t before = state_.fetch_sub(1, std::memory_order_release);
    ZSFS_DCHECK((before & kReaderMask) != 0);
    // The last reader out lets a waiting writer in (readers sleep only behind a writer).
    if ((before & kReaderMask) == 1 && (before & kSleepers) != 0) wake();
  }

  void lock() ZSFS_ACQUIRE() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    // Fast path: nobody holds it.
    if ((s & (kWriter | kReaderMask)) == 0 &&
        state_.compare_exchange_strong(s, s | kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    // Announce the wait, which also holds new readers back, then take the lock when it is free.
    s = state_.fetch_add(kWaitingOne, std::memory_order_relaxed) + kWaitingOne;
    ZSFS_DCHECK((s & kWaitingMask) != 0);
    for (;;) {
      if ((s & (kWriter | kReaderMask)) == 0) {
        if (state_.compare_exchange_weak(s, (s - kWaitingOne) | kWriter, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          return;
        }
        continue;
      }
      s = sleep(s);
    }
  }

  bool try_lock() ZSFS_TRY_ACQUIRE(true) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    return (s & (kWriter | kReaderMask)) == 0 &&
           state_.compare_exchange_strong(s, s | kWriter, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void unlock() ZSFS_RELEASE() {
    const uint32_t before = state_.fetch_and(~kWriter, std::memory_order_release);
    ZSFS_DCHECK((before & kWriter) != 0);
    if ((before & kSleepers) != 0) wake();
  }

  // Tells the analysis that the caller holds the lock (taken through a multi-lock helper).
  void assert_held() const ZSFS_ASSERT_CAPABILITY(this) {}

 private:
  static constexpr uint32_t kWriter = 1u << 31;
  static constexpr uint32_t kSleepers = 1u << 30;
  static constexpr uint32_t kWaitingOne = 1u << 16;
  static constexpr uint32_t kWaitingMask = 0x3fffu << 16;
  static constexpr uint32_t kReaderMask = 0xffffu;

  // Sleeps until the word differs from s, with the sleepers bit set first; the word as it is
  // then, for the caller to look at again.
  uint32_t sleep(uint32_t s) {
    if ((s & kSleepers) == 0) {
      if (!state_.compare_exchange_weak(s, s | kSleepers, std::memory_order_relaxed)) return s;
      s |= kSleepers;
    }
    state_.wait(s, std::memory_order_relaxed);
    return state_.load(std::memory_order_relaxed);
  }
  // Wakes every sleeper; those that must sleep on set the bit again.
  void wake() {
    state_.fetch_and(~kSleepers, std::memory_order_relaxed);
    state_.notify_all();
  }

  std::atomic<uint32_t> state_{0};
};

class ZSFS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ZSFS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() ZSFS_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Exclusive and shared holds of an RwLock (or any lock with the same members).
template <class Lock>
class ZSFS_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(Lock& mu) ZSFS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() ZSFS_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  Lock& mu_;
};

template <class Lock>
class ZSFS_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(Lock& mu) ZSFS_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() ZSFS_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  Lock& mu_;
};

}  // namespace zsfs
