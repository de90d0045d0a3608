// The backing file: records come back as written and only to their owner; damage, a wrong key or
// a wrong place reads as EIO; space is reused, punched out when freed, and bounded; a file that is
// not a backing file is never taken over; failed writes keep nothing.
#include "disk/backing_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "disk_test_util.h"

namespace zsfs::disk {
namespace {

using testing::FaultPlan;
using testing::TempDir;

std::vector<std::byte> payload(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (std::byte& b : v)
    b = static_cast<std::byte>(rng());
  return v;
}

class BackingFileTest : public ::testing::Test {
 protected:
  void SetUp() override { open_file(0); }
  void open_file(uint64_t limit) {
    file_.reset();
    Problem p = BackingFile::open(path_, limit, &budget_, &file_);
    ASSERT_FALSE(p) << p.message;
  }
  // Writes payloads of the given sizes (keys 1, 2, ...) in one batch.
  std::vector<BackingFile::Record> write(const std::vector<std::vector<std::byte>>& payloads) {
    std::vector<BackingFile::Record> records;
    for (size_t i = 0; i < payloads.size(); ++i)
      records.push_back(BackingFile::Record{payloads[i], i + 1, 0});
    Problem p = file_->write(records);
    EXPECT_FALSE(p) << p.message;
    return records;
  }
  std::vector<std::byte> read(const BackingFile::Record& r, Problem* problem = nullptr) {
    std::vector<std::byte> out(r.payload.size());
    Problem p = file_->read(r.location, static_cast<uint32_t>(out.size()), r.key, out);
    if (problem != nullptr) *problem = p;
    EXPECT_TRUE(problem != nullptr || !p) << p.message;
    return out;
  }

  TempDir dir_;
  const std::string path_ = dir_.file("backing");
  MemoryBudget budget_{1 << 30};
  std::unique_ptr<BackingFile> file_;
};

TEST_F(BackingFileTest, RecordsComeBackAsWritten) {
  std::vector<std::vector<std::byte>> payloads;
  for (size_t size : {1ul, 100ul, 503ul, 504ul, 505ul, 1200ul, 4088ul, 4096ul})
    payloads.push_back(payload(size, size));
  const auto records = write(payloads);
  for (size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(read(records[i]), payloads[i]) << i;
  const BackingStats s = file_->stats();
  EXPECT_EQ(s.records, payloads.size());
  EXPECT_EQ(s.writes, payloads.size());
  EXPECT_EQ(s.reads, payloads.size());
  EXPECT_EQ(s.read_errors, 0u);
  EXPECT_GT(s.unit_bytes, 0u);
  // Each record takes its checksum and payload, rounded up to whole units.
  uint64_t units = 0;
  for (const auto& p : payloads)
    units += file_->units_for(static_cast<uint32_t>(p.size()));
  EXPECT_EQ(s.allocated_bytes, units * s.unit_bytes);
  // The file is private, and the bitmap is charged to the budget.
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(budget_.used_bytes(), s.bitmap_bytes);
  file_.reset();
  EXPECT_EQ(budget_.used_bytes(), 0u);
}

TEST_F(BackingFileTest, AWrongKeyOrDamageReadsAsEio) {
  const auto records = write({payload(1000, 1), payload(4096, 2)});
  BackingFile::Record wrong = records[0];
  wrong.key = 99;
  Problem p;
  read(wrong, &p);
  EXPECT_EQ(p.error, EIO);
  EXPECT_NE(p.message.find("fails its checksum"), std::string::npos) << p.message;
  // A byte changed in the file, behind the daemon's back.
  const int fd = ::open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t at = 4096 + static_cast<off_t>(records[1].location * file_->stats().unit_bytes) + 100;
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, at), 1);
  c ^= 1;
  ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
  ::close(fd);
  read(records[1], &p);
  EXPECT_EQ(p.error, EIO);
  EXPECT_EQ(read(records[0]), payload(1000, 1));  // the other record is intact
  EXPECT_EQ(file_->stats().read_errors, 2u);
}

TEST_F(BackingFileTest, FreedSpaceIsReusedAndPunchedOut) {
  std::vector<std::vector<std::byte>> payloads;
  for (int i = 0; i < 2000; ++i)
    payloads.push_back(payload(1500, static_cast<uint64_t>(i)));
  auto records = write(payloads);
  const BackingStats full = file_->stats();
  for (const auto& r : records) {
    EXPECT_TRUE(file_->allocated(r.location, 1500));
    file_->free(r.location, 1500);
  }
  EXPECT_EQ(file_->stats().allocated_bytes, 0u);
  EXPECT_EQ(file_->stats().records, 0u);
  file_->punch_freed(false);
  const BackingStats punched = file_->stats();
  EXPECT_GT(punched.punched_bytes, full.allocated_bytes * 9 / 10);
  EXPECT_LT(punched.disk_bytes, full.disk_bytes / 10);
  // The space is used again: the file does not grow.
  records = write(payloads);
  for (size_t i = 0; i < records.size(); i += 97)
    EXPECT_EQ(read(records[i]), payloads[i]);
  EXPECT_EQ(file_->stats().file_bytes, full.file_bytes);
}

TEST_F(BackingFileTest, TheLimitBoundsTheRecords) {
  open_file(64 << 10);  // 64 KiB: a few raw blocks
  std::vector<BackingFile::Record> kept;
  Problem p;
  const std::vector<std::byte> raw = payload(4096, 7);
  for (int i = 0; i < 100 && !p; ++i) {
    BackingFile::Record r{raw, static_cast<uint64_t>(i), 0};
    p = file_->write(std::span(&r, 1));
    if (!p) kept.push_back(r);
  }
  EXPECT_EQ(p.error, ENOSPC);
  EXPECT_NE(p.message.find("is full"), std::string::npos) << p.message;
  EXPECT_GE(kept.size(), 10u);
  EXPECT_LE(file_->stats().allocated_bytes, 64u << 10);
  file_->free(kept.back().location, 4096);
  BackingFile::Record again{raw, 1000, 0};
  EXPECT_FALSE(file_->write(std::span(&again, 1)));
}

TEST_F(BackingFileTest, AForeignFileIsRefusedAndAnOldBackingFileEmptied) {
  file_.reset();
  testing::write_whole(path_, std::vector<std::byte>(10, std::byte{'x'}));
  std::unique_ptr<BackingFile> other;
  Problem p = BackingFile::open(path_, 0, &budget_, &other);
  EXPECT_EQ(p.error, EEXIST);
  EXPECT_NE(p.message.find("exists and is not a zsfs backing file (10 bytes)"), std::string::npos)
      << p.message;
  EXPECT_EQ(testing::read_whole(path_).size(), 10u);  // untouched
  ::unlink(path_.c_str());
  open_file(0);
  write({payload(3000, 1)});
  file_.reset();
  open_file(0);  // ours: emptied
  EXPECT_EQ(file_->stats().records, 0u);
  EXPECT_EQ(file_->stats().file_bytes, 4096u);
}

TEST_F(BackingFileTest, AFailedWriteKeepsNothing) {
  {
    FaultPlan faults("backing.write=EIO");
    const std::vector<std::byte> first = payload(100, 1);
    const std::vector<std::byte> second = payload(200, 2);
    std::vector<BackingFile::Record> records = {{first, 1, 0}, {second, 2, 0}};
    Problem p = file_->write(records);
    EXPECT_EQ(p.error, EIO);
  }
  EXPECT_EQ(file_->stats().allocated_bytes, 0u);
  EXPECT_EQ(file_->stats().write_errors, 1u);
  FaultPlan faults("backing.write=short");
  const auto records = write({payload(4096, 3), payload(10, 4)});
  EXPECT_EQ(read(records[0]), payload(4096, 3));
  EXPECT_EQ(read(records[1]), payload(10, 4));
}

}  // namespace
}  // namespace zsfs::disk
