#include "tests/integration/harness.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "mount/mount_point.h"

extern char** environ;

namespace zsfs::test {
namespace {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

// Daemons that detach (mount(8) through mount.fuse3) are re-parented to this process, which can
// then reap them and see their exit status.
const bool kSubreaper = [] { return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }();

std::string errno_text(int err) {
  return std::strerror(err);
}

// Everything a child needs, prepared before fork() so the child only makes system calls.
struct ChildPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  bool die_with_parent = false;
  pid_t parent = 0;

  ChildPlan(const std::vector<std::string>& args, const std::vector<std::string>& extra_env)
      : argv_storage(args) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      bool overridden = false;
      for (const auto& extra : extra_env)
        overridden |= extra.substr(0, extra.find('=')) == name;
      if (!overridden) env_storage.push_back(entry);
    }
    for (const auto& extra : extra_env)
      env_storage.push_back(extra);
    for (auto& a : argv_storage)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    parent = getpid();
  }

  // In the child: default signal handling, credentials, then exec. Never returns.
  [[noreturn]] void exec(int stdin_fd, int stdout_fd) {
    if (stdin_fd >= 0) dup2(stdin_fd, STDIN_FILENO);
    if (stdout_fd >= 0) {
      dup2(stdout_fd, STDOUT_FILENO);
      dup2(stdout_fd, STDERR_FILENO);
    }
    for (int sig = 1; sig < NSIG; ++sig)
      signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (gid && (setgroups(0, nullptr) != 0 || setgid(*gid) != 0)) _exit(126);
    if (uid && setuid(*uid) != 0) _exit(126);
    // After the credentials change, which clears it.
    if (die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(125);
    }
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
};

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string canonical_or_same(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return path;
  std::string out = resolved;
  std::free(resolved);
  return out;
}

std::optional<mount::MountEntry> find_mount(const std::string& path) {
  const std::string wanted = canonical_or_same(path);
  std::optional<mount::MountEntry> found;
  for (auto& entry : mount::read_mountinfo()) {
    if (entry.mount_point == wanted || entry.mount_point == path) found = entry;  // last wins
  }
  return found;
}

}  // namespace

const std::string& zsfs_binary() {
  static const std::string path = ZSFS_BINARY;
  return path;
}

const std::string& zsfsctl_binary() {
  static const std::string path = ZSFSCTL_BINARY;
  return path;
}

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult result;
  int out[2];
  int in[2];
  if (pipe2(out, O_CLOEXEC) != 0) return result;
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return result;
  }
  ChildPlan plan(argv, options.env);
  plan.uid = options.uid;
  plan.gid = options.gid;
  const pid_t pid = fork();
  if (pid == 0) plan.exec(in[0], out[1]);
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    return result;
  }
  if (!options.input.empty()) {
    // Small inputs only: the child reads them before it writes much.
    [[maybe_unused]] ssize_t n = write(in[1], options.input.data(), options.input.size());
  }
  close(in[1]);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  char buf[65536];
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  if (timed_out) {
    kill(pid, SIGKILL);
    result.output += "\n[killed after " + std::to_string(options.timeout.count()) + " s]\n";
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = decode_status(status);
  return result;
}

RunResult sh(const std::string& script, const RunOptions& options) {
  return run({"/bin/sh", "-c", "set -eu\n" + script}, options);
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return decode_status(status);
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::optional<std::string> mount_type(const std::string& path) {
  auto entry = find_mount(path);
  if (!entry) return std::nullopt;
  return entry->fs_type;
}

std::optional<std::string> mount_source(const std::string& path) {
  auto entry = find_mount(path);
  if (!entry) return std::nullopt;
  return entry->source;
}

bool wait_for_mount(const std::string& path, bool mounted, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (mount_type(path).has_value() == mounted) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

void force_unmount(const std::string& path) {
  for (int attempt = 0; attempt < 50 && mount_type(path); ++attempt) {
    if (run({"fusermount3", "-u", path}, RunOptions().with_timeout(30s)).status == 0) {
      wait_for_mount(path, false, 2s);
    } else {
      std::this_thread::sleep_for(100ms);  // busy: a process still has something open there
    }
  }
  if (mount_type(path)) run({"fusermount3", "-u", "-z", path}, RunOptions().with_timeout(30s));
  if (mount_type(path)) run({"umount", "-l", path}, RunOptions().with_timeout(30s));
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << errno_text(errno);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (mount_type(path_)) force_unmount(path_);
  std::error_code ignored;
  stdfs::remove_all(path_, ignored);
}

bool fuse_device_present() {
  struct stat st {};
  return stat("/dev/fuse", &st) == 0 && S_ISCHR(st.st_mode);
}

std::string why_no_unprivileged_mount() {
  if (geteuid() != 0) return "needs root to run the daemon as user nobody";
  if (!fuse_device_present()) return "/dev/fuse is missing";
  if (access("/usr/bin/fusermount3", X_OK) != 0) return "fusermount3 is not installed";
  return "";
}

testing::AssertionResult ZsfsMount::start(const Config& config, const std::string& mount_point) {
  if (mount_point.empty()) {
    dir_.emplace("zsfs-it");
    mount_point_ = dir_->path();
    if (config.uid && chown(mount_point_.c_str(), *config.uid, config.gid.value_or(-1u)) != 0) {
      return testing::AssertionFailure() << "chown " << mount_point_ << ": " << errno_text(errno);
    }
  } else {
    mount_point_ = mount_point;
  }
  uid_ = config.uid;
  log_dir_.emplace("zsfs-log");
  log_path_ = log_dir_->path() + "/daemon.log";
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return testing::AssertionFailure() << "cannot create " << log_path_;
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  std::vector<std::string> argv = {config.binary.empty() ? zsfs_binary() : config.binary};
  if (!config.source.empty()) argv.push_back(config.source);
  argv.push_back(mount_point_);
  argv.push_back("-f");
  if (!config.options.empty()) {
    argv.push_back("-o");
    argv.push_back(config.options);
  }
  for (const auto& extra : config.extra_arguments)
    argv.push_back(extra);
  ChildPlan plan(argv, config.env);
  plan.uid = config.uid;
  plan.gid = config.gid;
  plan.die_with_parent = true;
  const pid_t pid = fork();
  if (pid == 0) plan.exec(null_fd, log_fd);
  close(log_fd);
  close(null_fd);
  if (pid < 0) return testing::AssertionFailure() << "fork: " << errno_text(errno);
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto type = mount_type(mount_point_);
    if (type && type->starts_with("fuse")) return testing::AssertionSuccess();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = decode_status(status);
      pid_ = -1;
      return testing::AssertionFailure()
             << "zsfs exited with status " << *exit_status_ << " before mounting:\n"
             << log();
    }
    std::this_thread::sleep_for(5ms);
  }
  return testing::AssertionFailure() << "the mount did not appear within 30 s:\n" << log();
}

bool mount_refused(const std::string& output) {
  for (const char* sign :
       {"fuse: device not found", "mount failed: Operation not permitted",
        "failed to open /dev/fuse: Operation not permitted",
        "failed to open /dev/fuse: Permission denied", "zsfs: cannot open /dev/fuse"}) {
    if (output.find(sign) != std::string::npos) return true;
  }
  return false;
}

bool ZsfsMount::refused() const {
  return mount_refused(log());
}

int ZsfsMount::stop() {
  if (pid_ < 0) {
    if (!mount_point_.empty() && mount_type(mount_point_)) force_unmount(mount_point_);
    return exit_status_.value_or(0);
  }
  force_unmount(mount_point_);
  // In debug builds the daemon runs the core's consistency check before it exits.
  auto status = wait_for_exit(pid_, 120s);
  if (!status) {
    ADD_FAILURE() << "zsfs (pid " << pid_ << ") did not exit after unmount; killing it\n" << log();
    kill(pid_, SIGKILL);
    status = wait_for_exit(pid_, 10s);
    force_unmount(mount_point_);
  }
  pid_ = -1;
  exit_status_ = status.value_or(-1);
  return *exit_status_;
}

std::optional<int> ZsfsMount::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return exit_status_;
  auto status = wait_for_exit(pid_, timeout);
  if (status) {
    pid_ = -1;
    exit_status_ = status;
  }
  return status;
}

ZsfsMount::~ZsfsMount() {
  stop();
}

std::string ZsfsMount::log() const {
  if (log_path_.empty()) return "";
  return read_file(log_path_);
}

void ZsfsTest::TearDown() {
  if (zsfs_.pid() < 0) return;  // never mounted, or the test stopped it already
  const int status = zsfs_.stop();
  EXPECT_EQ(status, 0) << "zsfs exit status at unmount; its log:\n" << zsfs_.log();
}

RunOptions with_zsfs_on_path() {
  const std::string bin_dir = std::filesystem::path(zsfs_binary()).parent_path();
  const char* path = std::getenv("PATH");
  return RunOptions().with_env("PATH=" + bin_dir + ":" +
                               (path != nullptr ? path : "/usr/bin:/bin"));
}

std::string mount_fuse3() {
  for (const char* path : {"/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

namespace {

// Copies program into dir as name, both open to every user; returns the copy's path.
std::string copy_for_users(const std::string& program, const TempDir& dir, const char* name) {
  const std::string path = dir.path() + "/" + name;
  if (chmod(dir.path().c_str(), 0755) != 0) ADD_FAILURE() << "chmod " << dir.path();
  std::error_code error;
  std::filesystem::copy_file(program, path, error);
  if (error || chmod(path.c_str(), 0755) != 0)
    ADD_FAILURE() << "cannot copy " << program << " to " << path;
  return path;
}

}  // namespace

ZsfsCopyForUsers::ZsfsCopyForUsers() : path_(copy_for_users(zsfs_binary(), dir_, "zsfs")) {}

const std::string& zsfsctl_for_users() {
  static const TempDir dir("zsfsctl-bin");
  static const std::string path = copy_for_users(zsfsctl_binary(), dir, "zsfsctl");
  return path;
}

DevFuseOpenToUsers::DevFuseOpenToUsers() {
  struct stat st {};
  if (stat("/dev/fuse", &st) == 0 && (st.st_mode & 0666) != 0666) {
    original_mode_ = st.st_mode & 07777;
    changed_ = chmod("/dev/fuse", 0666) == 0;
  }
}

DevFuseOpenToUsers::~DevFuseOpenToUsers() {
  if (changed_) chmod("/dev/fuse", original_mode_);
}

TmpfsDir::TmpfsDir(const std::string& size) {
  if (geteuid() == 0) {
    std::string pattern = "/tmp/zsfs-tmpfs-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
      if (run({"mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path_}).status == 0) {
        mounted_ = true;
        return;
      }
      rmdir(path_.c_str());
    }
  }
  std::string pattern = "/dev/shm/zsfs-it-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern;
  path_ = pattern;
}

TmpfsDir::~TmpfsDir() {
  if (mounted_) {
    if (run({"umount", path_}).status != 0) run({"umount", "-l", path_});
    rmdir(path_.c_str());
  } else {
    std::error_code ignored;
    stdfs::remove_all(path_, ignored);
  }
}

}  // namespace zsfs::test
