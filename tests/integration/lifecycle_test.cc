// The daemon's life: signals, unmounting from outside, SIGKILL and recovery, running in the
// background, mount(8) and fstab through mount.fuse3, and mounting as an unprivileged user
// through fusermount3.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

using namespace std::chrono_literals;

// Children of this process (a subreaper: detached daemons end up here) named zsfs.
std::vector<pid_t> zsfs_children() {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string line;
    std::getline(stat_file, line);
    // "pid (comm) state ppid ..."; comm may hold spaces, so parse from the last ')'.
    const size_t close = line.rfind(')');
    const size_t open = line.find('(');
    if (close == std::string::npos || open == std::string::npos) continue;
    const std::string comm = line.substr(open + 1, close - open - 1);
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (comm == "zsfs" && ppid == getpid() && state != 'Z') pids.push_back(std::stoi(name));
  }
  return pids;
}

// The daemon serving path among zsfs_children(): the one whose command line names path.
std::optional<pid_t> daemon_for(const std::string& path) {
  for (pid_t pid : zsfs_children()) {
    const std::string args = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (args.find(path) != std::string::npos) return pid;
  }
  return std::nullopt;
}

void expect_usable_directory(const std::string& path) {
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << errno_name(errno);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  const std::string probe = path + "/after-unmount";
  ASSERT_EQ(mkdir(probe.c_str(), 0700), 0) << errno_name(errno);
  EXPECT_EQ(rmdir(probe.c_str()), 0);
}

class LifecycleTest : public ZsfsTest {};

// Sends sig to a running daemon and expects a clean exit that leaves the mount point usable.
void expect_signal_unmounts_cleanly(ZsfsMount& zsfs, int sig) {
  write_file(zsfs.path() + "/f", "data");
  ASSERT_EQ(kill(zsfs.pid(), sig), 0);
  auto status = zsfs.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "zsfs did not exit on " << strsignal(sig);
  EXPECT_EQ(*status, 0) << zsfs.log();
  EXPECT_TRUE(wait_for_mount(zsfs.path(), false, 5s)) << "still mounted after " << strsignal(sig);
  expect_usable_directory(zsfs.path());
}

TEST_F(LifecycleTest, SigtermUnmountsCleanly) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  expect_signal_unmounts_cleanly(zsfs_, SIGTERM);
}

TEST_F(LifecycleTest, SigintUnmountsCleanly) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  expect_signal_unmounts_cleanly(zsfs_, SIGINT);
}

TEST_F(LifecycleTest, FusermountEndsTheDaemon) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  RunResult unmount = run({"fusermount3", "-u", zsfs_.path()});
  ASSERT_EQ(unmount.status, 0) << unmount.output;
  auto status = zsfs_.wait_exit(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << zsfs_.log();
  expect_usable_directory(zsfs_.path());
}

TEST_F(LifecycleTest, UmountEndsTheDaemon) {
  if (geteuid() != 0) GTEST_SKIP() << "umount(8) of a FUSE mount needs root";
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  RunResult unmount = run({"umount", zsfs_.path()});
  ASSERT_EQ(unmount.status, 0) << unmount.output;
  auto status = zsfs_.wait_exit(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << zsfs_.log();
}

// CPU time (user + system) the process has used so far, in clock ticks.
uint64_t cpu_ticks(pid_t pid) {
  const std::string line = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = line.rfind(')');
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // After "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime stime.
  std::sscanf(line.c_str() + close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
              &utime, &stime);
  return utime + stime;
}

// The request thread polls for the next request a few microseconds before it sleeps: an idle
// mount must cost no CPU.
TEST_F(LifecycleTest, AnIdleMountUsesNoCpu) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  write_file(zsfs_.path() + "/f", "data");
  EXPECT_EQ(read_file(zsfs_.path() + "/f"), "data");
  const uint64_t before = cpu_ticks(zsfs_.pid());
  std::this_thread::sleep_for(2s);
  const uint64_t used = cpu_ticks(zsfs_.pid()) - before;
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  // The background compactor looks at the pool once a second; a spinning thread would take
  // about 2 s of CPU here.
  EXPECT_LT(used, static_cast<uint64_t>(ticks_per_second / 2)) << used << " ticks in 2 s idle";
}

// threads=N (N > 1) serves through libfuse's multi-threaded loop, threads=1 through zsfs's own:
// both serve concurrent clients and stop cleanly.
TEST_F(LifecycleTest, SeveralRequestThreadsServeAndStop) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,threads=3");
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 200; ++i) {
        const std::string path = zsfs_.path() + "/c" + std::to_string(c) + "-" + std::to_string(i);
        const std::string data(static_cast<size_t>(10000 + i), static_cast<char>('a' + c));
        write_file(path, data);
        if (read_file(path) != data || unlink(path.c_str()) != 0) ++failures;
      }
    });
  }
  for (std::thread& t : clients)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  expect_signal_unmounts_cleanly(zsfs_, SIGTERM);
}

// Threads of a process with the name name.
size_t threads_named(pid_t pid, const std::string& name) {
  size_t n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    if (read_file((entry.path() / "comm").string()) == name + "\n") ++n;
  }
  return n;
}

// Reads at random from path with O_DIRECT (every read a request), from `clients` threads at once.
void read_at_random(const std::string& path, int clients, int reads_each) {
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
      ASSERT_GE(fd, 0) << errno_name(errno);
      alignas(4096) static thread_local char buf[4096];
      uint64_t x = 12345 + static_cast<uint64_t>(c);
      for (int i = 0; i < reads_each; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const off_t offset = static_cast<off_t>((x >> 33) % 1024) * 4096;
        ASSERT_EQ(pread(fd, buf, sizeof buf, offset), 4096) << errno_name(errno);
      }
      close(fd);
    });
  }
  for (std::thread& t : threads)
    t.join();
}

// threads=1: zsfs's own loop wakes a second request thread when concurrent clients keep requests
// waiting, and not for one client that waits for each reply; signals still end it cleanly.
TEST_F(LifecycleTest, ASecondRequestThreadServesConcurrentClientsOnly) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M");
  const std::string path = zsfs_.path() + "/f";
  write_file(path, compressible_data(4 << 20));
  read_at_random(path, 1, 3000);
  EXPECT_EQ(threads_named(zsfs_.pid(), "zsfs-serve2"), 0u) << "a second thread for one client";
  read_at_random(path, 4, 3000);
  EXPECT_EQ(threads_named(zsfs_.pid(), "zsfs-serve2"), 1u)
      << "no second thread for four concurrent clients";
  // It sleeps again once the clients are gone, and goes with the daemon.
  expect_signal_unmounts_cleanly(zsfs_, SIGTERM);
}

// Waits until pid has n threads named name; false if it still has not after the deadline.
bool wait_for_threads_named(pid_t pid, const std::string& name, size_t n,
                            std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (threads_named(pid, name) != n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// threads=1: a mount idle for a second keeps no request thread (its buffers and malloc cache go
// with it), nor an encoder; the next request starts one, and signals end the daemon whether one
// runs or not.
TEST_F(LifecycleTest, AnIdleMountEndsItsRequestThreadAndTheNextRequestStartsOne) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  const std::string path = zsfs_.path() + "/f";
  write_file(path, compressible_data(1 << 20));
  EXPECT_EQ(threads_named(zsfs_.pid(), "zsfs-serve"), 1u);
  ASSERT_TRUE(wait_for_threads_named(zsfs_.pid(), "zsfs-serve", 0, 30s));
  EXPECT_TRUE(wait_for_threads_named(zsfs_.pid(), "zsfs-encode", 0, 30s));
  EXPECT_EQ(read_file(path), compressible_data(1 << 20));
  EXPECT_EQ(threads_named(zsfs_.pid(), "zsfs-serve"), 1u);
  ASSERT_TRUE(wait_for_threads_named(zsfs_.pid(), "zsfs-serve", 0, 30s));
  ASSERT_EQ(kill(zsfs_.pid(), SIGTERM), 0);
  auto status = zsfs_.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "zsfs did not exit on SIGTERM while idle";
  EXPECT_EQ(*status, 0) << zsfs_.log();
  EXPECT_TRUE(wait_for_mount(zsfs_.path(), false, 5s));
}

TEST_F(LifecycleTest, SigkillLeavesADeadMountThatFusermountRemoves) {
  ZSFS_START_OR_SKIP(zsfs_, "size=32M");
  write_file(zsfs_.path() + "/f", "gone with the daemon");
  ASSERT_EQ(kill(zsfs_.pid(), SIGKILL), 0);
  auto status = zsfs_.wait_exit(30s);
  ASSERT_EQ(status, 128 + SIGKILL);
  struct stat st {};
  EXPECT_EQ(stat(zsfs_.path().c_str(), &st), -1);
  EXPECT_EQ(errno, ENOTCONN) << errno_name(errno);
  // zsfs explains what to do, and mounts nothing.
  RunResult again = run({zsfs_binary(), zsfs_.path()});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("fusermount3 -u"), std::string::npos) << again.output;
  RunResult unmount = run({"fusermount3", "-u", zsfs_.path()});
  EXPECT_EQ(unmount.status, 0) << unmount.output;
  EXPECT_TRUE(wait_for_mount(zsfs_.path(), false, 5s));
  expect_usable_directory(zsfs_.path());
  EXPECT_NE(access((zsfs_.path() + "/f").c_str(), F_OK), 0) << "RAM data outlived the daemon";
}

TEST(Background, ReportsReadinessAndServesUntilUnmounted) {
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  TempDir dir;
  RunResult started = run({zsfs_binary(), dir.path(), "-o", "size=32M"});
  if (started.status != 0 && mount_refused(started.output)) {
    GTEST_SKIP() << "FUSE mounts are refused here: " << started.output;
  }
  ASSERT_EQ(started.status, 0) << started.output;
  // The launching process exits only once the mount works.
  ASSERT_EQ(mount_type(dir.path()), "fuse.zsfs");
  auto pid = daemon_for(dir.path());
  ASSERT_TRUE(pid.has_value()) << "no daemon found for " << dir.path();
  write_file(dir.path() + "/f", "background");
  EXPECT_EQ(read_file(dir.path() + "/f"), "background");
  ASSERT_EQ(run({"fusermount3", "-u", dir.path()}).status, 0);
  EXPECT_EQ(wait_for_exit(*pid, 60s), 0);
}

TEST(Background, FailuresReportTheirExitStatus) {
  TempDir dir;
  RunResult missing = run({zsfs_binary(), dir.path() + "/missing"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  EXPECT_TRUE(zsfs_children().empty());
}

#define SKIP_UNLESS_MOUNT8_WORKS()                                             \
  do {                                                                         \
    if (geteuid() != 0) GTEST_SKIP() << "mount(8) needs root";                 \
    if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";        \
    if (mount_fuse3().empty()) GTEST_SKIP() << "mount.fuse3 is not installed"; \
  } while (0)

// Mounted by mount(8) or a helper: checks the mount, uses it, unmounts with umount(8) and
// expects the daemon to end cleanly.
void use_and_umount(const std::string& dir, uint64_t size_bytes) {
  EXPECT_EQ(mount_type(dir), "fuse.zsfs");
  EXPECT_EQ(mount_source(dir), "none");
  auto pid = daemon_for(dir);
  ASSERT_TRUE(pid.has_value()) << "no daemon serves " << dir;
  EXPECT_EQ(stat_field(dir, "mem_limit"), size_bytes);
  write_file(dir + "/f", "through mount(8)");
  EXPECT_EQ(read_file(dir + "/f"), "through mount(8)");
  RunResult unmounted = run({"umount", dir});
  EXPECT_EQ(unmounted.status, 0) << unmounted.output;
  EXPECT_EQ(wait_for_exit(*pid, std::chrono::seconds(60)), 0) << "umount did not end the daemon";
}

TEST(MountCommand, MountFuse3FindsZsfsThroughPath) {
  SKIP_UNLESS_MOUNT8_WORKS();
  TempDir dir;
  // Exactly the command line mount(8) gives the helper.
  RunResult mounted =
      run({mount_fuse3(), "none", dir.path(), "-o", "rw,size=64M,level=1", "-t", "fuse.zsfs"},
          with_zsfs_on_path());
  ASSERT_EQ(mounted.status, 0) << mounted.output;
  use_and_umount(dir.path(), 64u << 20);
}

TEST(MountCommand, Mount8) {
  SKIP_UNLESS_MOUNT8_WORKS();
  TempDir dir;
  RunResult mounted = run({"mount", "-t", "fuse", zsfs_binary() + "#none", dir.path(), "-o",
                           "size=64M,level=1,noatime"});
  ASSERT_EQ(mounted.status, 0) << mounted.output;
  use_and_umount(dir.path(), 64u << 20);
}

TEST(MountCommand, FstabLine) {
  SKIP_UNLESS_MOUNT8_WORKS();
  TempDir dir;
  TempDir etc("zsfs-fstab");
  const std::string fstab = etc.path() + "/fstab";
  write_file(fstab, "# zsfs test\n" + zsfs_binary() + "#none " + dir.path() +
                        " fuse size=32M,mode=0750,noauto,nofail,_netdev,x-zsfs.test=1 0 0\n");
  RunResult mounted = run({"mount", "--fstab", fstab, dir.path()});
  ASSERT_EQ(mounted.status, 0) << mounted.output;
  struct stat st {};
  ASSERT_EQ(stat(dir.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  use_and_umount(dir.path(), 32u << 20);
}

TEST(MountCommand, MountTypeFuseZsfsWhenInstalled) {
  SKIP_UNLESS_MOUNT8_WORKS();
  RunResult found = run({"env", "-i", "/bin/sh", "-c", "command -v zsfs"});
  if (found.status != 0) {
    GTEST_SKIP() << "zsfs is not installed where mount(8)'s helpers look (/bin/sh's default "
                    "PATH); the other MountCommand tests cover the same path with the build";
  }
  TempDir dir;
  RunResult mounted = run({"mount", "-t", "fuse.zsfs", "none", dir.path(), "-o", "size=64M"});
  ASSERT_EQ(mounted.status, 0) << mounted.output;
  use_and_umount(dir.path(), 64u << 20);
}

TEST(MountCommand, BadOptionsThroughMount8) {
  SKIP_UNLESS_MOUNT8_WORKS();
  TempDir dir;
  RunResult mounted =
      run({"mount", "-t", "fuse", zsfs_binary() + "#none", dir.path(), "-o", "size=lots"});
  EXPECT_NE(mounted.status, 0);
  EXPECT_NE(mounted.output.find("size=lots: not a number"), std::string::npos) << mounted.output;
  EXPECT_FALSE(mount_type(dir.path()));
}

// Runs zsfs as user nobody on a directory nobody owns, uses the mount as nobody and unmounts it
// with `fusermount3 -u` as nobody.
void mount_as_nobody(const std::string& options) {
  const ZsfsCopyForUsers binary;
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, ZsfsMount::Config::with_options(options)
                               .as_user(kNobody, kNogroup)
                               .with_binary(binary.path()));
  RunOptions as_nobody;
  as_nobody.as_user(kNobody, kNogroup);
  const std::string dir = shell_quote(zsfs.path());
  RunResult used =
      sh("echo hello > " + dir + "/f && cat " + dir + "/f && stat -c '%U %a' " + dir, as_nobody);
  EXPECT_EQ(used.status, 0) << used.output;
  EXPECT_EQ(used.output, "hello\nnobody 1777\n");
  RunResult stats = zsfsctl({"compact", zsfs.path()}, as_nobody);
  EXPECT_EQ(stats.status, 0) << "the mount's owner may compact: " << stats.output;
  // Without allow_other, not even root gets in.
  struct stat st {};
  EXPECT_EQ(stat((zsfs.path() + "/f").c_str(), &st), -1);
  EXPECT_EQ(errno, EACCES) << errno_name(errno);
  RunResult unmount = run({"fusermount3", "-u", zsfs.path()}, as_nobody);
  EXPECT_EQ(unmount.status, 0) << unmount.output;
  EXPECT_EQ(zsfs.wait_exit(std::chrono::seconds(60)), 0) << zsfs.log();
}

TEST(Unprivileged, MountThroughFusermount3) {
  // Root only to run the daemon as user nobody: all the rest is done as nobody.
  if (const std::string why = why_no_unprivileged_mount(); !why.empty()) GTEST_SKIP() << why;

  struct stat st {};
  ASSERT_EQ(stat("/dev/fuse", &st), 0);
  if ((st.st_mode & 0006) != 0006) {
    // Where users cannot open /dev/fuse, zsfs says so before trying.
    TempDir dir;
    ASSERT_EQ(chown(dir.path().c_str(), kNobody, kNogroup), 0);
    RunOptions as_nobody;
    as_nobody.as_user(kNobody, kNogroup);
    const ZsfsCopyForUsers binary;
    RunResult refused = run({binary.path(), dir.path(), "-f"}, as_nobody);
    EXPECT_EQ(refused.status, 1) << refused.output;
    EXPECT_NE(refused.output.find("cannot open /dev/fuse"), std::string::npos) << refused.output;
    EXPECT_FALSE(mount_type(dir.path()));
  }
  DevFuseOpenToUsers open_device;
  mount_as_nobody("size=32M");
  // auto_unmount: fusermount3 also stays to unmount should the daemon die.
  mount_as_nobody("size=32M,auto_unmount");
}

TEST(Unprivileged, ReadOnlyMount) {
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=16M,ro");
  EXPECT_EQ(mkdir((zsfs.path() + "/d").c_str(), 0755), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(stat_field(zsfs.path(), "inodes"), 1u);
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

}  // namespace
}  // namespace zsfs::test
