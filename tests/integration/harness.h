// The integration tests' harness: real zsfs mounts in fresh temporary directories, tmpfs
// directories to compare with, and commands run as child processes.
//
// ZsfsMount runs the built daemon in the foreground (-f) as a child of the test, waits until the
// mount appears in /proc/self/mountinfo, and always unmounts and reaps it: on stop(), in its
// destructor when a test fails part way, and when the test process dies (the daemon gets SIGTERM
// through PR_SET_PDEATHSIG, and unmounts itself), which covers CTest killing a test that ran
// past its TIMEOUT. The daemon's output goes to a log file shown when something fails.
//
// The test process makes itself a child subreaper, so daemons that go to the background (mount(8)
// through mount.fuse3) become its children and are reaped too.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mount/json_reader.h"

namespace zsfs::test {

// The unprivileged user and group the tests act as.
inline constexpr uid_t kNobody = 65534;
inline constexpr gid_t kNogroup = 65534;

// Paths of the programs under test (compile definitions from tests/integration/CMakeLists.txt).
const std::string& zsfs_binary();
const std::string& zsfsctl_binary();

// --- Processes ---------------------------------------------------------------------------------

struct RunOptions {
  std::optional<uid_t> uid;  // run as this user (and gid), with no supplementary groups
  std::optional<gid_t> gid;
  std::vector<std::string> env;  // extra "NAME=value" entries
  std::chrono::seconds timeout{120};
  std::string input;  // written to the child's stdin

  RunOptions& as_user(uid_t user, gid_t group) {
    uid = user;
    gid = group;
    return *this;
  }
  RunOptions& with_env(std::string entry) {
    env.push_back(std::move(entry));
    return *this;
  }
  RunOptions& with_timeout(std::chrono::seconds seconds) {
    timeout = seconds;
    return *this;
  }
  RunOptions& with_input(std::string text) {
    input = std::move(text);
    return *this;
  }
};

struct RunResult {
  int status = -1;     // exit status; 128+N when killed by signal N; -1 when it could not run
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv (argv[0] looked up in PATH) and collects its output.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});
// Runs a shell script with `set -eu`.
RunResult sh(const std::string& script, const RunOptions& options = {});

// Single-quotes text for the shell.
std::string shell_quote(const std::string& text);

// Waits up to timeout for pid (a child) to exit; its exit status (128+N for signal N), or
// nothing on timeout.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// mount(8) runs mount.fuse3 for fuse.* types, which runs `/bin/sh -c 'zsfs SOURCE DIR -o
// rw,...,dev,suid'`: zsfs is found through PATH. mount(8) clears PATH for its helpers, so the shell
// searches its built-in default (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin),
// where an installed zsfs lives but the one built here does not. So: mount.fuse3 is tested with
// the build directory on PATH (what `mount -t fuse.zsfs` does with an installed zsfs); mount(8)
// and fstab with the "PROGRAM#SOURCE" form of type fuse, which names the program by path; and
// `mount -t fuse.zsfs` itself where zsfs is installed.
RunOptions with_zsfs_on_path();
// mount.fuse3's path, or empty where it is not installed.
std::string mount_fuse3();

// --- Mount table ---------------------------------------------------------------------------------

// The type ("fuse.zsfs", "tmpfs") of the mount at path, if path is a mount point.
std::optional<std::string> mount_type(const std::string& path);
// The source column of the mount at path.
std::optional<std::string> mount_source(const std::string& path);
// Waits until path is (or is no longer) a mount point.
bool wait_for_mount(const std::string& path, bool mounted, std::chrono::milliseconds timeout);
// Unmounts a FUSE mount, retrying while busy and detaching lazily at the end.
void force_unmount(const std::string& path);

// A fresh directory under /tmp, removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "zsfs-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- zsfs ------------------------------------------------------------------------------------

// Whether /dev/fuse exists.
bool fuse_device_present();
// Why a test that runs the daemon as user nobody, mounting through fusermount3, cannot run here
// (not root, no /dev/fuse, no fusermount3); empty when it can.
std::string why_no_unprivileged_mount();
// A copy of the zsfs built here that any user may run, whatever the build directory's modes, in
// a fresh directory removed on destruction.
class ZsfsCopyForUsers {
 public:
  ZsfsCopyForUsers();
  const std::string& path() const { return path_; }

 private:
  TempDir dir_{"zsfs-bin"};
  std::string path_;
};

// The same for zsfsctl, made once per test program (and removed at its exit): what zsfsctl()
// runs for a user other than root.
const std::string& zsfsctl_for_users();

// Gives /dev/fuse the usual mode 0666 for as long as it lives, if it has a narrower one (some
// containers make it 0600): libfuse and fusermount3 open it with the user's own rights. A
// root-only setup step for tests that mount as another user, undone afterwards.
class DevFuseOpenToUsers {
 public:
  DevFuseOpenToUsers();
  ~DevFuseOpenToUsers();
  DevFuseOpenToUsers(const DevFuseOpenToUsers&) = delete;
  DevFuseOpenToUsers& operator=(const DevFuseOpenToUsers&) = delete;

 private:
  bool changed_ = false;
  mode_t original_mode_ = 0;
};

// Whether zsfs's output says this system refuses FUSE mounts (to this user), so a test should
// skip rather than fail.
bool mount_refused(const std::string& output);

class ZsfsMount {
 public:
  struct Config {
    std::string options;       // for -o, e.g. "size=64M"
    std::string source;        // empty: none given
    std::optional<uid_t> uid;  // run the daemon as this user
    std::optional<gid_t> gid;
    std::vector<std::string> extra_arguments;  // more command-line arguments
    std::string binary;                        // empty: the zsfs built here
    std::vector<std::string> env;              // extra "NAME=value" for the daemon

    static Config with_options(std::string options) {
      Config config;
      config.options = std::move(options);
      return config;
    }
    Config& from_source(std::string name) {
      source = std::move(name);
      return *this;
    }
    Config& as_user(uid_t user, gid_t group) {
      uid = user;
      gid = group;
      return *this;
    }
    Config& with_argument(std::string argument) {
      extra_arguments.push_back(std::move(argument));
      return *this;
    }
    Config& with_binary(std::string path) {
      binary = std::move(path);
      return *this;
    }
    Config& with_env(std::string entry) {
      env.push_back(std::move(entry));
      return *this;
    }
  };

  ZsfsMount() = default;
  ~ZsfsMount();
  ZsfsMount(const ZsfsMount&) = delete;
  ZsfsMount& operator=(const ZsfsMount&) = delete;

  // Mounts on a fresh directory (or on mount_point if given). Fails if the daemon exits or the
  // mount does not appear within a while.
  testing::AssertionResult start(const Config& config, const std::string& mount_point = "");
  testing::AssertionResult start(const std::string& options = "size=256M") {
    return start(Config::with_options(options));
  }
  // Whether start() failed because this system refuses FUSE mounts (so the test should skip).
  bool refused() const;

  // Unmounts and reaps the daemon; returns its exit status (0 expected: in debug builds the
  // core's consistency check runs at unmount and a failure gives 3). Idempotent.
  int stop();
  // Waits for the daemon to exit by itself (after a signal, or an unmount from outside) and
  // reaps it; its exit status, or nothing on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  const std::string& path() const { return mount_point_; }
  pid_t pid() const { return pid_; }
  std::string log() const;  // the daemon's output so far

 private:
  std::string mount_point_;
  std::optional<TempDir> dir_;  // the mount point, when start() made it
  std::optional<TempDir> log_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::optional<uid_t> uid_;
};

// Starts mount with options in a test body; skips the test where FUSE is unavailable.
#define ZSFS_START_OR_SKIP(mount, ...)                                                     \
  do {                                                                                     \
    if (!::zsfs::test::fuse_device_present()) {                                            \
      GTEST_SKIP() << "/dev/fuse is missing: FUSE integration tests need the fuse module"; \
    }                                                                                      \
    auto zsfs_started_ = (mount).start(__VA_ARGS__);                                       \
    if (!zsfs_started_ && (mount).refused()) {                                             \
      GTEST_SKIP() << "this system refuses FUSE mounts:\n" << (mount).log();               \
    }                                                                                      \
    ASSERT_TRUE(zsfs_started_);                                                            \
  } while (0)

// A test with one zsfs mount (started by the test body with ZSFS_START_OR_SKIP). TearDown
// unmounts it and expects the daemon to exit with status 0, which in debug builds includes a
// clean consistency check of the core.
class ZsfsTest : public ::testing::Test {
 protected:
  void TearDown() override;
  ZsfsMount zsfs_;
};

// A tmpfs directory to compare with: a private tmpfs mount when root, else a fresh directory
// under /dev/shm.
class TmpfsDir {
 public:
  explicit TmpfsDir(const std::string& size = "1G");
  ~TmpfsDir();
  TmpfsDir(const TmpfsDir&) = delete;
  TmpfsDir& operator=(const TmpfsDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

// Runs `zsfsctl args...` and returns its result (as another user: zsfsctl_for_users()).
RunResult zsfsctl(const std::vector<std::string>& args, const RunOptions& options = {});

// Reads a virtual xattr (one getxattr with a large buffer) and parses it as JSON.
Json read_json_xattr(const std::string& path, const std::string& name);
// Waits until the daemon's background work on what was written (compression, deduplication) is
// done, so statistics are final: reading user.zsfs.check does that (root or the owner only).
void settle(const std::string& mount_point);
// A u64 field of the root's user.zsfs.stats, settled first.
uint64_t stat_field(const std::string& mount_point, const std::string& field);
// How many FUSE requests of one kind (the names of user.zsfs.stats's "requests", such as
// "getxattr") the daemon has served. Reading it is itself one getxattr.
uint64_t request_count(const std::string& mount_point, const std::string& op);
// Waits until a field of user.zsfs.stats has the expected value and returns its last value.
// Needed after removing files: the kernel tells the daemon it forgot an inode (FUSE_FORGET)
// asynchronously, a moment after unlink(2) has returned, and the core frees an inode and its
// data only then.
uint64_t wait_for_stat(const std::string& mount_point, const std::string& field, uint64_t expected,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

// --- Files -----------------------------------------------------------------------------------

void write_file(const std::string& path, const std::string& data);
// Writes data to path (created or truncated) until done or a write fails; returns the bytes
// written and sets err to the failure's errno (0 when all went in and the close succeeded).
size_t write_until_error(const std::string& path, const std::string& data, int& err);
std::string read_file(const std::string& path);

// Test data. Compressible blocks are text-like and compress about 3:1 with zstd, yet each 4 KiB
// block (by its index) is different, so dedup does not fold them. Random bytes do not compress.
void fill_compressible(char* out, size_t size, uint64_t first_block);
std::string compressible_data(size_t size, uint64_t first_block = 0);
std::string random_data(size_t size, uint64_t seed);
// A fast 64-bit checksum for comparing large data.
uint64_t checksum(const char* data, size_t size, uint64_t seed = 0);

// Turns errno values into names ("ENOENT") for readable transcripts.
std::string errno_name(int err);

// A system call's result as Transcript::step takes it: the result, or -errno. Wrap the call
// itself, so errno is read before anything else can change it: step("x", sys(mkdir(...))).
inline long sys(long result) {
  return result < 0 ? -errno : result;
}

// A record of operations and their outcomes, compared between zsfs and tmpfs.
class Transcript {
 public:
  // Records "what: OK" when result >= 0, else "what: <errno name>" (result is -errno, see
  // sys()); returns result.
  long step(const std::string& what, long result);
  void note(const std::string& line);
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// Runs scenario in a forked child with these credentials (real, effective and saved uid and gid,
// the supplementary groups, and so no capabilities unless uid is 0) and returns its transcript.
// The child only makes system calls and records them (no gtest); call it while the test process
// has no other threads.
std::string transcript_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                          const std::function<void(Transcript&)>& scenario);

// Runs scenario on a fresh directory under zsfs_root and one on a fresh tmpfs, expects identical
// transcripts, and returns zsfs's (for a test to check that it says what it should).
std::string expect_same_as_tmpfs(
    const std::string& zsfs_root,
    const std::function<void(const std::string&, Transcript&)>& scenario);

// stat() fields that zsfs and tmpfs should agree on, as one line: no inode numbers or times;
// size and blocks for regular files only (directory sizes and the sizes of special files are
// filesystem-specific); symlinks with size and (shortened) target.
std::string describe(const std::string& path);
// text itself, or its start and length when it is long.
std::string shorten(const std::string& text);

}  // namespace zsfs::test
