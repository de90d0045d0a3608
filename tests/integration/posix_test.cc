// System-call behaviour on a real zsfs mount, compared step by step with tmpfs: names and
// errors, rename flags, extended attributes, SEEK_DATA/SEEK_HOLE, fallocate, copy_file_range,
// hard links and unlink-while-open, attributes and times.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// Opens path (creating it with mode 0644 if flags say so), or returns -errno.
long open_file(const std::string& path, int flags) {
  return sys(open(path.c_str(), flags | O_CLOEXEC, 0644));
}

std::string pattern(size_t size, unsigned seed) {
  std::string data(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    data[i] = static_cast<char>('a' + (x >> 16) % 26);
  }
  return data;
}

// Writes data at offset through a fresh descriptor.
long pwrite_file(const std::string& path, const std::string& data, off_t offset) {
  const long fd = open_file(path, O_WRONLY | O_CREAT);
  if (fd < 0) return fd;
  const long n = sys(pwrite(static_cast<int>(fd), data.data(), data.size(), offset));
  close(static_cast<int>(fd));
  return n;
}

// Sorted "name: describe()" lines of a directory's entries.
std::string listing(const std::string& dir) {
  std::vector<std::string> lines;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return "opendir: " + errno_name(errno);
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    lines.push_back(shorten(name) + ": " + describe(dir + "/" + name));
  }
  closedir(d);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines)
    out += line + "\n";
  return out;
}

class PosixTest : public ZsfsTest {};

TEST_F(PosixTest, NamesAndErrors) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& root, Transcript& t) {
    const std::string d = root + "/d";
    const std::string f = root + "/f";
    t.step("mkdir d", sys(mkdir(d.c_str(), 0755)));
    t.step("mkdir d again", sys(mkdir(d.c_str(), 0755)));
    t.step("create f", sys(close(static_cast<int>(open_file(f, O_WRONLY | O_CREAT)))));
    t.step("create f O_EXCL", open_file(f, O_WRONLY | O_CREAT | O_EXCL));
    t.step("open missing", open_file(root + "/missing", O_RDONLY));
    t.step("open f/x", open_file(f + "/x", O_RDONLY));
    t.step("mkdir f/x", sys(mkdir((f + "/x").c_str(), 0755)));
    t.step("open d O_WRONLY", open_file(d, O_WRONLY));
    t.step("truncate d", sys(truncate(d.c_str(), 0)));
    t.step("rmdir f", sys(rmdir(f.c_str())));
    t.step("unlink d", sys(unlink(d.c_str())));
    t.step("create d/x", sys(close(static_cast<int>(open_file(d + "/x", O_WRONLY | O_CREAT)))));
    t.step("rmdir d (not empty)", sys(rmdir(d.c_str())));
    t.step("rmdir .", sys(rmdir((d + "/.").c_str())));
    t.step("name of 255", sys(mkdir((root + "/" + std::string(255, 'n')).c_str(), 0755)));
    t.step("name of 256", sys(mkdir((root + "/" + std::string(256, 'n')).c_str(), 0755)));
    t.step("symlink", sys(symlink("f", (root + "/l").c_str())));
    t.step("symlink target of 4095",
           sys(symlink(std::string(4095, 't').c_str(), (root + "/long").c_str())));
    t.step("symlink target of 4096",
           sys(symlink(std::string(4096, 't').c_str(), (root + "/longer").c_str())));
    char buf[64];
    t.step("readlink f", sys(readlink(f.c_str(), buf, sizeof buf)));
    t.step("readlink l", sys(readlink((root + "/l").c_str(), buf, sizeof buf)));
    t.step("open l O_NOFOLLOW", open_file(root + "/l", O_RDONLY | O_NOFOLLOW));
    t.step("mkfifo", sys(mkfifo((root + "/fifo").c_str(), 0600)));
    t.step("mknod sock", sys(mknod((root + "/sock").c_str(), S_IFSOCK | 0600, 0)));
    t.step("mknod chr", sys(mknod((root + "/chr").c_str(), S_IFCHR | 0600, makedev(1, 3))));
    t.step("mknod blk", sys(mknod((root + "/blk").c_str(), S_IFBLK | 0600, makedev(7, 0))));
    t.step("link d", sys(link(d.c_str(), (root + "/dlink").c_str())));
    t.note(listing(root));
  });
}

TEST_F(PosixTest, RenameFlags) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    auto path = [&](const char* name) { return r + "/" + name; };
    auto rename2 = [&](const char* from, const char* to, unsigned flags) {
      return sys(renameat2(AT_FDCWD, path(from).c_str(), AT_FDCWD, path(to).c_str(), flags));
    };
    t.step("write a", pwrite_file(path("a"), "contents of a", 0));
    t.step("write b", pwrite_file(path("b"), "bbb", 0));
    t.step("mkdir d", sys(mkdir(path("d").c_str(), 0755)));
    t.step("mkdir e", sys(mkdir(path("e").c_str(), 0755)));
    t.step("write e/x", pwrite_file(path("e/x"), "x", 0));
    t.step("mkdir empty", sys(mkdir(path("empty").c_str(), 0700)));
    t.step("a->b NOREPLACE", rename2("a", "b", RENAME_NOREPLACE));
    t.step("a->c NOREPLACE", rename2("a", "c", RENAME_NOREPLACE));
    t.step("c<->b EXCHANGE", rename2("c", "b", RENAME_EXCHANGE));
    t.note("b holds: " + read_file(path("b")) + ", c holds: " + read_file(path("c")));
    t.step("c<->missing EXCHANGE", rename2("c", "missing", RENAME_EXCHANGE));
    t.step("d<->b EXCHANGE (dir and file)", rename2("d", "b", RENAME_EXCHANGE));
    t.step("b<->d EXCHANGE back", rename2("b", "d", RENAME_EXCHANGE));
    t.step("EXCHANGE|NOREPLACE", rename2("b", "c", RENAME_EXCHANGE | RENAME_NOREPLACE));
    t.step("d->e (not empty)", rename2("d", "e", 0));
    t.step("d->empty", rename2("d", "empty", 0));
    t.step("c->e (file onto dir)", rename2("c", "e", 0));
    t.step("e->c (dir onto file)", rename2("e", "c", 0));
    t.step("e->e/x/sub (into itself)", rename2("e", "e/sub", 0));
    t.step("b->c (replace)", rename2("b", "c", 0));
    t.step("c->c (same)", rename2("c", "c", 0));
    t.step("missing->z", rename2("missing", "z", 0));
    t.step("c->e/moved", rename2("c", "e/moved", 0));
    t.step("e/moved->c WHITEOUT", rename2("e/moved", "c", RENAME_WHITEOUT));
    t.note(listing(r));
    t.note(listing(path("e")));
  });
}

TEST_F(PosixTest, ExtendedAttributes) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/f";
    const char* p = f.c_str();
    t.step("create", pwrite_file(f, "data", 0));
    t.step("set user.a", sys(setxattr(p, "user.a", "one", 3, 0)));
    t.step("set user.a CREATE", sys(setxattr(p, "user.a", "two", 3, XATTR_CREATE)));
    t.step("set user.b REPLACE", sys(setxattr(p, "user.b", "x", 1, XATTR_REPLACE)));
    t.step("set user.a REPLACE", sys(setxattr(p, "user.a", "three", 5, XATTR_REPLACE)));
    t.step("set user.b CREATE", sys(setxattr(p, "user.b", "", 0, XATTR_CREATE)));
    t.step("set trusted.t", sys(setxattr(p, "trusted.t", "t", 1, 0)));
    t.step("set user.big 64 KiB",
           sys(setxattr(p, "user.big", std::string(65536, 'v').data(), 65536, 0)));
    t.step("set user.big2 64 KiB + 1",
           sys(setxattr(p, "user.big2", std::string(65537, 'v').data(), 65537, 0)));
    t.step("set long name", sys(setxattr(p, ("user." + std::string(250, 'n')).c_str(), "v", 1, 0)));
    t.step("set too long name",
           sys(setxattr(p, ("user." + std::string(251, 'n')).c_str(), "v", 1, 0)));
    t.step("set unknown namespace", sys(setxattr(p, "bogus.x", "v", 1, 0)));
    char buf[16];
    t.step("size of user.a", sys(getxattr(p, "user.a", nullptr, 0)));
    const long n = t.step("get user.a", sys(getxattr(p, "user.a", buf, sizeof buf)));
    if (n >= 0) t.note("user.a = " + std::string(buf, static_cast<size_t>(n)));
    t.step("get user.a into 2 bytes", sys(getxattr(p, "user.a", buf, 2)));
    t.step("get user.b (empty)", sys(getxattr(p, "user.b", buf, sizeof buf)));
    t.step("get missing", sys(getxattr(p, "user.missing", buf, sizeof buf)));
    t.step("size of list", sys(listxattr(p, nullptr, 0)));
    t.step("list into 4 bytes", sys(listxattr(p, buf, 4)));
    std::string names(1024, '\0');
    const long listed = sys(listxattr(p, names.data(), names.size()));
    t.step("list", listed);
    if (listed >= 0) {
      std::set<std::string> sorted;
      for (size_t i = 0; i < static_cast<size_t>(listed);) {
        const std::string name(names.data() + i);
        sorted.insert(name.size() > 20 ? name.substr(0, 20) + "..." : name);
        i += name.size() + 1;
      }
      for (const auto& name : sorted)
        t.note("  " + name);
    }
    t.step("remove user.a", sys(removexattr(p, "user.a")));
    t.step("remove user.a again", sys(removexattr(p, "user.a")));
    t.step("symlink", sys(symlink("f", (r + "/l").c_str())));
    t.step("user.x on a symlink", sys(lsetxattr((r + "/l").c_str(), "user.x", "v", 1, 0)));
    t.step("mkfifo", sys(mkfifo((r + "/fifo").c_str(), 0600)));
    t.step("user.x on a fifo", sys(lsetxattr((r + "/fifo").c_str(), "user.x", "v", 1, 0)));
    t.step("get user.x on a fifo", sys(lgetxattr((r + "/fifo").c_str(), "user.x", buf, 16)));
    t.step("mkdir", sys(mkdir((r + "/d").c_str(), 0755)));
    t.step("user.x on a dir", sys(setxattr((r + "/d").c_str(), "user.x", "dir", 3, 0)));
    t.step("get user.x on a dir", sys(getxattr((r + "/d").c_str(), "user.x", buf, 16)));
  });
}

TEST_F(PosixTest, SeekDataAndHole) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/sparse";
    t.step("data at 0", pwrite_file(f, pattern(4096, 1), 0));
    t.step("data at 1 MiB", pwrite_file(f, pattern(4096, 2), 1 << 20));
    t.step("small data at 3 MiB + 100", pwrite_file(f, "xyz", (3 << 20) + 100));
    t.step("extend to 4 MiB", sys(truncate(f.c_str(), 4 << 20)));
    const int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    for (off_t at : {0L, 100L, 4096L, 8192L, 1L << 20, (1L << 20) + 4096, 3L << 20,
                     (3L << 20) + 5000, (4L << 20) - 1, 4L << 20, 5L << 20}) {
      t.step("SEEK_DATA " + std::to_string(at) + " -> " + std::to_string(lseek(fd, at, SEEK_DATA)),
             0);
      t.step("SEEK_HOLE " + std::to_string(at) + " -> " + std::to_string(lseek(fd, at, SEEK_HOLE)),
             0);
    }
    close(fd);
    t.note(describe(f));
  });
}

TEST_F(PosixTest, FallocateModes) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/f";
    const int fd = open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    t.step("allocate 1 MiB", sys(fallocate(fd, 0, 0, 1 << 20)));
    t.note(describe(f));
    t.step("SEEK_DATA 0 -> " + std::to_string(lseek(fd, 0, SEEK_DATA)), 0);
    t.step("keep size beyond the end", sys(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20)));
    t.note(describe(f));
    t.step("write 64 KiB", sys(pwrite(fd, pattern(65536, 3).data(), 65536, 0)));
    t.step("punch 8 KiB at 4 KiB",
           sys(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192)));
    t.step("punch unaligned",
           sys(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 20000, 10000)));
    t.step("punch without KEEP_SIZE", sys(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)));
    t.step("collapse range", sys(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096)));
    t.step("insert range", sys(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096)));
    t.step("negative length", sys(fallocate(fd, 0, 0, -1)));
    t.note(describe(f));
    char buf[65536];
    const ssize_t n = pread(fd, buf, sizeof buf, 0);
    std::string expected = pattern(65536, 3);
    std::fill(expected.begin() + 4096, expected.begin() + 4096 + 8192, '\0');
    std::fill(expected.begin() + 20000, expected.begin() + 30000, '\0');
    t.note(std::string("contents after punching ") +
           (n == 65536 && std::string(buf, 65536) == expected ? "as expected" : "WRONG"));
    close(fd);
  });
}

TEST_F(PosixTest, ZeroRange) {
  // tmpfs has no FALLOC_FL_ZERO_RANGE; zsfs does.
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string f = zsfs_.path() + "/f";
  write_file(f, pattern(65536, 4));
  const int fd = open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_ZERO_RANGE, 1000, 10000), 0) << errno_name(errno);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 60000, 10000), 0);
  struct stat st {};
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, 65536);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_ZERO_RANGE, 60000, 10000), 0);
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, 70000);
  close(fd);
  std::string expected = pattern(65536, 4);
  std::fill(expected.begin() + 1000, expected.begin() + 11000, '\0');
  expected.resize(70000, '\0');
  std::fill(expected.begin() + 60000, expected.end(), '\0');
  EXPECT_TRUE(read_file(f) == expected);
}

TEST_F(PosixTest, CopyFileRange) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string src = r + "/src";
    const std::string dst = r + "/dst";
    const std::string data = pattern((1 << 20) + 100, 5);
    t.step("write src", pwrite_file(src, data, 0));
    const int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = open(dst.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    loff_t off_in = 0;
    loff_t off_out = 0;
    size_t copied = 0;
    for (;;) {
      const ssize_t n = copy_file_range(in, &off_in, out, &off_out, data.size() - copied, 0);
      if (n <= 0) {
        t.step("copy whole file ended", sys(n));
        break;
      }
      copied += static_cast<size_t>(n);
    }
    t.note("copied " + std::to_string(copied));
    off_in = 1000;
    off_out = 300;
    t.step("copy 5000 unaligned bytes", sys(copy_file_range(in, &off_in, out, &off_out, 5000, 0)));
    off_in = static_cast<loff_t>(data.size());
    t.step("copy from the end", sys(copy_file_range(in, &off_in, out, &off_out, 100, 0)));
    off_in = 0;
    off_out = 4096;
    t.step("copy onto itself, overlapping",
           sys(copy_file_range(out, &off_in, out, &off_out, 8192, 0)));
    t.step("copy with flags", sys(copy_file_range(in, nullptr, out, nullptr, 10, 1)));
    close(in);
    close(out);
    std::string expected = data;
    std::copy(data.begin() + 1000, data.begin() + 6000, expected.begin() + 300);
    t.note(std::string("dst ") + (read_file(dst) == expected ? "as expected" : "WRONG"));
    t.note(describe(dst));
  });
}

TEST_F(PosixTest, HardLinksAndUnlinkWhileOpen) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/f";
    const std::string g = r + "/g";
    t.step("write f", pwrite_file(f, "hello", 0));
    t.step("link f g", sys(link(f.c_str(), g.c_str())));
    t.step("link f g again", sys(link(f.c_str(), g.c_str())));
    t.note("f " + describe(f));
    t.step("unlink f", sys(unlink(f.c_str())));
    t.note("g " + describe(g));
    const int fd = open(g.c_str(), O_RDWR | O_CLOEXEC);
    t.step("unlink g while open", sys(unlink(g.c_str())));
    struct stat st {};
    fstat(fd, &st);
    t.note("open file: nlink " + std::to_string(st.st_nlink) + " size " +
           std::to_string(st.st_size));
    t.step("write through the descriptor", sys(pwrite(fd, " world", 6, 5)));
    char buf[32] = {};
    t.step("read through the descriptor", sys(pread(fd, buf, sizeof buf, 0)));
    t.note(std::string("read: ") + buf);
    t.step("fchmod", sys(fchmod(fd, 0600)));
    fstat(fd, &st);
    t.note("after: mode " + std::to_string(st.st_mode & 07777) + " size " +
           std::to_string(st.st_size));
    t.step("lookup g", sys(access(g.c_str(), F_OK)));
    close(fd);
    t.note(listing(r));
  });
}

void attributes_and_times(const std::string& r, Transcript& t) {
  const std::string f = r + "/f";
  t.step("write", pwrite_file(f, "0123456789", 0));
  t.step("chmod 4755", sys(chmod(f.c_str(), 04755)));
  t.step("chown 1000:1000", sys(chown(f.c_str(), 1000, 1000)));
  t.note(describe(f));
  t.step("chmod 6755", sys(chmod(f.c_str(), 06755)));
  // A write by root does not clear setuid (root has CAP_FSETID); truncate keeps it too.
  t.step("append", pwrite_file(f, "more", 10));
  t.note(describe(f));
  t.step("truncate grow", sys(truncate(f.c_str(), 100000)));
  t.note(describe(f));
  t.step("truncate shrink", sys(truncate(f.c_str(), 5)));
  t.note(describe(f) + " contents " + read_file(f));

  const timespec set[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
  t.step("utimensat values", sys(utimensat(AT_FDCWD, f.c_str(), set, 0)));
  struct stat st {};
  stat(f.c_str(), &st);
  t.note("atime " + std::to_string(st.st_atim.tv_sec) + "." + std::to_string(st.st_atim.tv_nsec) +
         " mtime " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  const timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  const time_t before = time(nullptr);
  t.step("utimensat OMIT/NOW", sys(utimensat(AT_FDCWD, f.c_str(), omit_now, 0)));
  stat(f.c_str(), &st);
  t.note(std::string("atime kept ") + (st.st_atim.tv_sec == 1000000000 ? "yes" : "no") +
         ", mtime now " + (st.st_mtim.tv_sec >= before ? "yes" : "no"));
  const timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  t.step("utimensat NOW/OMIT", sys(utimensat(AT_FDCWD, f.c_str(), now_omit, 0)));
  stat(f.c_str(), &st);
  t.note(std::string("atime now ") + (st.st_atim.tv_sec >= before ? "yes" : "no"));
  t.step("lutimes a symlink", sys(symlink("f", (r + "/l").c_str())));
  t.step("utimensat NOFOLLOW",
         sys(utimensat(AT_FDCWD, (r + "/l").c_str(), set, AT_SYMLINK_NOFOLLOW)));
  struct stat lst {};
  lstat((r + "/l").c_str(), &lst);
  t.note("symlink mtime " + std::to_string(lst.st_mtim.tv_sec));

  // setgid directories pass their group on, and their setgid bit to subdirectories.
  const std::string d = r + "/sgid";
  t.step("mkdir sgid", sys(mkdir(d.c_str(), 0775)));
  t.step("chown sgid", sys(chown(d.c_str(), 0, 1234)));
  t.step("chmod 2775", sys(chmod(d.c_str(), 02775)));
  t.step("file in sgid", pwrite_file(d + "/file", "x", 0));
  t.step("dir in sgid", sys(mkdir((d + "/sub").c_str(), 0755)));
  t.note(listing(d));

  // O_APPEND and O_TRUNC.
  const std::string a = r + "/append";
  t.step("write append", pwrite_file(a, "start", 0));
  const int fd = open(a.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  t.step("pwrite at 0 with O_APPEND", sys(pwrite(fd, "-end", 4, 0)));
  t.step("write with O_APPEND", sys(write(fd, "!", 1)));
  close(fd);
  t.note("append holds " + read_file(a));
  t.step("open O_TRUNC", sys(close(static_cast<int>(open_file(a, O_WRONLY | O_TRUNC)))));
  t.note(describe(a));
}

TEST_F(PosixTest, AttributesAndTimes) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), attributes_and_times);
}

TEST_F(PosixTest, AttributesAndTimesWithWritebackCache) {
  // With the writeback cache the kernel keeps sizes, times and O_APPEND itself.
  ZSFS_START_OR_SKIP(zsfs_, "size=256M,writeback=on");
  expect_same_as_tmpfs(zsfs_.path(), attributes_and_times);
}

TEST_F(PosixTest, ReaddirWhileEntriesComeAndGo) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string dir = zsfs_.path() + "/d";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  constexpr int kFiles = 2000;
  for (int i = 0; i < kFiles; ++i)
    write_file(dir + "/f" + std::to_string(i), "");
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  std::map<std::string, int> seen;
  int read_count = 0;
  while (const dirent* e = readdir(d)) {
    ++seen[e->d_name];
    if (++read_count == kFiles / 2) {
      // Half way: add entries and remove some not necessarily seen yet. Entries present for the
      // whole listing must still come exactly once.
      for (int i = 0; i < 200; ++i)
        write_file(dir + "/new" + std::to_string(i), "");
      for (int i = 0; i < kFiles; i += 10)
        unlink((dir + "/f" + std::to_string(i)).c_str());
    }
  }
  closedir(d);
  EXPECT_EQ(seen["."], 1);
  EXPECT_EQ(seen[".."], 1);
  for (int i = 0; i < kFiles; ++i) {
    if (i % 10 == 0) continue;  // removed during the listing: may or may not appear
    EXPECT_EQ(seen["f" + std::to_string(i)], 1) << "f" << i;
  }
  for (const auto& [name, count] : seen)
    EXPECT_LE(count, 1) << name;
}

TEST_F(PosixTest, ReaddirplusLookupCountsStayBalanced) {
  // `ls -l` (readdirplus) of a big directory, then removing everything: if a lookup reference
  // were lost or doubled, the daemon's consistency check at unmount would say so.
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string dir = zsfs_.path() + "/d";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  for (int i = 0; i < 3000; ++i)
    write_file(dir + "/file-with-a-long-name-" + std::to_string(i), "x");
  for (int round = 0; round < 3; ++round) {
    RunResult ls = run({"ls", "-l", dir});
    ASSERT_EQ(ls.status, 0) << ls.output;
    EXPECT_EQ(std::count(ls.output.begin(), ls.output.end(), '\n'), 3001);
  }
  ASSERT_EQ(run({"rm", "-rf", dir}).status, 0);
  // Make the kernel forget its inodes, so the daemon sees the forgets too.
  if (geteuid() == 0) run({"sh", "-c", "echo 2 > /proc/sys/vm/drop_caches"});
}

}  // namespace
}  // namespace zsfs::test
