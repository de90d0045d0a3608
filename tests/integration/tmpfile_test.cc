// O_TMPFILE on a real zsfs mount against tmpfs: an unnamed file until linkat(2) names it
// (AT_EMPTY_PATH, or /proc/self/fd with AT_SYMLINK_FOLLOW), never with O_EXCL, its mode from the
// umask or a default ACL; and its memory given back at the last close when it stays unnamed.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// fstat() fields of an open file that zsfs and tmpfs should agree on.
std::string describe_fd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return "fstat: " + errno_name(errno);
  return "mode=" + std::to_string(st.st_mode) + " nlink=" + std::to_string(st.st_nlink) +
         " size=" + std::to_string(st.st_size) + " uid=" + std::to_string(st.st_uid);
}

size_t entries(const std::string& dir) {
  size_t count = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (readdir(d) != nullptr)
      ++count;
    closedir(d);
  }
  return count;
}

long link_fd(int fd, const std::string& path) {
  return sys(linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH));
}

long link_proc(int fd, const std::string& path) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  return sys(linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW));
}

class TmpfileTest : public ZsfsTest {};

TEST_F(TmpfileTest, UnnamedFilesAsOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH";
  ZSFS_START_OR_SKIP(zsfs_, "size=64M");
  const mode_t old_umask = umask(022);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& dir, Transcript& t) {
    const long fd = t.step("open O_TMPFILE", sys(open(dir.c_str(), O_TMPFILE | O_RDWR, 0666)));
    if (fd < 0) return;
    const int f = static_cast<int>(fd);
    t.note("unnamed: " + describe_fd(f) + ", entries " + std::to_string(entries(dir)));
    t.step("write", sys(write(f, "hello, unnamed", 14)));
    t.step("name it (AT_EMPTY_PATH)", link_fd(f, dir + "/named"));
    t.note("named: " + describe_fd(f) + ", entries " + std::to_string(entries(dir)));
    t.note("reads back as " + read_file(dir + "/named"));
    t.step("a second name (/proc/self/fd)", link_proc(f, dir + "/second"));
    t.step("the same name again", link_fd(f, dir + "/second"));
    t.note(describe_fd(f));
    t.step("unlink one", sys(unlink((dir + "/named").c_str())));
    t.step("unlink the other", sys(unlink((dir + "/second").c_str())));
    t.step("name it again once unnamed", link_fd(f, dir + "/again"));
    close(f);

    const long excl = t.step("open O_TMPFILE|O_EXCL",
                             sys(open(dir.c_str(), O_TMPFILE | O_EXCL | O_WRONLY, 0600)));
    if (excl >= 0) {
      t.step("name an O_EXCL one", link_proc(static_cast<int>(excl), dir + "/excl"));
      close(static_cast<int>(excl));
    }
    t.step("O_TMPFILE read-only", sys(open(dir.c_str(), O_TMPFILE | O_RDONLY, 0600)));
    t.step("O_TMPFILE on a file", sys(open((dir + "/again").c_str(), O_TMPFILE | O_RDWR, 0600)));
    write_file(dir + "/file", "x");
    t.step("O_TMPFILE on a regular file", sys(open((dir + "/file").c_str(), O_TMPFILE | O_RDWR)));
    t.step("O_TMPFILE in a missing directory",
           sys(open((dir + "/missing").c_str(), O_TMPFILE | O_RDWR, 0600)));

    // The directory lends its group (setgid) and its default ACL, and keeps its times.
    const std::string sub = dir + "/sgid";
    mkdir(sub.c_str(), 0775);
    t.step("chown", sys(chown(sub.c_str(), 0, 65533)));
    t.step("chmod g+s", sys(chmod(sub.c_str(), 02775)));
    struct stat before {};
    stat(sub.c_str(), &before);
    const long in_sub = sys(open(sub.c_str(), O_TMPFILE | O_RDWR, 0640));
    t.step("O_TMPFILE in a setgid directory", in_sub);
    if (in_sub >= 0) {
      struct stat st {};
      fstat(static_cast<int>(in_sub), &st);
      t.note("gid " + std::to_string(st.st_gid) + " mode " + std::to_string(st.st_mode & 07777));
      close(static_cast<int>(in_sub));
    }
    struct stat after {};
    stat(sub.c_str(), &after);
    t.note(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec ? "directory mtime kept"
                                                           : "directory mtime changed");
    // A default ACL: u:65534:rwx, m::rwx, u::rwx, g::r-x, o::---.
    const std::string acl(
        "\x02\0\0\0"
        "\x01\0\x07\0\xff\xff\xff\xff"
        "\x02\0\x07\0\xfe\xff\0\0"
        "\x04\0\x05\0\xff\xff\xff\xff"
        "\x10\0\x07\0\xff\xff\xff\xff"
        "\x20\0\0\0\xff\xff\xff\xff",
        44);
    t.step("default ACL",
           sys(setxattr(sub.c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0)));
    const long with_acl = sys(open(sub.c_str(), O_TMPFILE | O_RDWR, 0666));
    if (with_acl >= 0) {
      char value[256];
      const long size = sys(
          fgetxattr(static_cast<int>(with_acl), "system.posix_acl_access", value, sizeof value));
      t.step("inherited access ACL", size);
      t.note(describe_fd(static_cast<int>(with_acl)));
      close(static_cast<int>(with_acl));
    }
  });
  umask(old_umask);
}

TEST_F(TmpfileTest, MemoryGoesAtTheLastCloseWhenUnnamed) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M");
  // Twice: first as the mount's first open, while the kernel still sends RELEASE for files;
  // then after an open has taught it not to.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    const int fd = open(zsfs_.path().c_str(), O_TMPFILE | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << errno_name(errno);
    const std::string data = random_data(4 << 20, 7u + static_cast<unsigned>(round));
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    EXPECT_EQ(stat_field(zsfs_.path(), "data_blocks"), 1024u);
    EXPECT_EQ(stat_field(zsfs_.path(), "inodes"), 2u);
    close(fd);
    EXPECT_EQ(wait_for_stat(zsfs_.path(), "data_blocks", 0), 0u);
    EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 1), 1u);
    write_file(zsfs_.path() + "/opened", "x");  // an open: the kernel stops sending them
    ASSERT_EQ(unlink((zsfs_.path() + "/opened").c_str()), 0);
    wait_for_stat(zsfs_.path(), "inodes", 1);
  }
  EXPECT_EQ(request_count(zsfs_.path(), "tmpfile"), 2u);
}

}  // namespace
}  // namespace zsfs::test
