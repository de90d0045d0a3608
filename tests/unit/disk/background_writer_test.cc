// BackgroundWriter: buffers reach the file whole and in order while the caller fills the next
// one, and a failed write is reported by the next call, with nothing after it written.
#include "disk/background_writer.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "disk_test_util.h"

namespace zsfs::disk {
namespace {

using testing::FaultPlan;
using testing::read_whole;
using testing::TempDir;

// A buffer of n bytes, each its index plus seed.
std::vector<std::byte> pattern(size_t n, unsigned seed) {
  std::vector<std::byte> bytes(n);
  for (size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<std::byte>((i + seed) & 0xff);
  return bytes;
}

class BackgroundWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { ::close(fd_); }

  TempDir dir_;
  const std::string path_ = dir_.file("out");
  int fd_ = -1;
};

TEST_F(BackgroundWriterTest, BuffersReachTheFileWholeAndInOrder) {
  // Two buffers used in turn, as the image writer does; each refilled after the next submit.
  std::array<std::vector<std::byte>, 2> buffers;
  std::vector<std::byte> expected;
  {
    BackgroundWriter writer(fd_, 0, "image.write", path_);
    for (unsigned i = 0; i < 40; ++i) {
      std::vector<std::byte>& buffer = buffers[i % 2];
      buffer = pattern(100'000 + i * 1'000, i);
      expected.insert(expected.end(), buffer.begin(), buffer.end());
      ASSERT_FALSE(writer.submit(buffer));
    }
    ASSERT_FALSE(writer.wait());
    EXPECT_EQ(writer.bytes_written(), expected.size());
  }
  EXPECT_EQ(read_whole(path_), expected);
}

TEST_F(BackgroundWriterTest, AFailedWriteIsReportedNextAndNothingAfterItIsWritten) {
  FaultPlan plan("image.write=ENOSPC@2");
  const std::vector<std::byte> a = pattern(4096, 1);
  const std::vector<std::byte> b = pattern(4096, 2);
  const std::vector<std::byte> c = pattern(4096, 3);
  BackgroundWriter writer(fd_, 0, "image.write", path_);
  ASSERT_FALSE(writer.submit(a));
  ASSERT_FALSE(writer.submit(b));      // a's write went well
  const Problem p = writer.submit(c);  // b's did not
  EXPECT_EQ(p.error, ENOSPC);
  EXPECT_NE(p.message.find(path_), std::string::npos) << p.message;
  EXPECT_EQ(writer.wait().error, ENOSPC);
  EXPECT_EQ(writer.bytes_written(), a.size());
  EXPECT_EQ(read_whole(path_), a);
}

TEST_F(BackgroundWriterTest, ShortWritesAreCompleted) {
  FaultPlan plan("image.write=short");
  const std::vector<std::byte> a = pattern(10'000, 7);
  BackgroundWriter writer(fd_, 0, "image.write", path_);
  ASSERT_FALSE(writer.submit(a));
  ASSERT_FALSE(writer.wait());
  EXPECT_EQ(read_whole(path_), a);
}

}  // namespace
}  // namespace zsfs::disk
