// Bad input and limits on a real zsfs mount, compared with tmpfs: names at NAME_MAX and one over,
// long paths and symlink targets, deep trees, writes near the largest file size, every flag
// combination of fallocate(2) and renameat2(2), xattr names and values at and over their limits,
// and one very large directory. Each gets the errno tmpfs gives, and nothing else changes.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <climits>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

class LimitsTest : public ZsfsTest {};

long make_file(const std::string& path, const std::string& data = "x") {
  const long fd = sys(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd < 0) return fd;
  const long n = sys(write(static_cast<int>(fd), data.data(), data.size()));
  close(static_cast<int>(fd));
  return n;
}

TEST_F(LimitsTest, NamesPathsAndSymlinkTargets) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string max(NAME_MAX, 'n');
    const std::string over(NAME_MAX + 1, 'o');
    t.step("create NAME_MAX", make_file(r + "/" + max));
    t.step("create NAME_MAX+1", make_file(r + "/" + over));
    t.step("stat NAME_MAX+1", sys(access((r + "/" + over).c_str(), F_OK)));
    t.step("mkdir NAME_MAX+1", sys(mkdir((r + "/" + over).c_str(), 0755)));
    t.step("symlink NAME_MAX+1", sys(symlink("x", (r + "/" + over).c_str())));
    t.step("rename to NAME_MAX+1", sys(rename((r + "/" + max).c_str(), (r + "/" + over).c_str())));
    t.step("link to NAME_MAX+1", sys(link((r + "/" + max).c_str(), (r + "/" + over).c_str())));
    // Symlink targets: PATH_MAX - 1 bytes fit, PATH_MAX do not.
    t.step("symlink target PATH_MAX-1",
           sys(symlink(std::string(PATH_MAX - 1, 't').c_str(), (r + "/long").c_str())));
    t.step("symlink target PATH_MAX",
           sys(symlink(std::string(PATH_MAX, 't').c_str(), (r + "/longer").c_str())));
    char target[PATH_MAX + 1] = {};
    t.step("readlink length", sys(readlink((r + "/long").c_str(), target, sizeof target)));
    // A path longer than PATH_MAX, built one directory at a time relative to the last.
    const std::string part(200, 'p');
    int fd = open(r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::string full = r;
    int depth = 0;
    while (full.size() <= PATH_MAX + 200) {
      if (mkdirat(fd, part.c_str(), 0755) != 0) break;
      const int next = openat(fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      close(fd);
      fd = next;
      full += "/" + part;
      ++depth;
    }
    t.note("levels of 200-byte names: " + std::to_string(depth));
    t.step("create under the long path (relative)", sys(mknodat(fd, "leaf", S_IFREG | 0644, 0)));
    close(fd);
    t.step("stat the long path (absolute)", sys(access((full + "/leaf").c_str(), F_OK)));
  });
}

TEST_F(LimitsTest, DeepTree) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    constexpr int kDepth = 1500;
    std::vector<int> fds{open(r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    int made = 0;
    for (; made < kDepth; ++made) {
      if (mkdirat(fds.back(), "d", 0755) != 0) break;
      const int next = openat(fds.back(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (next < 0) break;
      fds.push_back(next);
    }
    t.note("levels made: " + std::to_string(made));
    t.step("file at the bottom", sys(mknodat(fds.back(), "f", S_IFREG | 0600, 0)));
    t.step("rmdir a non-empty level", sys(unlinkat(fds[fds.size() - 2], "d", AT_REMOVEDIR)));
    t.step("unlink the bottom file", sys(unlinkat(fds.back(), "f", 0)));
    int removed = 0;
    for (size_t i = fds.size() - 1; i > 0; --i) {
      close(fds[i]);
      if (unlinkat(fds[i - 1], "d", AT_REMOVEDIR) == 0) ++removed;
    }
    close(fds[0]);
    t.note("levels removed: " + std::to_string(removed));
    t.step("root empty again", sys(rmdir((r + "/d").c_str())));
  });
}

TEST_F(LimitsTest, WritesNearTheLargestFileSize) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/far";
    const int fd = open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    const std::string data(100, 'z');
    for (const off_t back : {off_t{8192}, off_t{100}, off_t{50}, off_t{1}, off_t{0}}) {
      const off_t at = LLONG_MAX - back;
      t.step("pwrite 100 bytes at max-" + std::to_string(back),
             sys(pwrite(fd, data.data(), data.size(), at)));
    }
    struct stat st {};
    fstat(fd, &st);
    t.note("size: max-" + std::to_string(LLONG_MAX - st.st_size));
    char back[100];
    t.step("pread at max-50", sys(pread(fd, back, sizeof back, LLONG_MAX - 50)));
    auto from_max = [](long result) {
      return result < 0 ? errno_name(static_cast<int>(-result))
                        : "max-" + std::to_string(LLONG_MAX - result);
    };
    t.note("SEEK_DATA from 0: " + from_max(sys(lseek(fd, 0, SEEK_DATA))));
    t.step("ftruncate to max", sys(ftruncate(fd, LLONG_MAX)));
    t.step("ftruncate to -1", sys(ftruncate(fd, -1)));
    t.step("fallocate past max", sys(fallocate(fd, FALLOC_FL_KEEP_SIZE, LLONG_MAX - 10, 100)));
    t.step("ftruncate to 0", sys(ftruncate(fd, 0)));
    close(fd);
  });
  // SEEK_HOLE in the last block of a file that ends at LLONG_MAX finds the implicit hole at the
  // end, LLONG_MAX. tmpfs says EINVAL there: it rounds the hole up to the end of the last page,
  // 2^63, which overflows off_t. zsfs gives the answer lseek(2) documents.
  const int fd = open((zsfs_.path() + "/far").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string data(100, 'z');
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), LLONG_MAX - 100), 100);
  EXPECT_EQ(lseek(fd, LLONG_MAX - 50, SEEK_HOLE), LLONG_MAX);
  EXPECT_EQ(lseek(fd, 0, SEEK_DATA), LLONG_MAX / 4096 * 4096);
  EXPECT_EQ(lseek(fd, LLONG_MAX, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  close(fd);
}

TEST_F(LimitsTest, EveryFallocateMode) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/f";
    // Every combination of the seven flags, except those with FALLOC_FL_ZERO_RANGE, which zsfs
    // has and tmpfs has not (a documented difference).
    for (int mode = 0; mode < 128; ++mode) {
      if (mode & FALLOC_FL_ZERO_RANGE) continue;
      make_file(f, std::string(3 * 4096, 'q'));
      const int fd = open(f.c_str(), O_RDWR | O_CLOEXEC);
      const long result = sys(fallocate(fd, mode, 100, 5000));
      struct stat st {};
      fstat(fd, &st);
      close(fd);
      t.step("mode " + std::to_string(mode), result);
      t.note("  size " + std::to_string(st.st_size));
    }
    const int fd = open(f.c_str(), O_RDWR | O_CLOEXEC);
    t.step("negative offset", sys(fallocate(fd, 0, -1, 10)));
    t.step("zero length", sys(fallocate(fd, 0, 0, 0)));
    t.step("negative length", sys(fallocate(fd, 0, 0, -5)));
    close(fd);
    const int ro = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    t.step("read-only descriptor", sys(fallocate(ro, 0, 0, 10)));
    close(ro);
    const int dir = open(r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    t.step("directory", sys(fallocate(dir, 0, 0, 10)));
    close(dir);
  });
}

TEST_F(LimitsTest, EveryRenameFlagCombination) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    for (unsigned flags = 0; flags < 16; ++flags) {
      for (const bool target_exists : {false, true}) {
        make_file(r + "/from", "from");
        if (target_exists) {
          make_file(r + "/to", "to");
        } else {
          unlink((r + "/to").c_str());
        }
        t.step(
            "flags " + std::to_string(flags) + (target_exists ? " over a file" : " to a new name"),
            sys(renameat2(AT_FDCWD, (r + "/from").c_str(), AT_FDCWD, (r + "/to").c_str(), flags)));
        t.note("  " + std::string(access((r + "/from").c_str(), F_OK) == 0 ? "from " : "") +
               (access((r + "/to").c_str(), F_OK) == 0 ? "to=" + read_file(r + "/to") : ""));
        unlink((r + "/from").c_str());
        unlink((r + "/to").c_str());
      }
    }
  });
}

TEST_F(LimitsTest, XattrNamesAndValuesAtAndOverTheirLimits) {
  ZSFS_START_OR_SKIP(zsfs_);
  expect_same_as_tmpfs(zsfs_.path(), [](const std::string& r, Transcript& t) {
    const std::string f = r + "/f";
    make_file(f);
    auto set = [&](const std::string& name, size_t size) {
      const std::string value(size, 'v');
      return sys(setxattr(f.c_str(), name.c_str(), value.data(), value.size(), 0));
    };
    const std::string prefix = "user.";
    t.step("name of 255 bytes", set(prefix + std::string(XATTR_NAME_MAX - prefix.size(), 'n'), 1));
    t.step("name of 256 bytes",
           set(prefix + std::string(XATTR_NAME_MAX + 1 - prefix.size(), 'n'), 1));
    t.step("empty name", set("", 1));
    t.step("value of 64 KiB", set("user.big", XATTR_SIZE_MAX));
    t.step("value of 64 KiB + 1", set("user.bigger", XATTR_SIZE_MAX + 1));
    char small[4];
    t.step("get into a short buffer", sys(getxattr(f.c_str(), "user.big", small, sizeof small)));
    t.step("get size", sys(getxattr(f.c_str(), "user.big", nullptr, 0)));
    t.step("unknown namespace", set("nonsense.x", 1));
  });
}

// One directory with many entries: every name listed once, lookups work, and removing them all
// gives the memory back. ZSFS_BIG_DIR_ENTRIES sets the count: 100,000 by default, 1,000,000 in
// the release test preset (about 75 s on 2 cores, most of it in the kernel), 30,000 under tsan.
TEST_F(LimitsTest, OneVeryLargeDirectory) {
  ZSFS_START_OR_SKIP(zsfs_, "size=1G");
  const char* env = std::getenv("ZSFS_BIG_DIR_ENTRIES");
  const long count = env != nullptr ? std::atol(env) : 100000;
  const std::string d = zsfs_.path() + "/big";
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  const int dir = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  for (long i = 0; i < count; ++i) {
    ASSERT_EQ(mknodat(dir, ("entry-" + std::to_string(i)).c_str(), S_IFREG | 0644, 0), 0) << i;
  }
  // Every name listed exactly once.
  std::vector<bool> seen(static_cast<size_t>(count), false);
  long listed = 0;
  DIR* stream = fdopendir(dup(dir));
  while (const dirent* e = readdir(stream)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    ASSERT_EQ(name.rfind("entry-", 0), 0u) << name;
    const long i = std::atol(name.c_str() + 6);
    ASSERT_FALSE(seen[static_cast<size_t>(i)]) << name << " listed twice";
    seen[static_cast<size_t>(i)] = true;
    ++listed;
  }
  closedir(stream);
  EXPECT_EQ(listed, count);
  struct stat st {};
  EXPECT_EQ(fstatat(dir, ("entry-" + std::to_string(count / 2)).c_str(), &st, 0), 0);
  EXPECT_EQ(fstatat(dir, "entry-missing", &st, 0), -1);
  EXPECT_EQ(errno, ENOENT);
  for (long i = 0; i < count; ++i) {
    ASSERT_EQ(unlinkat(dir, ("entry-" + std::to_string(i)).c_str(), 0), 0) << i;
  }
  close(dir);
  ASSERT_EQ(rmdir(d.c_str()), 0);
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 1, std::chrono::seconds(30)), 1u);
}

}  // namespace
}  // namespace zsfs::test
