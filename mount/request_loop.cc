// request_loop (see request_loop.h).
#include "mount/request_loop.h"

#include <fcntl.h>
#include <linux/fuse.h>  // the request header and opcodes (Linux UAPI)
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "codec/codec.h"
#include "mount/fuse_api.h"
#include "mount/log.h"
#include "mount/options.h"
#include "mount/thread_buffers.h"

namespace zsfs::mount {

namespace {

// Tells the CPU that this is a busy-wait loop (saves power, yields to a sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Whether a failed system call was only interrupted. Besides EINTR, the kernel's restart codes
// (ERESTARTSYS 512 to ERESTART_RESTARTBLOCK 516, never meant for user space) reach a thread whose
// poll(2) a debugger interrupted to run a function in it (gdb's `call`): seen as the daemon
// ending with "Unknown error 516" under `call malloc_stats()`.
inline bool interrupted(int error) {
  return error == EINTR || (error >= 512 && error <= 516);
}

// Whether a request in buf needs no reply (and so says nothing about clients waiting).
bool one_way(const fuse_buf& buf) {
  if ((buf.flags & FUSE_BUF_IS_FD) != 0 || buf.size < sizeof(fuse_in_header)) return false;
  fuse_in_header header;
  std::memcpy(&header, buf.mem, sizeof header);
  return header.opcode == FUSE_FORGET || header.opcode == FUSE_BATCH_FORGET ||
         header.opcode == FUSE_INTERRUPT;
}

// What one receive came to.
enum class Received { kRequest, kNothing, kStop };

// Receives into buf: a request, nothing waiting (EAGAIN), or the end (unmounted, or a device
// error: *error holds it, 0 for an unmount or a signal that asked to stop).
Received receive(fuse_session* session, fuse_buf* buf, int* error) {
  for (;;) {
    const int received = fuse_session_receive_buf(session, buf);
    if (received > 0) return Received::kRequest;
    if (received == -EAGAIN) return Received::kNothing;
    if (interrupted(-received)) {
      if (fuse_session_exited(session)) break;
      continue;
    }
    // 0: unmounted (libfuse marks the session exited); otherwise a device error.
    *error = received;
    break;
  }
  return Received::kStop;
}

// Sleeps until the device has a request, for at most timeout_ms (-1: no limit); false on a
// poll(2) failure other than an interruption (errno set).
bool wait_readable(int fd, int timeout_ms, bool* timed_out) {
  pollfd wait{fd, POLLIN, 0};
  const int ready = poll(&wait, 1, timeout_ms);
  if (ready < 0 && !interrupted(errno)) return false;
  *timed_out = ready == 0;
  return true;
}

// Whether a request is waiting on the device now (poll(2) without waiting).
bool another_waiting(int fd) {
  pollfd check{fd, POLLIN, 0};
  return poll(&check, 1, 0) > 0 && (check.revents & POLLIN) != 0;
}

// What a request thread gives back when it goes idle: its buffers' pages, and its zstd contexts
// (a read or a dedup comparison decodes in the request thread).
void release_idle_memory(void* receive_buffer) {
  release_idle_pages(receive_buffer);
  codec::release_thread_contexts();
}

// The second request thread (see request_loop.h). Created on first use; parked while not
// needed; stopped and joined with the loop.
class HelperThread {
 public:
  explicit HelperThread(fuse_session* session) : session_(session) {}
  ~HelperThread() {
    if (!thread_.joinable()) return;
    state_.store(kStopping);
    state_.notify_one();
    thread_.join();
  }
  HelperThread(const HelperThread&) = delete;
  HelperThread& operator=(const HelperThread&) = delete;

  // Starts it serving, if it is parked (or not started yet).
  void wake() {
    if (!thread_.joinable()) {
      state_.store(kServing);
      thread_ = std::thread([this] { run(); });
      ++wakeups_;
      return;
    }
    uint32_t parked = kParked;
    if (state_.compare_exchange_strong(parked, kServing)) {
      state_.notify_one();
      ++wakeups_;
    }
  }

 private:
  static constexpr uint32_t kParked = 0;
  static constexpr uint32_t kServing = 1;
  static constexpr uint32_t kStopping = 2;

  void run() {
    // Signals (SIGTERM, SIGINT) belong to the first thread, whose wait they must interrupt.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    const int fd = fuse_session_fd(session_);
    const int linger_ms = static_cast<int>(kHelperLinger.count());
    fuse_buf buf{};
    for (;;) {
      if (state_.load() == kParked) release_idle_memory(buf.mem);
      for (uint32_t state = state_.load(); state == kParked; state = state_.load())
        state_.wait(kParked);
      if (state_.load() == kStopping) break;
      // Serving: until a linger passes with no request for this thread.
      int error = 0;
      bool stop = false;
      while (state_.load() == kServing && !stop) {
        switch (receive(session_, &buf, &error)) {
          case Received::kRequest:
            fuse_session_process_buf(session_, &buf);
            continue;
          case Received::kStop:
            stop = true;  // the first thread sees the same and ends the loop
            continue;
          case Received::kNothing:
            break;
        }
        bool timed_out = false;
        if (!wait_readable(fd, linger_ms, &timed_out)) {
          stop = true;
        } else if (timed_out) {
          uint32_t serving = kServing;
          state_.compare_exchange_strong(serving, kParked);
        }
      }
      if (stop) break;
    }
    std::free(buf.mem);
  }

  fuse_session* const session_;
  std::atomic<uint32_t> state_{kParked};
  uint64_t wakeups_ = 0;  // for debugging: times the first thread started it serving
  std::thread thread_;
};

// The loop for threads=1 (see request_loop.h). Returns 0 once unmounted or asked to stop (by a
// signal, through libfuse's handlers), or a negative errno.
int serve_adaptive(fuse_session* session) {
  const int fd = fuse_session_fd(session);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  fuse_buf buf{};  // libfuse allocates buf.mem on first use
  PollGovernor governor;
  BacklogDetector backlog;
  HelperThread helper(session);
  bool after_request = false;  // the last thing this thread did was serve a request
  int error = 0;
  while (!fuse_session_exited(session)) {
    Received got = receive(session, &buf, &error);
    if (got == Received::kRequest) {
      // A streak of requests found waiting may be one fast client that asks again before this
      // thread is back (its reply woke it on the other core): only when yet another request is
      // waiting behind the one just taken are there clients to serve in parallel.
      if (after_request && backlog.next(true, one_way(buf)) && another_waiting(fd)) {
        helper.wake();
      }
      fuse_session_process_buf(session, &buf);
      after_request = true;
      continue;
    }
    if (got == Received::kStop) break;
    // Nothing waiting.
    if (after_request) {
      backlog.next(false, false);
      after_request = false;
      if (governor.should_poll()) {
        const auto until = std::chrono::steady_clock::now() + PollGovernor::kWindow;
        do {
          cpu_relax();
          got = receive(session, &buf, &error);
        } while (got == Received::kNothing && std::chrono::steady_clock::now() < until);
        governor.record(got == Received::kRequest);
        if (got == Received::kRequest) {
          fuse_session_process_buf(session, &buf);
          after_request = true;
          continue;
        }
        if (got == Received::kStop) break;
      }
    }
    // Sleep until a request comes; a signal (EINTR) or an unmount (POLLERR) ends the wait too,
    // and the next receive tells which. Once idle for kIdleReleaseAfter, the thread gives back
    // its idle memory before the long sleep.
    bool timed_out = false;
    const auto release_after = std::chrono::milliseconds(kIdleReleaseAfter);
    if (!wait_readable(fd, static_cast<int>(release_after.count()), &timed_out)) {
      error = -errno;
      break;
    }
    if (!timed_out) continue;
    release_idle_memory(buf.mem);
    if (!wait_readable(fd, -1, &timed_out)) {
      error = -errno;
      break;
    }
  }
  std::free(buf.mem);
  return error;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

int serve_until_unmounted(fuse_session* session, unsigned threads) {
  if (threads == 1) {
    const int result = serve_adaptive(session);
    if (result == 0) return kExitOk;
    log_error("the FUSE session failed: " + errno_text(-result));
    return kExitFailure;
  }
  // threads= request threads (see kDefaultThreads for why one by default).
  std::unique_ptr<fuse_loop_config, decltype(&fuse_loop_cfg_destroy)> config(fuse_loop_cfg_create(),
                                                                             fuse_loop_cfg_destroy);
  if (!config) {
    log_error("cannot create the FUSE loop configuration: out of memory");
    return kExitFailure;
  }
  // As many threads stay as may run: threads that come and go cost their creation, and would
  // register per-thread state anew, which can fail when memory is short.
  fuse_loop_cfg_set_idle_threads(config.get(), threads);
  fuse_loop_cfg_set_max_threads(config.get(), threads);
  fuse_loop_cfg_set_clone_fd(config.get(), 0);

  const int result = fuse_session_loop_mt(session, config.get());
  // 0: unmounted from outside; a signal number: SIGTERM, SIGINT or SIGHUP asked us to stop.
  if (result == 0 || result == SIGTERM || result == SIGINT || result == SIGHUP) return kExitOk;
  log_error("the FUSE session failed: " + errno_text(result < 0 ? -result : result));
  return kExitFailure;
}

}  // namespace zsfs::mount
