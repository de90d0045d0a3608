// request_loop (see request_loop.h).
#include "mount/request_loop.h"

#include <fcntl.h>
#include <linux/fuse.h>  // the request header and opcodes (Linux UAPI)
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "base/threads.h"
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

// Sleeps until fd (or also_fd, if not -1) is readable, for at most timeout_ms (-1: no limit);
// false on a poll(2) failure other than an interruption (errno set).
bool wait_readable(int fd, int timeout_ms, bool* timed_out, int also_fd = -1) {
  pollfd waits[2] = {{fd, POLLIN, 0}, {also_fd, POLLIN, 0}};  // poll(2) skips a negative fd
  const int ready = poll(waits, 2, timeout_ms);
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
      name_thread(thread_, "zsfs-serve2");
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

// How a serving thread's turn ended.
enum class Turn {
  kIdle,   // no request for kIdleReleaseAfter: the thread ends, giving back its memory
  kEnded,  // unmounted, asked to stop, or failed
};

// One serving thread's turn of the loop for threads=1 (see request_loop.h): serves requests,
// with the helper beside it when clients queue, until the mount has been idle for
// kIdleReleaseAfter or the session ends (*error: 0, or a negative errno). The governor and the
// detector carry what they learned from one turn to the next.
Turn serve_turn(fuse_session* session, PollGovernor& governor, BacklogDetector& backlog,
                int stop_fd, int* error) {
  const int fd = fuse_session_fd(session);
  fuse_buf buf{};  // libfuse allocates buf.mem on first use
  HelperThread helper(session);
  bool after_request = false;  // the last thing this thread did was serve a request
  // The gap before the next request (PollGovernor): open from when the thread, done with a
  // request, found nothing waiting, until a request comes.
  using Clock = std::chrono::steady_clock;
  bool gap_open = false;
  Clock::time_point gap_start;
  Turn turn = Turn::kEnded;
  while (!fuse_session_exited(session)) {
    Received got = receive(session, &buf, error);
    if (got == Received::kRequest) {
      if (gap_open) {  // it came while this thread slept
        governor.record_gap(Clock::now() - gap_start);
        gap_open = false;
      }
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
      gap_start = Clock::now();
      gap_open = true;
      const std::chrono::microseconds window = governor.window();
      if (window.count() > 0) {
        const Clock::time_point until = gap_start + window;
        Clock::time_point now;
        do {
          cpu_relax();
          got = receive(session, &buf, error);
          now = Clock::now();
        } while (got == Received::kNothing && now < until);
        if (got == Received::kRequest) {
          governor.record_gap(now - gap_start);
          gap_open = false;
          fuse_session_process_buf(session, &buf);
          after_request = true;
          continue;
        }
        if (got == Received::kStop) break;
      }
    }
    // Sleep until a request comes; an unmount (POLLERR) ends the wait too, and the next receive
    // tells which, as does the loop's stop_fd (a signal asked to stop). Idle for
    // kIdleReleaseAfter, the turn ends.
    bool timed_out = false;
    const auto release_after = std::chrono::milliseconds(kIdleReleaseAfter);
    if (!wait_readable(fd, static_cast<int>(release_after.count()), &timed_out, stop_fd)) {
      *error = -errno;
      break;
    }
    if (timed_out) {
      turn = Turn::kIdle;
      break;
    }
  }
  std::free(buf.mem);
  return turn;
}

// An eventfd: one thread raises it, another polls it.
class Flag {
 public:
  Flag() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Flag() {
    if (fd_ >= 0) close(fd_);
  }
  Flag(const Flag&) = delete;
  Flag& operator=(const Flag&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void raise() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(fd_, &one, sizeof one);
  }
  void lower() const {
    uint64_t value;
    [[maybe_unused]] const ssize_t read_bytes = read(fd_, &value, sizeof value);
  }

 private:
  const int fd_;
};

// The loop for threads=1 (see request_loop.h). Returns 0 once unmounted or asked to stop (by a
// signal, through libfuse's handlers), or a negative errno.
//
// This thread only waits: turns of serving run in threads of their own, so that an idle mount
// holds no request thread's memory. It keeps signals unblocked and the serving threads block
// them, so a signal sent to the process interrupts this thread's wait (the kernel gives a
// process's signal to its first thread when that one takes it), which passes the stop on.
int serve_adaptive(fuse_session* session) {
  const int fd = fuse_session_fd(session);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  const Flag stop;       // raised by this thread: a signal asked to stop
  const Flag turn_done;  // raised by the serving thread as its turn ends
  if (!stop.ok() || !turn_done.ok()) return -errno;
  PollGovernor governor;
  BacklogDetector backlog;
  int error = 0;
  while (!fuse_session_exited(session)) {
    Turn turn = Turn::kEnded;
    std::thread server;
    try {
      server = std::thread([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        name_this_thread("zsfs-serve");
        turn = serve_turn(session, governor, backlog, stop.fd(), &error);
        if (turn == Turn::kIdle) note_thread_end();
        turn_done.raise();
      });
    } catch (const std::system_error&) {
      // No thread to be had: serve in this one (its malloc cache then stays).
      turn = serve_turn(session, governor, backlog, stop.fd(), &error);
    }
    if (server.joinable()) {
      // A signal that arrives just before the poll is seen when the turn ends, within
      // kIdleReleaseAfter; any later one interrupts the poll. Should polling fail otherwise,
      // the join waits for the turn's end all the same.
      pollfd done{turn_done.fd(), POLLIN, 0};
      for (;;) {
        if (fuse_session_exited(session)) stop.raise();
        if (poll(&done, 1, -1) > 0 || !interrupted(errno)) break;
      }
      turn_done.lower();
      server.join();
    }
    if (turn == Turn::kEnded || fuse_session_exited(session)) break;
    // Idle: wait here for the next request, a signal or the unmount.
    bool timed_out = false;
    if (!wait_readable(fd, -1, &timed_out)) {
      error = -errno;
      break;
    }
  }
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
