#include "mount/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "disk/faults.h"
#include "fs/filesystem.h"
#include "mount/fuse_api.h"
#include "mount/generic_options.h"
#include "mount/json_reader.h"
#include "mount/log.h"
#include "mount/mount_point.h"
#include "mount/ops.h"
#include "mount/readahead.h"
#include "mount/request.h"
#include "mount/request_loop.h"

namespace zsfs::mount {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Fixes glibc's malloc thresholds, before any thread starts; a GLIBC_TUNABLES that sets either
// wins. By default both move: each time a chunk from mmap() is freed, the mmap threshold rises to
// its size and the trim threshold to twice that (a 1 MiB request buffer makes them 1 and 2
// MiB). An arena other than the main one returns its free top only when a large free finds it
// above the trim threshold, and malloc_trim() never touches it; those tops are what a thread
// that ended (base/threads.h) leaves in its arena. Fixed at 128 KiB, the trim threshold gives
// them back; the mmap threshold, fixed at 4 MiB, keeps the buffers zsfs takes and gives back
// (request buffers, zstd contexts) in the arenas rather than in an mmap() and munmap() each.
// Measured on the Linux tree untarred, settled and deleted: 1,252-1,280 kB of anonymous memory left
// (572 kB freshly mounted) against 1,932 to 3,076 kB with the moving thresholds.
void set_malloc_thresholds() {
  if (const char* tunables = std::getenv("GLIBC_TUNABLES");
      tunables != nullptr && (std::strstr(tunables, "malloc.trim_threshold") != nullptr ||
                              std::strstr(tunables, "malloc.mmap_threshold") != nullptr)) {
    return;
  }
  mallopt(M_TRIM_THRESHOLD, 128 << 10);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
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
  // Makes libfuse read requests and write replies on the device it mounted through the request
  // layer (request_layer.h) of the session's user data, the MountContext, which libfuse hands to
  // these callbacks. No request has been read yet, so the layer sees INIT.
  bool route_through_request_layer() {
    fuse_custom_io io{};
    io.read = [](int fd, void* buf, size_t size, void* userdata) {
      return static_cast<MountContext*>(userdata)->layer().read(fd, buf, size);
    };
    io.writev = [](int fd, struct iovec* iov, int count, void* userdata) {
      return static_cast<MountContext*>(userdata)->layer().writev(fd, iov, count);
    };
    return fuse_session_custom_io(session_, &io, fuse_session_fd(session_)) == 0;
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

// Opens the backing file (backing=) before anything is stored or mounted.
bool open_backing(fs::Filesystem& filesystem) {
  if (disk::Problem p = filesystem.open_backing()) {
    log_error(p.message + "; nothing mounted");
    return false;
  }
  return true;
}

// Loads the image (image=) before anything is mounted: a file that cannot be loaded leaves the
// mount point as it was, and the message says which file and what is wrong with it.
bool open_image(fs::Filesystem& filesystem) {
  bool loaded = false;
  if (disk::Problem p = filesystem.open_image(&loaded)) {
    log_error(p.message + "; nothing mounted");
    return false;
  }
  return true;
}

// The last save of the image, once no request can come any more (after an unmount, SIGTERM or
// SIGINT). A failure is logged with the image's path and gives kExitFailure: the files in
// memory are gone, the previous image stays.
int close_image(fs::Filesystem& filesystem) {
  fs::ImageSaveStats stats;
  bool skipped = false;
  if (disk::Problem p = filesystem.close_image(&stats, &skipped)) {
    log_error("the last save of the image failed: " + p.message);
    return kExitFailure;
  }
  return kExitOk;
}

// Asks for the read-ahead window (readahead=, mount/readahead.h) once the INIT reply is written.
// The default is asked for quietly: where the daemon may not set it (not root), the kernel's
// stays; an explicit readahead= that cannot be set is a warning.
void set_readahead_after_init(MountContext& ctx, const std::string& mount_point,
                              std::optional<uint64_t> requested) {
  ctx.layer().set_after_init([mount_point, requested]() noexcept {
    try {
      const Check set =
          set_mount_readahead(mount_point, requested.value_or(kDefaultReadaheadBytes));
      if (!set.ok() && requested) {
        log_warning("readahead=" + std::to_string(*requested >> 10) +
                    "k not applied, the kernel's window stays: " + set.message());
      }
    } catch (const std::exception&) {
      log_warning("readahead not applied: out of memory");
    }
  });
}

int mount_and_serve(const Options& options, const std::string& mount_point, Readiness& readiness,
                    bool background) {
  auto created = fs::Filesystem::create(options.config);
  if (!created.ok()) {
    log_error("the filesystem core refused the configuration: " + errno_text(created.error()));
    return kExitFailure;
  }
  std::unique_ptr<fs::Filesystem> filesystem = std::move(created).value();
  if (!options.config.backing_path.empty() && !open_backing(*filesystem)) return kExitFailure;
  const bool has_image = !options.config.image_path.empty();
  if (has_image && !open_image(*filesystem)) return kExitFailure;
  MountContext ctx(*filesystem, options.writeback, options.config.posix_acl);
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
    ctx.set_session(raw);
    set_readahead_after_init(ctx, mount_point, options.readahead_bytes);
    if (!session.install_signal_handlers()) {
      log_error("cannot install signal handlers");
      return kExitFailure;
    }
    if (!session.mount(mount_point)) {
      log_error("cannot mount on " + mount_point + " (see the message above)");
      return kExitFailure;
    }
    if (!session.route_through_request_layer()) {
      log_error("cannot put the request layer between libfuse and /dev/fuse");
      return kExitFailure;
    }
    // Per-mount flags libfuse cannot pass (nodiratime, nosymfollow, strictatime).
    Check attributes = apply_mount_attributes(mount_point, mount_attributes(options));
    if (!attributes.ok()) {
      std::fprintf(stderr, "zsfs: %s\n", attributes.message().c_str());
      return kExitUsage;
    }
    if (chdir("/") != 0) {
      // Only keeps the mount point's parent busy; not worth failing for.
      log_warning("cannot change to /: " + errno_text(errno));
    }
    if (background) detach_from_terminal();
    readiness.report(kExitOk);
    status = serve_until_unmounted(session.get(), options.threads);
    ctx.set_session(nullptr);  // no request comes any more; the session goes next
  }                            // unmounted and destroyed: no request can reach the core any more

  if (has_image) {
    const int saved = close_image(*filesystem);
    if (status == kExitOk) status = saved;
  }
  const int check = check_at_unmount(*filesystem);
  if (status == kExitOk) status = check;
  filesystem.reset();
  return status;
}

}  // namespace

int run_daemon(const Options& options) {
  set_malloc_thresholds();
  // Injected failures of the disk layer, for tests (disk/faults.h, zsfs(8) TESTING).
  if (const char* plan = std::getenv("ZSFS_FAULTS"); plan != nullptr) {
    if (disk::Problem p = disk::faults::set_plan(plan))
      return usage_error("ZSFS_FAULTS: " + p.message);
  }
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
