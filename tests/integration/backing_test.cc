// The backing file on real mounts (-o backing=PATH): zsfsctl writeback moves blocks and the
// statistics show them, the file is private to the daemon, a damaged file reads as EIO (and the
// daemon goes on), a path that names someone else's file is refused with nothing mounted.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

namespace zsfs::test {
namespace {

class BackingTest : public ZsfsTest {
 protected:
  std::string options(const std::string& more = "") const {
    return "size=64M,backing=" + backing_ + (more.empty() ? "" : "," + more);
  }
  TempDir dir_{"zsfs-backing"};
  const std::string backing_ = dir_.path() + "/backing";
};

TEST_F(BackingTest, ZsfsctlWritebackMovesBlocksAndStatsShowThem) {
  ZSFS_START_OR_SKIP(zsfs_, options());
  const std::string data = compressible_data(4 << 20);
  write_file(zsfs_.path() + "/f", data);
  RunResult moved = zsfsctl({"writeback", "--wait", zsfs_.path()});
  ASSERT_EQ(moved.status, 0) << moved.output;
  EXPECT_NE(moved.output.find("moved 1,024 blocks to the backing file"), std::string::npos)
      << moved.output;
  RunResult stats = zsfsctl({"stats", zsfs_.path()});
  EXPECT_NE(stats.output.find("Backing file      " + backing_ + ": "), std::string::npos)
      << stats.output;
  EXPECT_NE(stats.output.find(" in 1,024 blocks"), std::string::npos) << stats.output;
  // Read back from the file, past the kernel's page cache.
  ASSERT_EQ(
      sh("dd if=" + shell_quote(zsfs_.path()) + "/f iflag=nocache count=0 status=none").status, 0);
  EXPECT_EQ(read_file(zsfs_.path() + "/f"), data);
  const Json backing = read_json_xattr(zsfs_.path(), "user.zsfs.stats")["backing"];
  EXPECT_GE(backing["bd_reads"].get<uint64_t>(), 1u);
  EXPECT_EQ(backing["read_errors"].get<uint64_t>(), 0u);
  RunResult huge = zsfsctl({"writeback", "--huge", zsfs_.path()});
  EXPECT_EQ(huge.status, 0) << huge.output;
  EXPECT_NE(huge.output.find("writeback queued on"), std::string::npos) << huge.output;
}

TEST_F(BackingTest, TheFileIsPrivateToTheDaemon) {
  ZSFS_START_OR_SKIP(zsfs_, options());
  struct stat st {};
  ASSERT_EQ(stat(backing_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Its descriptor closes on exec: nothing the daemon might start inherits it.
  const std::string fds = "/proc/" + std::to_string(zsfs_.pid()) + "/fd";
  bool found = false;
  for (const auto& entry : std::filesystem::directory_iterator(fds)) {
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error).string() != backing_) continue;
    found = true;
    const std::string info = read_file("/proc/" + std::to_string(zsfs_.pid()) + "/fdinfo/" +
                                       entry.path().filename().string());
    const size_t at = info.find("flags:");
    ASSERT_NE(at, std::string::npos);
    const unsigned long flags = std::stoul(info.substr(at + 6), nullptr, 8);
    EXPECT_NE(flags & O_CLOEXEC, 0u) << info;
  }
  EXPECT_TRUE(found);
}

TEST_F(BackingTest, ADamagedFileReadsAsEioAndTheDaemonGoesOn) {
  ZSFS_START_OR_SKIP(zsfs_, options());
  write_file(zsfs_.path() + "/f", compressible_data(1 << 20));
  ASSERT_EQ(zsfsctl({"writeback", "--wait", zsfs_.path()}).status, 0);
  ASSERT_EQ(
      sh("dd if=" + shell_quote(zsfs_.path()) + "/f iflag=nocache count=0 status=none").status, 0);
  // Someone writes over the records behind the daemon's back.
  ASSERT_EQ(sh("dd if=/dev/zero of=" + shell_quote(backing_) +
               " bs=4096 seek=1 count=64 conv=notrunc status=none")
                .status,
            0);
  const int fd = open((zsfs_.path() + "/f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[4096];
  EXPECT_EQ(sys(pread(fd, buf, sizeof buf, 0)), -EIO);
  close(fd);
  EXPECT_GE(
      read_json_xattr(zsfs_.path(), "user.zsfs.stats")["backing"]["read_errors"].get<uint64_t>(),
      1u);
  EXPECT_NE(zsfs_.log().find("fails its checksum"), std::string::npos) << zsfs_.log();
  write_file(zsfs_.path() + "/g", "the mount goes on");
  EXPECT_EQ(read_file(zsfs_.path() + "/g"), "the mount goes on");
}

TEST_F(BackingTest, SomeoneElsesFileIsRefusedWithNothingMounted) {
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  write_file(backing_, "precious data\n");
  ZsfsMount attempt;
  EXPECT_FALSE(attempt.start(ZsfsMount::Config::with_options(options())));
  EXPECT_EQ(attempt.stop(), 2);
  EXPECT_NE(attempt.log().find("the backing file " + backing_ +
                               " exists and is not a zsfs backing file (14 bytes); remove it or "
                               "name another path; nothing mounted"),
            std::string::npos)
      << attempt.log();
  EXPECT_EQ(read_file(backing_), "precious data\n");
}

TEST_F(BackingTest, WithoutABackingFileZsfsctlWritebackSaysSo) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M");
  RunResult moved = zsfsctl({"writeback", zsfs_.path()});
  EXPECT_NE(moved.status, 0);
  EXPECT_NE(moved.output.find("this mount has no backing file (mount it with -o backing=PATH)"),
            std::string::npos)
      << moved.output;
}

}  // namespace
}  // namespace zsfs::test
