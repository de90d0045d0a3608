#include "mount/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fs/filesystem.h"
#include "mount/fuse_api.h"
#include "mount/json_reader.h"
#include "mount/log.h"
#include "mount/mount_point.h"
#include "mount/ops.h"
#include "mount/request.h"

namespace zsfs::mount {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Bad input found before mounting: a message for the person, as for a bad option.
int usage_error(const std::string& message) {
  std::fprintf(stderr, "zsfs: %s\n", message.c_str());
  return kExitUsage;
}

// The background child's report to the waiting parent: one byte, the exit status the parent
// should end with (kExitOk once mounted). Reporting is a no-op in the foreground.
class Readiness {
 public:
  explicit Readiness(int fd) : fd_(fd) {}
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;
  ~Readiness() {
    if (fd_ >= 0) close(fd_);
  }

  void report(int status) {
    if (fd_ < 0) return;
    const auto byte = static_cast<unsigned char>(status);
    ssize_t n = 0;
    do {
      n = write(fd_, &byte, 1);
    } while (n < 0 && errno == EINTR);
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Forks. The parent waits for the child's report and exits with it; it never returns. The child
// starts a new session and gets the pipe's write end. -1 if the fork could not be made.
int fork_to_background() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    log_error("cannot go to the background: pipe: " + errno_text(errno));
    return -1;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    log_error("cannot go to the background: fork: " + errno_text(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid > 0) {
    close(fds[1]);
    unsigned char status = 0;
    ssize_t n = 0;
    do {
      n = read(fds[0], &status, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) _exit(status);
    // No report: the child died on the way. Say how.
    int wait_status = 0;
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(wait_status)) {
      std::fprintf(stderr, "zsfs: the daemon was killed by signal %d (%s) before it mounted\n",
                   WTERMSIG(wait_status), strsignal(WTERMSIG(wait_status)));
    } else {
      std::fprintf(stderr, "zsfs: the daemon ended before it mounted\n");
    }
    _exit(kExitFailure);
  }
  close(fds[0]);
  setsid();
  return fds[1];
}

// Points stdin, stdout and stderr at /dev/null; messages go to syslog from now on.
void detach_from_terminal() {
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) close(null_fd);
  }
  log_to_syslog_from_now();
}

// Owns a FUSE session: unmounts, restores signal handlers and destroys it, in that order.
class Session {
 public:
  explicit Session(fuse_session* session) : session_(session) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    if (mounted_) fuse_session_unmount(session_);
    if (signals_installed_) fuse_remove_signal_handlers(session_);
    fuse_session_destroy(session_);
  }

  fuse_session* get() const { return session_; }
  bool install_signal_handlers() {
    signals_installed_ = fuse_set_signal_handlers(session_) == 0;
    return signals_installed_;
  }
  bool mount(const std::string& mount_point) {
    mounted_ = fuse_session_mount(session_, mount_point.c_str()) == 0;
    return mounted_;
  }

 private:
  fuse_session* session_;
  bool signals_installed_ = false;
  bool mounted_ = false;
};

// Creates the session with zsfs's FUSE options. libfuse prints why when it fails.
fuse_session* new_session(const Options& options, const fuse_lowlevel_ops& ops, MountContext& ctx) {
  std::vector<std::string> arguments = fuse_arguments(options);
  std::vector<char*> argv;
  for (auto& argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);
  fuse_args args{static_cast<int>(arguments.size()), argv.data(), 0};
  fuse_session* session = fuse_session_new(&args, &ops, sizeof(ops), &ctx);
  fuse_opt_free_args(&args);  // frees only what fuse_session_new may have allocated
  return session;
}

// How long the request thread keeps polling /dev/fuse for the next request before it sleeps.
// A reply wakes the client, whose next request often comes within a few microseconds; caught
// while polling, it costs this thread no sleep and wake-up, which dominate a metadata request
// (perf: 45% of the daemon's time in the scheduler's switch and wake-up paths). Measured with
// tests/bench/compare/metaops.c, 100,000 files on 2 cores, create/stat/unlink: sleeping at once
// 4.3/1.6/2.7 s; polling 5 us 3.3/1.6/2.0 s; 10 us 2.6/0.95/1.8 s; 20 us 2.6/1.1/1.9 s; 50 us
// no better. The untar of W1, where compression needs the CPU too, took 16.1, 17.6 and 13.8 s
// polling 10 us against 17.0, 19.6 and 15.4 s sleeping at once (alternate runs; this machine's
// noise is about that large), and 20.9 and 18.3 s polling 50 us against 17.2 and 17.8 s.
constexpr auto kPollBeforeSleep = std::chrono::microseconds(10);

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

// The request loop for one thread (threads=1, the default): as libfuse's, but after each request
// the thread polls the device, non-blocking, for kPollBeforeSleep before it sleeps in poll(2).
// Returns 0 once unmounted or asked to stop (by a signal, through libfuse's handlers), or a
// negative errno.
int serve_one_thread(fuse_session* session) {
  const int fd = fuse_session_fd(session);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  fuse_buf buf{};  // libfuse allocates buf.mem on first use
  int result = 0;
  auto poll_until = std::chrono::steady_clock::now() + kPollBeforeSleep;
  while (!fuse_session_exited(session)) {
    const int received = fuse_session_receive_buf(session, &buf);
    if (received > 0) {
      fuse_session_process_buf(session, &buf);
      poll_until = std::chrono::steady_clock::now() + kPollBeforeSleep;
    } else if (received == -EAGAIN) {
      if (std::chrono::steady_clock::now() < poll_until) {
        cpu_relax();
        continue;
      }
      // Sleep until a request comes; a signal (EINTR) or an unmount (POLLERR) ends the wait
      // too, and the next receive tells which.
      pollfd wait{fd, POLLIN, 0};
      if (poll(&wait, 1, -1) < 0 && !interrupted(errno)) {
        result = -errno;
        break;
      }
      poll_until = std::chrono::steady_clock::now() + kPollBeforeSleep;
    } else if (!interrupted(-received)) {
      // 0: unmounted (libfuse marks the session exited); otherwise a device error.
      result = received;
      break;
    }
  }
  std::free(buf.mem);
  return result;
}

// Serves requests until unmounted or signalled; returns an exit status.
int serve_until_unmounted(fuse_session* session, unsigned threads) {
  if (threads == 1) {
    const int result = serve_one_thread(session);
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

// The core's consistency check, in debug builds, once no request can come any more.
int check_at_unmount([[maybe_unused]] fs::Filesystem& filesystem) {
#ifdef NDEBUG
  return kExitOk;
#else
  const std::string report = filesystem.check();
  auto parsed = parse_json(report);
  if (parsed.ok() && json_bool(*parsed, "ok") == true) return kExitOk;
  log_error("CONSISTENCY CHECK FAILED at unmount: " + report);
  return kExitCheck;
#endif
}

int mount_and_serve(const Options& options, const std::string& mount_point, Readiness& readiness,
                    bool background) {
  auto created = fs::Filesystem::create(options.config);
  if (!created.ok()) {
    log_error("the filesystem core refused the configuration: " + errno_text(created.error()));
    return kExitFailure;
  }
  std::unique_ptr<fs::Filesystem> filesystem = std::move(created).value();
  MountContext ctx(*filesystem, options.writeback);
  // ctx outlives every reader of the statistics: the filesystem is reset below, before ctx goes.
  filesystem->add_stats_section(
      {"requests", [&requests = ctx.requests()] { return requests.to_json(); }});
  const fuse_lowlevel_ops ops = lowlevel_ops();

  int status = kExitOk;
  {
    fuse_session* raw = new_session(options, ops, ctx);
    if (raw == nullptr) {
      log_error("cannot create the FUSE session (see the message above)");
      return kExitFailure;
    }
    Session session(raw);
    if (!session.install_signal_handlers()) {
      log_error("cannot install signal handlers");
      return kExitFailure;
    }
    if (!session.mount(mount_point)) {
      log_error("cannot mount on " + mount_point + " (see the message above)");
      return kExitFailure;
    }
    if (chdir("/") != 0) {
      // Only keeps the mount point's parent busy; not worth failing for.
      log_warning("cannot change to /: " + errno_text(errno));
    }
    if (background) detach_from_terminal();
    readiness.report(kExitOk);
    status = serve_until_unmounted(session.get(), options.threads);
  }  // unmounted and destroyed: no request can reach the core any more

  const int check = check_at_unmount(*filesystem);
  if (status == kExitOk) status = check;
  filesystem.reset();
  return status;
}

}  // namespace

int run_daemon(const Options& options) {
  auto mount_point = check_mount_point(options.mount_point, options.nonempty);
  if (!mount_point.ok()) return usage_error(mount_point.message());
  Check device = check_fuse_device();
  if (!device.ok()) return usage_error(device.message());

  const bool background = !options.foreground;
  int report_fd = -1;
  if (background) {
    report_fd = fork_to_background();  // the parent exits inside
    if (report_fd < 0) return kExitFailure;
  }
  Readiness readiness(report_fd);
  const int status = mount_and_serve(options, *mount_point, readiness, background);
  readiness.report(status);  // only reaches the parent if mounting failed
  return status;
}

}  // namespace zsfs::mount
