// Locks with clang thread-safety annotations.
//
// Mutex and SharedMutex wrap the standard ones so that clang's -Wthread-safety can check which
// lock guards which field (ZSFS_GUARDED_BY) and which functions expect a lock held
// (ZSFS_REQUIRES). Under GCC the annotations compile to nothing. Lock only through the RAII
// guards below.
#pragma once

#include <mutex>
#include <shared_mutex>

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

class ZSFS_CAPABILITY("shared_mutex") SharedMutex {
 public:
  void lock() ZSFS_ACQUIRE() { mu_.lock(); }
  void unlock() ZSFS_RELEASE() { mu_.unlock(); }
  bool try_lock() ZSFS_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void lock_shared() ZSFS_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() ZSFS_RELEASE_SHARED() { mu_.unlock_shared(); }
  // Tells the analysis that the caller holds the lock (taken through a multi-lock helper).
  void assert_held() const ZSFS_ASSERT_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
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

class ZSFS_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ZSFS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() ZSFS_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

class ZSFS_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ZSFS_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() ZSFS_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace zsfs
