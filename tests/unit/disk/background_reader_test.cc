// BackgroundReader: a range of a file comes out whole and in order whatever the sizes asked
// for, with direct I/O or without; short reads are completed; a failed read and a file that
// ends early are reported once what came before them is handed out.
#include "disk/background_reader.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "disk_test_util.h"

namespace zsfs::disk {
namespace {

using testing::FaultPlan;
using testing::TempDir;
using testing::write_whole;

constexpr size_t kPiece = BackgroundReader::kPieceBytes;

std::vector<std::byte> pattern(size_t n) {
  std::vector<std::byte> bytes(n);
  for (size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<std::byte>((i * 7 + i / 4096) & 0xff);
  return bytes;
}

class BackgroundReaderTest : public ::testing::Test {
 protected:
  // A file of three pieces and some, in dir.
  void make_file(const std::string& dir) {
    path_ = dir + "/image";
    contents_ = pattern(3 * kPiece + 12345);
    write_whole(path_, contents_);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
    // Out of the page cache, as after a reboot: the reads reach the disk (directly where they
    // may).
    ASSERT_EQ(::fsync(fd_), 0);
    ASSERT_EQ(::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED), 0);
  }
  // Brings bytes [from, to) of the file into the page cache.
  void cache(uint64_t from, uint64_t to) {
    std::vector<std::byte> bytes(to - from);
    ASSERT_EQ(::pread(fd_, bytes.data(), bytes.size(), static_cast<off_t>(from)),
              static_cast<ssize_t>(bytes.size()));
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  // Reads [begin, end) through a reader in pieces of the sizes given, in turn, and checks them.
  void expect_range(uint64_t begin, uint64_t end, std::vector<size_t> sizes) {
    BackgroundReader reader(fd_, begin, end, "image.read", path_);
    std::vector<std::byte> got(end - begin);
    size_t done = 0;
    for (size_t i = 0; done < got.size(); ++i) {
      const size_t n = std::min(sizes[i % sizes.size()], got.size() - done);
      Problem p = reader.read(std::span(got.data() + done, n));
      ASSERT_FALSE(p) << p.message;
      done += n;
      ASSERT_EQ(reader.position(), begin + done);
    }
    EXPECT_TRUE(std::equal(got.begin(), got.end(), contents_.begin() + static_cast<long>(begin)));
    std::byte one[1];
    EXPECT_EQ(reader.read(one).error, ENODATA);  // past the range's end
    EXPECT_EQ(reader.position(), end);
  }

  std::string path_;
  std::vector<std::byte> contents_;
  int fd_ = -1;
};

TEST_F(BackgroundReaderTest, TheRangeComesOutWholeAndInOrder) {
  TempDir dir;
  make_file(dir.path());
  if (direct_io_alignment(fd_)) {
    EXPECT_TRUE(BackgroundReader(fd_, 0, 1, "image.read", path_).direct());
  }
  expect_range(777, contents_.size() - 333, {1, 4095, (1 << 20) + 7, kPiece, 3 * kPiece});
  expect_range(0, contents_.size(), {kPiece});
  expect_range(kPiece - 1, kPiece + 1, {1});
  expect_range(100, 100, {1});  // nothing
}

TEST_F(BackgroundReaderTest, WhatThePageCacheHoldsAndWhatItDoesNotComeOutAlike) {
  TempDir dir;
  make_file(dir.path());
  // Parts cached, starting and ending off any alignment, across pieces.
  cache(kPiece / 2 + 100, 2 * kPiece + 77);
  cache(3 * kPiece, 3 * kPiece + 5000);
  expect_range(1, contents_.size(), {(1 << 20) + 7});
  cache(0, contents_.size());
  expect_range(0, contents_.size() - 1, {kPiece});
}

TEST_F(BackgroundReaderTest, TheSameThroughThePageCacheOnTmpfs) {
  struct statfs fs {};
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  TempDir dir("/dev/shm");
  make_file(dir.path());
  expect_range(777, contents_.size() - 333, {4095, (1 << 20) + 7});
}

TEST_F(BackgroundReaderTest, ShortReadsAreCompleted) {
  TempDir dir;
  make_file(dir.path());
  FaultPlan faults("image.read=short");
  expect_range(777, contents_.size(), {(1 << 20) + 7});
}

TEST_F(BackgroundReaderTest, AFailedReadComesAfterWhatWasReadBeforeIt) {
  TempDir dir;
  make_file(dir.path());
  FaultPlan faults("image.read=EIO@2");  // the second piece
  BackgroundReader reader(fd_, 0, contents_.size(), "image.read", path_);
  std::vector<std::byte> got(kPiece);
  ASSERT_FALSE(reader.read(got));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), contents_.begin()));
  std::byte one[1];
  const Problem p = reader.read(one);
  EXPECT_EQ(p.error, EIO);
  EXPECT_NE(p.message.find("cannot read " + path_ + " (at byte " + std::to_string(kPiece) + ")"),
            std::string::npos)
      << p.message;
  EXPECT_EQ(reader.read(one).error, EIO);  // and it stays
}

TEST_F(BackgroundReaderTest, AFileThatEndsBeforeTheRangeIsReportedWhereItEnds) {
  TempDir dir;
  make_file(dir.path());
  const uint64_t end = contents_.size() + 5000;
  BackgroundReader reader(fd_, 10, end, "image.read", path_);
  std::vector<std::byte> got(contents_.size() - 10);
  ASSERT_FALSE(reader.read(got));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), contents_.begin() + 10));
  std::byte one[1];
  const Problem p = reader.read(one);
  EXPECT_EQ(p.error, ENODATA);
  EXPECT_NE(p.message.find("the file ends at byte " + std::to_string(contents_.size())),
            std::string::npos)
      << p.message;
}

}  // namespace
}  // namespace zsfs::disk
