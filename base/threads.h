// threads: what zsfs's threads share: their names, and threads that end with their work.
//
// name_this_thread() and name_thread() name a thread ("zsfs-" and its job) for top -H, ps -L
// and /proc/PID/task/*/comm; threads it starts inherit the name.
//
// run_in_own_thread() runs a burst of work in a thread of its own, which ends with the work.
// Why: glibc keeps, per thread, up to 7 freed chunks of each size under 1 KiB (its tcache) and
// gives them back to the arenas only when the thread ends. A long-lived thread that frees much
// memory in bursts (a pool compaction, a recompression pass) keeps a few hundred such chunks,
// each often the only thing on an otherwise free heap page, which malloc_trim() then cannot
// return: after the Linux tree was deleted, the compactor's and the recompressor's caches held
// 331 chunks, and the arenas 339 pages that only cached chunks kept resident. Work run through this
// function leaves no cache behind.
//
// The thread inherits the caller's signal mask and scheduling (a SCHED_IDLE caller's work stays
// SCHED_IDLE); its thread_local objects die with it. If no thread can be had, fn runs in the
// caller. Returns when fn has returned. Costs a thread's creation and join, tens of
// microseconds: for bursts, not for each item of work.
//
// The chunks an ended thread gives back are free in their arenas but still resident until the
// next malloc_trim(). thread_ends() counts the threads that ended so (this function's, and the
// others that end for the same reason call note_thread_end()), for whoever decides when to trim.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <system_error>
#include <thread>

namespace zsfs {

// name: at most 15 characters (the kernel's limit). Best effort: a name is only for people.
inline void name_this_thread(const char* name) {
  (void)pthread_setname_np(pthread_self(), name);
}
// The same for a thread just started, named by its creator before the creator goes on: a thread
// inherits its creator's name, so one that names itself shows its creator's for a moment.
inline void name_thread(std::thread& thread, const char* name) {
  (void)pthread_setname_np(thread.native_handle(), name);
}

namespace own_thread_detail {
inline std::atomic<uint64_t> ends{0};
}  // namespace own_thread_detail

// Threads ended to give their malloc cache back, since the process began.
inline uint64_t thread_ends() {
  return own_thread_detail::ends.load(std::memory_order_relaxed);
}
// Called by a thread that ends for that reason, just before it does.
inline void note_thread_end() {
  own_thread_detail::ends.fetch_add(1, std::memory_order_relaxed);
}

template <class Fn>
void run_in_own_thread(Fn&& fn) {
  std::thread worker;
  try {
    worker = std::thread(std::ref(fn));
  } catch (const std::system_error&) {
    fn();
    return;
  }
  worker.join();
  note_thread_end();
}

}  // namespace zsfs
