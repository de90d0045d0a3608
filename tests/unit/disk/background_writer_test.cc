// BackgroundWriter: buffers reach the file whole and in order while the caller fills the next
// one, and a failed write is reported by the next call, with nothing after it written; the file is
// synced ahead while it is written, and a failed sync fails the writer as a failed write does.
#include "disk/background_writer.h"

#include <fcntl.h>

#include <chrono>
#include <thread>

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
    ASSERT_FALSE(writer.finish());
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
  EXPECT_EQ(writer.finish().error, ENOSPC);
  EXPECT_EQ(writer.bytes_written(), a.size());
  EXPECT_EQ(read_whole(path_), a);
}

TEST_F(BackgroundWriterTest, ShortWritesAreCompleted) {
  FaultPlan plan("image.write=short");
  const std::vector<std::byte> a = pattern(10'000, 7);
  BackgroundWriter writer(fd_, 0, "image.write", path_);
  ASSERT_FALSE(writer.submit(a));
  ASSERT_FALSE(writer.finish());
  EXPECT_EQ(read_whole(path_), a);
}

// Submits copies of buffer in turn until pred() holds or submit() fails (then returns its problem),
// for at most 10 s: the syncer runs when it is scheduled.
template <class Pred>
Problem submit_until(BackgroundWriter& writer, const std::vector<std::byte>& buffer, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::array<std::vector<std::byte>, 2> buffers{buffer, buffer};
  for (unsigned i = 0; !pred() && std::chrono::steady_clock::now() < deadline; ++i) {
    if (Problem p = writer.submit(buffers[i % 2])) return p;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

TEST_F(BackgroundWriterTest, SyncsAheadWhileWritingAndStillWritesEverything) {
  const std::vector<std::byte> buffer = pattern(64 * 1024, 5);
  BackgroundWriter writer(fd_, 0, "image.write", path_, SyncAhead{256 * 1024, "image.fsync_ahead"});
  ASSERT_FALSE(submit_until(writer, buffer, [&] { return writer.syncs() >= 2; }));
  EXPECT_GE(writer.syncs(), 2u);
  ASSERT_FALSE(writer.finish());
  const uint64_t written = writer.bytes_written();
  ASSERT_EQ(written % buffer.size(), 0u);
  std::vector<std::byte> expected;
  for (uint64_t i = 0; i < written / buffer.size(); ++i)
    expected.insert(expected.end(), buffer.begin(), buffer.end());
  EXPECT_EQ(read_whole(path_), expected);
}

TEST_F(BackgroundWriterTest, NoSyncAheadUnlessAsked) {
  const std::vector<std::byte> buffer = pattern(64 * 1024, 6);
  BackgroundWriter writer(fd_, 0, "image.write", path_);
  for (unsigned i = 0; i < 32; ++i)
    ASSERT_FALSE(writer.submit(buffer));
  ASSERT_FALSE(writer.finish());
  EXPECT_EQ(writer.syncs(), 0u);
}

TEST_F(BackgroundWriterTest, AFailedSyncAheadFailsTheWriter) {
  // A failed fsync reports a write-back error once only: the caller's own fsync could then
  // succeed, so the writer must keep the failure and return it.
  FaultPlan plan("image.fsync_ahead=EIO");
  const std::vector<std::byte> buffer = pattern(8192, 9);
  BackgroundWriter writer(fd_, 0, "image.write", path_, SyncAhead{16384, "image.fsync_ahead"});
  const Problem p = submit_until(writer, buffer, [] { return false; });
  EXPECT_EQ(p.error, EIO);
  EXPECT_NE(p.message.find("cannot sync " + path_), std::string::npos) << p.message;
  EXPECT_EQ(writer.finish().error, EIO);
  EXPECT_EQ(writer.syncs(), 1u);  // the syncer stops at its first failure
}

}  // namespace
}  // namespace zsfs::disk
