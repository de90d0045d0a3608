// The generic mount options on real mounts, against tmpfs where it takes the same: each is
// accepted, the per-mount flags show in /proc/self/mountinfo as tmpfs's do and act as they do
// (nosymfollow, nodiratime, strictatime), SELinux labels without SELinux are refused with the
// reason, and mount(8) and fstab lines pass them through.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// The fields of /proc/self/mountinfo a test looks at, for the last (the visible) mount at a
// mount point given as mountinfo shows it.
struct MountinfoLine {
  std::string device;   // major:minor
  std::string options;  // the per-mount options
};
MountinfoLine mountinfo_of(const std::string& mount_point) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  MountinfoLine found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options;
    fields >> id >> parent >> dev >> root >> point >> options;
    if (point == mount_point) found = {dev, options};
  }
  return found;
}

// The per-mount options column of /proc/self/mountinfo for the mount at path.
std::string mount_options(const std::string& path) {
  return mountinfo_of(std::filesystem::canonical(path).string()).options;
}

// Of a mount's options, those the generic options decide (access times, symbolic links).
std::string time_and_link_flags(const std::string& path) {
  std::string out;
  std::istringstream options(mount_options(path));
  std::string option;
  while (std::getline(options, option, ',')) {
    if (option.find("atime") != std::string::npos ||
        option.find("symfollow") != std::string::npos) {
      out += option + " ";
    }
  }
  return out;
}

// A tmpfs mounted with options, unmounted on destruction.
class TmpfsWith {
 public:
  explicit TmpfsWith(const std::string& options) {
    ok_ = run({"mount", "-t", "tmpfs", "-o", options, "tmpfs", dir_.path()}).status == 0;
  }
  ~TmpfsWith() {
    if (ok_) run({"umount", dir_.path()});
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return dir_.path(); }

 private:
  TempDir dir_{"zsfs-tmpfs-opts"};
  bool ok_ = false;
};

// What a directory listing and two reads do to access times, and whether a symbolic link is
// followed: the same on tmpfs and zsfs with the same options. (The second read drops the file's
// page cache first: zsfs learns of reads only when its data is not cached, see zsfs(8).)
std::string time_and_link_behaviour(const std::string& root) {
  std::string out;
  const std::string dir = root + "/dir";
  const std::string file = root + "/file";
  mkdir(dir.c_str(), 0755);
  write_file(file, "data");
  symlink("file", (root + "/link").c_str());
  // Access and modification times in the past, so that relatime updates the atime once.
  const timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  utimensat(AT_FDCWD, dir.c_str(), past, 0);
  utimensat(AT_FDCWD, file.c_str(), past, 0);
  auto atime = [](const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_atim;
  };
  auto same = [](const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
  };
  if (DIR* d = opendir(dir.c_str())) {
    while (readdir(d) != nullptr) {
    }
    closedir(d);
  }
  out += std::string("directory atime ") + (atime(dir).tv_sec == 1000000000 ? "kept" : "updated");
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[8];
  const timespec before = atime(file);
  [[maybe_unused]] ssize_t n = pread(fd, buf, sizeof buf, 0);
  const timespec first = atime(file);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  // tmpfs takes times from the kernel's coarse clock, which moves once per tick: let one pass so
  // that an update shows.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  n = pread(fd, buf, sizeof buf, 0);
  const timespec second = atime(file);
  close(fd);
  out += std::string(", file atime ") + (same(before, first) ? "kept" : "updated") + " then " +
         (same(first, second) ? "kept" : "updated");
  const int through_link = open((root + "/link").c_str(), O_RDONLY | O_CLOEXEC);
  out += ", open through a symbolic link: " +
         (through_link >= 0 ? std::string("OK") : errno_name(errno));
  if (through_link >= 0) close(through_link);
  return out;
}

TEST(MountOptions, PerMountFlagsShowAndActAsOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "tmpfs and mount_setattr(2) need root";
  for (const std::string options :
       {"nodiratime", "nosymfollow", "strictatime", "noatime", "strictatime,nodiratime",
        "relatime,norelatime", "strictatime,nostrictatime", "nosymfollow,symfollow"}) {
    SCOPED_TRACE(options);
    TmpfsWith tmpfs(options);
    ASSERT_TRUE(tmpfs.ok());
    ZsfsMount zsfs;
    ZSFS_START_OR_SKIP(zsfs, "size=16M," + options);
    // zsfs sets the flags on its mount before it serves a request: once one is answered, they
    // show (the mount appears in mountinfo a moment earlier, when mount(2) returns).
    struct statvfs st {};
    ASSERT_EQ(statvfs(zsfs.path().c_str(), &st), 0);
    EXPECT_EQ(time_and_link_flags(zsfs.path()), time_and_link_flags(tmpfs.path()));
    EXPECT_EQ(time_and_link_behaviour(zsfs.path()), time_and_link_behaviour(tmpfs.path()));
    EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
  }
}

TEST(MountOptions, FlagsWithoutEffectAreAccepted) {
  ZsfsMount zsfs;
  // Every generic option mount(8) documents that changes nothing here (zsfs(8) says why).
  ZSFS_START_OR_SKIP(zsfs,
                     "size=16M,lazytime,nolazytime,iversion,noiversion,silent,loud,mand,nomand,"
                     "defaults,auto,noauto,user,nouser,users,owner,group,_netdev,nofail,"
                     "x-systemd.automount,x-mount.mkdir,atime,diratime,symfollow,async,exec,rw");
  write_file(zsfs.path() + "/f", "x");
  EXPECT_EQ(read_file(zsfs.path() + "/f"), "x");
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

TEST(MountOptions, SelinuxLabelsWithoutSelinuxSayWhy) {
  if (access("/sys/fs/selinux/enforce", F_OK) == 0) GTEST_SKIP() << "SELinux is enabled here";
  TempDir dir;
  const RunResult refused =
      run({zsfs_binary(), dir.path(), "-f", "-o", "context=system_u:object_r:tmp_t:s0"});
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("SELinux is not enabled on this system"), std::string::npos)
      << refused.output;
  EXPECT_FALSE(mount_type(dir.path()));
}

TEST(MountOptions, NosymfollowCannotBeHadWithoutRoot) {
  if (const std::string why = why_no_unprivileged_mount(); !why.empty()) GTEST_SKIP() << why;
  DevFuseOpenToUsers open_device;
  const ZsfsCopyForUsers binary;
  TempDir dir;
  ASSERT_EQ(chown(dir.path().c_str(), kNobody, kNogroup), 0);
  RunOptions as_nobody;
  as_nobody.as_user(kNobody, kNogroup);
  const RunResult refused = run({binary.path(), dir.path(), "-f", "-o", "nosymfollow"}, as_nobody);
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("nosymfollow: cannot set it on the mount"), std::string::npos)
      << refused.output;
  EXPECT_FALSE(mount_type(dir.path()));
  // nodiratime and strictatime need no mount flag to act: the mount goes on.
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, ZsfsMount::Config::with_options("size=16M,nodiratime,strictatime")
                               .as_user(kNobody, kNogroup)
                               .with_binary(binary.path()));
  RunResult unmount = run({"fusermount3", "-u", zsfs.path()}, as_nobody);
  EXPECT_EQ(unmount.status, 0) << unmount.output;
  EXPECT_EQ(zsfs.wait_exit(std::chrono::seconds(60)), 0) << zsfs.log();
}

// The read-ahead window of the mount's backing device (mount/readahead.h), in KiB. path as
// mountinfo shows it (not resolved: root may not look into a mount of another user's).
std::string readahead_kb(const std::string& path) {
  std::ifstream window("/sys/class/bdi/" + mountinfo_of(path).device + "/read_ahead_kb");
  std::string kb;
  window >> kb;
  return kb;
}

TEST(MountOptions, ReadaheadSetsTheMountsWindowWhereItMay) {
  if (geteuid() != 0) GTEST_SKIP() << "only root may set a read-ahead window";
  for (const auto& [options, kb] : {std::pair<std::string, std::string>{"size=16M", "1024"},
                                    {"size=16M,readahead=256k", "256"},
                                    {"size=16M,readahead=0", "0"}}) {
    SCOPED_TRACE(options);
    ZsfsMount zsfs;
    ZSFS_START_OR_SKIP(zsfs, options);
    // Set once the INIT reply is written, before the first request after it is served.
    write_file(zsfs.path() + "/f", "x");
    EXPECT_EQ(readahead_kb(zsfs.path()), kb);
    EXPECT_EQ(read_file(zsfs.path() + "/f"), "x");
    EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
  }
}

TEST(MountOptions, ReadaheadThatCannotBeSetLeavesTheKernelsWindowAndSaysSoWhenAskedFor) {
  if (const std::string why = why_no_unprivileged_mount(); !why.empty()) GTEST_SKIP() << why;
  DevFuseOpenToUsers open_device;
  const ZsfsCopyForUsers binary;
  RunOptions as_nobody;
  as_nobody.as_user(kNobody, kNogroup);
  for (const auto& [options, warns] :
       {std::pair<std::string, bool>{"size=16M", false}, {"size=16M,readahead=2m", true}}) {
    SCOPED_TRACE(options);
    ZsfsMount zsfs;
    ZSFS_START_OR_SKIP(zsfs, ZsfsMount::Config::with_options(options)
                                 .as_user(kNobody, kNogroup)
                                 .with_binary(binary.path()));
    const RunResult listed = run({"ls", zsfs.path()}, as_nobody);
    EXPECT_EQ(listed.status, 0) << listed.output;
    EXPECT_EQ(readahead_kb(zsfs.path()), "128");  // the kernel's default
    RunResult unmount = run({"fusermount3", "-u", zsfs.path()}, as_nobody);
    EXPECT_EQ(unmount.status, 0) << unmount.output;
    EXPECT_EQ(zsfs.wait_exit(std::chrono::seconds(60)), 0) << zsfs.log();
    EXPECT_EQ(zsfs.log().find("readahead=2048k not applied") != std::string::npos, warns)
        << zsfs.log();
  }
}

TEST(MountOptions, ThroughMountFstabAndMountFuse3) {
  if (geteuid() != 0) GTEST_SKIP() << "mount(8) needs root";
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  if (mount_fuse3().empty()) GTEST_SKIP() << "mount.fuse3 is not installed";
  const std::string options = "size=16M,nodiratime,nosymfollow,lazytime,iversion,nofail,x-zsfs.t=1";
  auto check_and_unmount = [](const std::string& dir, const RunResult& mounted) {
    ASSERT_EQ(mounted.status, 0) << mounted.output;
    EXPECT_EQ(time_and_link_flags(dir), "nodiratime relatime nosymfollow ");
    EXPECT_EQ(run({"umount", dir}).status, 0);
  };
  {
    TempDir dir;
    check_and_unmount(dir.path(), run({"mount", "-t", "fuse", zsfs_binary() + "#none", dir.path(),
                                       "-o", options}));
  }
  {
    TempDir dir;
    TempDir etc("zsfs-fstab");
    const std::string fstab = etc.path() + "/fstab";
    write_file(fstab, zsfs_binary() + "#none " + dir.path() + " fuse " + options + ",noauto 0 0\n");
    check_and_unmount(dir.path(), run({"mount", "--fstab", fstab, dir.path()}));
  }
  {
    // What `mount -t fuse.zsfs none DIR -o OPTIONS` runs (see with_zsfs_on_path()).
    TempDir dir;
    check_and_unmount(dir.path(), run({mount_fuse3(), "none", dir.path(), "-o", "rw," + options,
                                       "-t", "fuse.zsfs"},
                                      with_zsfs_on_path()));
  }
}

}  // namespace
}  // namespace zsfs::test
