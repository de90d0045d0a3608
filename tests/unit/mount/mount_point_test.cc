#include "mount/mount_point.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/scratch_dir.h"

namespace zsfs::mount {
namespace {

namespace stdfs = std::filesystem;

class MountPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    // Resolved, as check_mount_point() resolves the paths it is given.
    root_ = stdfs::canonical(scratch_.path()).string();
    mountinfo_ = root_ + "/mountinfo";
    write_mountinfo("");
    empty_ = root_ + "/empty";
    stdfs::create_directory(empty_);
  }
  void write_mountinfo(const std::string& text) { std::ofstream(mountinfo_) << text; }

  std::string message(const std::string& path, bool nonempty = false) {
    auto result = check_mount_point(path, nonempty, mountinfo_);
    return result.ok() ? "<ok>" : result.message();
  }

  zsfs::testing::ScratchDir scratch_;
  std::string root_;
  std::string mountinfo_;
  std::string empty_;
};

TEST_F(MountPointTest, EmptyDirectoryIsFine) {
  auto result = check_mount_point(empty_, false, mountinfo_);
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_EQ(*result, empty_);
}

TEST_F(MountPointTest, RelativePathsBecomeAbsolute) {
  const std::string cwd = stdfs::current_path();
  stdfs::current_path(root_);
  auto result = check_mount_point("./empty/../empty", false, mountinfo_);
  stdfs::current_path(cwd);
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_EQ(*result, empty_);
}

TEST_F(MountPointTest, MissingPath) {
  EXPECT_EQ(message(""), "missing mount point");
  EXPECT_EQ(message(root_ + "/nope"), "mount point '" + root_ + "/nope' does not exist");
}

TEST_F(MountPointTest, NotADirectory) {
  std::ofstream(root_ + "/file") << "x";
  EXPECT_EQ(message(root_ + "/file"), "mount point '" + root_ + "/file' is not a directory");
}

TEST_F(MountPointTest, NonEmptyNeedsTheOption) {
  std::ofstream(empty_ + "/.hidden") << "x";
  EXPECT_EQ(message(empty_), "mount point '" + empty_ +
                                 "' is not empty; the mount would hide its files (add -o "
                                 "nonempty to mount there anyway)");
  EXPECT_EQ(message(empty_, true), "<ok>");
}

TEST_F(MountPointTest, AlreadyMounted) {
  write_mountinfo(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "99 27 0:50 / " +
      empty_ + " rw,nosuid shared:1 - fuse.zsfs none rw\n");
  EXPECT_EQ(message(empty_), "mount point '" + empty_ +
                                 "' is already mounted (fuse.zsfs from none); unmount it "
                                 "first");
}

TEST_F(MountPointTest, MountinfoEscapes) {
  const std::string spaced = root_ + "/with space";
  stdfs::create_directory(spaced);
  write_mountinfo("99 27 0:50 / " + root_ + "/with\\040space rw - tmpfs tmp\\011fs rw\n");
  const auto mounts = read_mountinfo(mountinfo_);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, spaced);
  EXPECT_EQ(mounts[0].fs_type, "tmpfs");
  EXPECT_EQ(mounts[0].source, "tmp\tfs");
  EXPECT_EQ(mounts[0].device, "0:50");
  EXPECT_NE(message(spaced).find("is already mounted"), std::string::npos);
}

TEST_F(MountPointTest, ReadsTheRealMountinfo) {
  const auto mounts = read_mountinfo();
  bool has_root = false;
  for (const auto& mount : mounts)
    has_root |= mount.mount_point == "/";
  EXPECT_TRUE(has_root);
}

TEST(UnescapeMountinfo, Fields) {
  EXPECT_EQ(unescape_mountinfo_field("a\\040b"), "a b");
  EXPECT_EQ(unescape_mountinfo_field("a\\134b"), "a\\b");
  EXPECT_EQ(unescape_mountinfo_field("a\\012"), "a\n");
  EXPECT_EQ(unescape_mountinfo_field("a\\04"), "a\\04");    // too short: kept
  EXPECT_EQ(unescape_mountinfo_field("a\\999"), "a\\999");  // not octal: kept
}

TEST_F(MountPointTest, DeviceDescriptorPathsPassThrough) {
  auto result = check_mount_point("/dev/fd/5", false, mountinfo_);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, "/dev/fd/5");
}

TEST_F(MountPointTest, FuseDevice) {
  EXPECT_TRUE(check_fuse_device("/dev/null").ok());  // any character device will do
  std::ofstream(root_ + "/fake") << "x";
  auto not_device = check_fuse_device(root_ + "/fake");
  ASSERT_FALSE(not_device.ok());
  EXPECT_EQ(not_device.message(),
            root_ + "/fake is not a character device; FUSE is not usable here");
  auto missing = check_fuse_device(root_ + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("modprobe fuse"), std::string::npos);
}

}  // namespace
}  // namespace zsfs::mount
