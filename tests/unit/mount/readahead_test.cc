// set_mount_readahead() against a mountinfo file and a sysfs tree of the test's own.
#include "mount/readahead.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/scratch_dir.h"

namespace zsfs::mount {
namespace {

namespace stdfs = std::filesystem;

class ReadaheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    mountinfo_ = scratch_.file("mountinfo");
    bdi_ = scratch_.file("bdi");
    for (const char* device : {"0:40", "0:41", "8:1"}) {
      stdfs::create_directories(bdi_ + "/" + device);
      std::ofstream(window_file(device)) << "128\n";
    }
    std::ofstream(mountinfo_)
        << "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
           "40 22 0:40 / /mnt/z\\040s rw,nosuid,nodev,relatime - fuse.zsfs zsfs rw,user_id=0\n"
           "41 40 0:41 / /mnt/z\\040s rw,nosuid,nodev,relatime - fuse.zsfs zsfs rw,user_id=0\n";
  }
  std::string window_file(const std::string& device) const {
    return bdi_ + "/" + device + "/read_ahead_kb";
  }
  std::string window(const std::string& device) const {
    std::ifstream in(window_file(device));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string set(const std::string& mount_point, uint64_t bytes) const {
    const Check result = set_mount_readahead(mount_point, bytes, mountinfo_, bdi_);
    return result.ok() ? "<ok>" : result.message();
  }

  zsfs::testing::ScratchDir scratch_;
  std::string mountinfo_;
  std::string bdi_;
};

TEST_F(ReadaheadTest, WritesTheWindowOfTheTopMountAtThePathInKiB) {
  EXPECT_EQ(set("/mnt/z s", 1 << 20), "<ok>");
  EXPECT_EQ(window("0:41"), "1024\n");  // mounted last, over 0:40
  EXPECT_EQ(window("0:40"), "128\n");
  EXPECT_EQ(window("8:1"), "128\n");
  EXPECT_EQ(set("/mnt/z s", 0), "<ok>");
  EXPECT_EQ(window("0:41"), "0\n");
}

TEST_F(ReadaheadTest, NoMountOrNoWindowFileIsAMessage) {
  EXPECT_EQ(set("/mnt/other", 1 << 20), "no mount on '/mnt/other' in " + mountinfo_);
  stdfs::remove_all(bdi_ + "/0:41");
  EXPECT_EQ(set("/mnt/z s", 1 << 20),
            "cannot open " + window_file("0:41") + ": No such file or directory");
  EXPECT_EQ(window("0:40"), "128\n");  // the mount below is left alone
}

TEST_F(ReadaheadTest, AWindowFileThatCannotBeWrittenIsAMessage) {
  // (A directory in its place: a file of mode 0444 would not stop root, who runs the tests.)
  stdfs::remove(window_file("0:41"));
  stdfs::create_directory(window_file("0:41"));
  EXPECT_EQ(set("/mnt/z s", 1 << 20), "cannot open " + window_file("0:41") + ": Is a directory");
}

}  // namespace
}  // namespace zsfs::mount
