// The memory budget (size=) and the inode limit (nr_inodes=) on a real mount: writes fail with
// ENOSPC when the budget is spent, everything written before reads back intact, deleting frees
// room for new writes, and statfs (df) agrees with the statistics.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

struct Written {
  std::string path;
  uint64_t seed;
  size_t bytes;  // how much of the file's data went in before ENOSPC
};

class BudgetTest : public ZsfsTest {};

TEST_F(BudgetTest, FillUntilEnospcThenDeleteAndWriteAgain) {
  ZSFS_START_OR_SKIP(zsfs_, "size=16M");
  constexpr size_t kFileBytes = 1 << 20;
  std::vector<Written> files;
  int err = 0;
  // Random data does not compress: the budget fills after about 16 files.
  for (uint64_t i = 0; i < 64 && err == 0; ++i) {
    const std::string path = zsfs_.path() + "/f" + std::to_string(i);
    const size_t bytes = write_until_error(path, random_data(kFileBytes, i), err);
    files.push_back(Written{path, i, bytes});
  }
  ASSERT_EQ(err, ENOSPC) << "16 MiB took more than 64 MiB of random data: " << errno_name(err);
  EXPECT_GE(files.size(), 8u) << "the budget ran out far too early";

  for (const Written& file : files) {
    const std::string data = read_file(file.path);
    ASSERT_GE(data.size(), file.bytes) << file.path;
    EXPECT_TRUE(data.substr(0, file.bytes) ==
                random_data(kFileBytes, file.seed).substr(0, file.bytes))
        << file.path << " changed";
  }

  // statfs and the statistics tell the same story.
  struct statvfs st {};
  ASSERT_EQ(statvfs(zsfs_.path().c_str(), &st), 0);
  const uint64_t limit = stat_field(zsfs_.path(), "mem_limit");
  const uint64_t used = stat_field(zsfs_.path(), "mem_used_total");
  EXPECT_EQ(st.f_blocks * st.f_frsize, limit);
  const uint64_t df_used = (st.f_blocks - st.f_bfree) * st.f_frsize;
  EXPECT_GE(df_used + st.f_frsize, used) << "df used " << df_used << ", stats used " << used;
  EXPECT_LE(df_used, used + st.f_frsize) << "df used " << df_used << ", stats used " << used;
  EXPECT_LT(st.f_bavail * st.f_frsize, 2u * kFileBytes) << "a full filesystem shows free space";
  RunResult df = run({"df", "-B1", "--output=size", zsfs_.path()});
  EXPECT_NE(df.output.find(std::to_string(limit)), std::string::npos) << df.output;

  // Deleting frees room: the same amount fits again.
  const uint64_t inodes = stat_field(zsfs_.path(), "inodes");
  for (size_t i = 0; i < files.size() / 2; ++i)
    ASSERT_EQ(unlink(files[i].path.c_str()), 0);
  wait_for_stat(zsfs_.path(), "inodes", inodes - files.size() / 2);
  for (uint64_t i = 0; i < 4; ++i) {
    const std::string path = zsfs_.path() + "/again" + std::to_string(i);
    EXPECT_EQ(write_until_error(path, random_data(kFileBytes, 1000 + i), err), kFileBytes);
    EXPECT_EQ(err, 0) << errno_name(err);
    EXPECT_TRUE(read_file(path) == random_data(kFileBytes, 1000 + i));
  }
  struct statvfs after {};
  ASSERT_EQ(statvfs(zsfs_.path().c_str(), &after), 0);
  EXPECT_GT(after.f_bfree, st.f_bfree);
}

TEST_F(BudgetTest, WritebackCacheReportsAFullBudgetLate) {
  // What zsfs(8) says about writeback=on: write(2) may succeed into the page cache, and ENOSPC
  // comes at fsync(2) at the latest.
  ZSFS_START_OR_SKIP(zsfs_, "size=16M,writeback=on");
  const std::string data = random_data(32 << 20, 7);
  const int fd = open((zsfs_.path() + "/f").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  int err = 0;
  for (size_t done = 0; done < data.size() && err == 0;) {
    const ssize_t n = write(fd, data.data() + done, std::min<size_t>(1 << 20, data.size() - done));
    if (n < 0) {
      err = errno;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (err == 0 && fsync(fd) != 0) err = errno;
  close(fd);
  EXPECT_EQ(err, ENOSPC) << errno_name(err);
}

TEST_F(BudgetTest, CompressibleDataFitsMoreThanTheBudget) {
  ZSFS_START_OR_SKIP(zsfs_, "size=16M");
  // 64 MiB of text-like data in a 16 MiB budget.
  for (int i = 0; i < 64; ++i) {
    int err = 0;
    const std::string path = zsfs_.path() + "/c" + std::to_string(i);
    EXPECT_EQ(
        write_until_error(path, compressible_data(1 << 20, static_cast<uint64_t>(i) * 256), err),
        1u << 20);
    ASSERT_EQ(err, 0) << "file " << i << ": " << errno_name(err);
  }
  EXPECT_EQ(stat_field(zsfs_.path(), "orig_data_size"), 64u << 20);
}

TEST_F(BudgetTest, InodeLimit) {
  ZSFS_START_OR_SKIP(zsfs_, "size=16M,nr_inodes=100");
  struct statvfs st {};
  ASSERT_EQ(statvfs(zsfs_.path().c_str(), &st), 0);
  EXPECT_EQ(st.f_files, 100u);
  EXPECT_EQ(st.f_ffree, 99u);  // the root is one
  int created = 0;
  for (int i = 0; i < 200; ++i) {
    const int fd = open((zsfs_.path() + "/f" + std::to_string(i)).c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      EXPECT_EQ(errno, ENOSPC) << errno_name(errno);
      break;
    }
    close(fd);
    ++created;
  }
  EXPECT_EQ(created, 99);
  ASSERT_EQ(statvfs(zsfs_.path().c_str(), &st), 0);
  EXPECT_EQ(st.f_ffree, 0u);
  EXPECT_EQ(mkdir((zsfs_.path() + "/d").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);
  ASSERT_EQ(unlink((zsfs_.path() + "/f0").c_str()), 0);
  // The inode is free once the kernel has forgotten it, a moment after unlink returns.
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 99), 99u);
  EXPECT_EQ(mkdir((zsfs_.path() + "/d").c_str(), 0755), 0) << errno_name(errno);
}

}  // namespace
}  // namespace zsfs::test
