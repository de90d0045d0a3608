// The image format, writer and reader: round trips of every record kind, refusal of every
// truncation and every changed byte, of other versions and of files that are not images, and
// what failed writes, syncs and renames leave behind.
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "disk/image_reader.h"
#include "disk/image_writer.h"
#include "disk_test_util.h"

namespace zsfs::disk {
namespace {

using testing::FaultPlan;
using testing::read_whole;
using testing::TempDir;
using testing::write_whole;

std::string hex(std::span<const std::byte> bytes) {
  std::string s;
  for (std::byte b : bytes) {
    static const char* digits = "0123456789abcdef";
    s += digits[static_cast<unsigned>(b) >> 4];
    s += digits[static_cast<unsigned>(b) & 15];
  }
  return s;
}

std::string time_text(const ImageTime& t) {
  return std::to_string(t.sec) + "." + std::to_string(t.nsec);
}

// Renders every record it is given as one line.
class Recorder : public ImageVisitor {
 public:
  Problem inode(const InodeRecord& r) override {
    add("inode " + std::to_string(r.id) + " mode " + std::to_string(r.mode) + " " +
        std::to_string(r.uid) + ":" + std::to_string(r.gid) + " size " + std::to_string(r.size) +
        " rdev " + std::to_string(r.rdev) + " " + time_text(r.atime) + " " + time_text(r.mtime) +
        " " + time_text(r.ctime) + " '" + std::string(r.symlink) + "'");
    return {};
  }
  Problem xattr(const XattrRecord& r) override {
    add("xattr " + std::to_string(r.inode) + " " + std::string(r.name) + "=" +
        std::string(r.value));
    return {};
  }
  Problem block_run(const BlockRunRecord& r) override {
    std::string s = "run " + std::to_string(r.inode) + " @" + std::to_string(r.first_index) + ":";
    for (uint32_t id : r.blocks)
      s += " " + std::to_string(id);
    add(s);
    return {};
  }
  Problem entry(const EntryRecord& r) override {
    add("entry " + std::to_string(r.directory) + "/" + std::string(r.name) + " -> " +
        std::to_string(r.child));
    return {};
  }
  Problem block(const BlockRecord& r) override {
    add("block " + std::to_string(r.id) + " tag " + std::to_string(r.index_tag) + " enc " +
        std::to_string(static_cast<unsigned>(r.encoding)) + " dict " + std::to_string(r.dict_slot) +
        " flags " + std::to_string(r.flags) + " word " + std::to_string(r.word) + " " +
        hex(r.payload));
    return {};
  }
  Problem dictionary(const DictionaryRecord& r) override {
    add("dict " + std::to_string(r.slot) + (r.current ? " current " : " ") + hex(r.bytes));
    return {};
  }
  std::vector<std::string> lines;

 private:
  void add(std::string line) { lines.push_back(std::move(line)); }
};

std::vector<std::byte> pattern(size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::byte>((i * 131 + seed * 7) & 0xff);
  return v;
}

// Writes an image with every kind of record (and, with many_blocks, enough blocks for several
// frames); stops at the first problem. *expected: what a Recorder should see.
Problem try_write_sample(const std::string& path, size_t many_blocks,
                         std::vector<std::string>* expected) {
  std::unique_ptr<ImageWriter> w;
  if (Problem p = ImageWriter::create(path, ImageTime{1700000000, 123456789}, &w)) return p;
  const std::vector<uint32_t> run = {7, 0, 9, 7};
  const std::vector<std::byte> payload = pattern(1000, 1);
  const std::vector<std::byte> raw = pattern(4096, 2);
  const std::vector<std::byte> dict = pattern(5000, 3);
#define TRY(expr)                     \
  do {                                \
    if (Problem p = (expr)) return p; \
  } while (0)
  TRY(w->begin(Section::kMetadata));
  TRY(w->add(InodeRecord{1, 040755, 0, 0, 60, 0, {-5, 1}, {100, 2}, {200, 999999999}, {}}));
  TRY(w->add(InodeRecord{5, 0100644, 1000, 100, 20000, 0, {1, 0}, {2, 0}, {3, 0}, {}}));
  TRY(w->add(XattrRecord{5, "user.note", std::string_view("a\0b", 3)}));
  TRY(w->add(BlockRunRecord{5, 1, run}));
  TRY(w->add(EntryRecord{1, 5, "file"}));
  TRY(w->add(InodeRecord{6, 0120777, 0, 0, 4, 0, {}, {}, {}, "file"}));
  TRY(w->add(EntryRecord{1, 6, "link"}));
  TRY(w->add(InodeRecord{7, 020600, 0, 0, 0, 0x0801, {}, {}, {}, {}}));
  TRY(w->add(EntryRecord{1, 7, "dev"}));
  *expected = {
      "inode 1 mode 16877 0:0 size 60 rdev 0 -5.1 100.2 200.999999999 ''",
      "inode 5 mode 33188 1000:100 size 20000 rdev 0 1.0 2.0 3.0 ''",
      "xattr 5 user.note=" + std::string("a\0b", 3),
      "run 5 @1: 7 0 9 7",
      "entry 1/file -> 5",
      "inode 6 mode 41471 0:0 size 4 rdev 0 0.0 0.0 0.0 'file'",
      "entry 1/link -> 6",
      "inode 7 mode 8576 0:0 size 0 rdev 2049 0.0 0.0 0.0 ''",
      "entry 1/dev -> 7",
  };
  TRY(w->begin(Section::kBlocks));
  TRY(w->add(
      BlockRecord{7, 0xdeadbeef, codec::Encoding::kSameFilled, 0, kBlockSettled, 0x0101, {}}));
  TRY(w->add(BlockRecord{9, 42, codec::Encoding::kZstd, 3, kBlockIndexed, 0, payload}));
  expected->push_back("block 7 tag 3735928559 enc 0 dict 0 flags 1 word 257 ");
  expected->push_back("block 9 tag 42 enc 2 dict 3 flags 2 word 0 " + hex(payload));
  for (size_t i = 0; i < many_blocks; ++i) {
    const auto id = static_cast<uint32_t>(100 + i);
    TRY(w->add(BlockRecord{id, id, codec::Encoding::kRaw, 0, 0, 0, raw}));
    expected->push_back("block " + std::to_string(id) + " tag " + std::to_string(id) +
                        " enc 1 dict 0 flags 0 word 0 " + hex(raw));
  }
  TRY(w->begin(Section::kDictionaries));
  TRY(w->add(DictionaryRecord{3, true, dict}));
  expected->push_back("dict 3 current " + hex(dict));
#undef TRY
  return w->commit();
}

std::vector<std::string> write_sample(const std::string& path, size_t many_blocks = 0) {
  std::vector<std::string> expected;
  Problem p = try_write_sample(path, many_blocks, &expected);
  EXPECT_FALSE(p) << p.message;
  return expected;
}

// Opens path and reads every section (dictionaries, blocks, metadata: a loader's order).
Problem read_all(const std::string& path, Recorder* recorder) {
  std::unique_ptr<ImageReader> reader;
  if (Problem p = ImageReader::open(path, &reader)) return p;
  Recorder dicts, blocks, meta;
  for (auto [section, r] : {std::pair{Section::kMetadata, &meta},
                            {Section::kBlocks, &blocks},
                            {Section::kDictionaries, &dicts}}) {
    if (Problem p = reader->read(section, *r)) return p;
  }
  for (Recorder* r : {&meta, &blocks, &dicts})
    recorder->lines.insert(recorder->lines.end(), r->lines.begin(), r->lines.end());
  return {};
}

TEST(Image, EveryRecordKindRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("z.img");
  const std::vector<std::string> expected = write_sample(path, 600);
  Recorder got;
  Problem p = read_all(path, &got);
  ASSERT_FALSE(p) << p.message;
  EXPECT_EQ(got.lines, expected);
  std::unique_ptr<ImageReader> reader;
  ASSERT_FALSE(ImageReader::open(path, &reader));
  const ImageSummary& s = reader->summary();
  EXPECT_EQ(s.inodes, 4u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.blocks, 602u);
  EXPECT_EQ(s.dictionaries, 1u);
  EXPECT_EQ(s.max_inode_id, 7u);
  EXPECT_EQ(s.max_block_id, 699u);
  EXPECT_GE(s.frames, 4u);  // 600 raw blocks fill more than two 1 MiB frames
  EXPECT_EQ(s.saved_at.sec, 1700000000);
  EXPECT_EQ(s.saved_at.nsec, 123456789u);
  // The image is private to its owner, and no temporary file is left.
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), s.file_bytes);
  EXPECT_FALSE(std::filesystem::exists(ImageWriter::temporary_path_for(path)));
}

TEST(Image, AnEmptyImageRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("empty.img");
  std::unique_ptr<ImageWriter> w;
  ASSERT_FALSE(ImageWriter::create(path, {}, &w));
  ASSERT_FALSE(w->commit());
  Recorder got;
  Problem p = read_all(path, &got);
  EXPECT_FALSE(p) << p.message;
  EXPECT_TRUE(got.lines.empty());
}

TEST(Image, EveryTruncationIsRefused) {
  TempDir dir;
  const std::string path = dir.file("z.img");
  write_sample(path);
  const std::vector<std::byte> whole = read_whole(path);
  const std::string cut = dir.file("cut.img");
  for (size_t length = 0; length < whole.size(); ++length) {
    write_whole(
        cut, std::vector<std::byte>(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(length)));
    Recorder got;
    Problem p = read_all(cut, &got);
    ASSERT_TRUE(p) << "length " << length;
    if (length >= 8) {
      EXPECT_TRUE(p.message.find("truncated") != std::string::npos ||
                  p.message.find("corrupt") != std::string::npos)
          << length << ": " << p.message;
    } else {
      EXPECT_NE(p.message.find("not a zsfs image"), std::string::npos) << p.message;
    }
  }
}

TEST(Image, EveryChangedByteIsRefused) {
  TempDir dir;
  const std::string path = dir.file("z.img");
  write_sample(path);
  const std::vector<std::byte> whole = read_whole(path);
  const std::string bad = dir.file("bad.img");
  // One bit per byte, a different one each time: every checksum covers every bit alike.
  for (size_t i = 0; i < whole.size(); ++i) {
    {
      const unsigned flip = 1u << (i % 8);
      std::vector<std::byte> copy = whole;
      copy[i] ^= static_cast<std::byte>(flip);
      write_whole(bad, copy);
      Recorder got;
      Problem p = read_all(bad, &got);
      ASSERT_TRUE(p) << "byte " << i << " ^ " << flip << " went unnoticed";
      ASSERT_NE(p.error, 0);
    }
  }
}

TEST(Image, MessagesSayWhichAndWhere) {
  TempDir dir;
  const std::string path = dir.file("z.img");
  write_sample(path, 600);
  const std::vector<std::byte> whole = read_whole(path);
  auto refused_with = [&](std::vector<std::byte> bytes) {
    const std::string p2 = dir.file("x.img");
    write_whole(p2, bytes);
    Recorder got;
    return read_all(p2, &got).message;
  };
  // Not an image at all.
  EXPECT_NE(refused_with(pattern(300, 9)).find("not a zsfs image"), std::string::npos);
  // Another version.
  std::vector<std::byte> v2 = whole;
  v2[8] = std::byte{2};
  EXPECT_NE(refused_with(v2).find("format version 2; this zsfs reads version 1"),
            std::string::npos);
  // Truncated.
  std::vector<std::byte> shorter(whole.begin(), whole.end() - 1000);
  EXPECT_NE(refused_with(shorter).find("truncated"), std::string::npos);
  // A damaged block payload: its frame, by number and offset.
  std::vector<std::byte> damaged = whole;
  damaged[whole.size() / 2] ^= std::byte{4};
  const std::string message = refused_with(damaged);
  EXPECT_NE(message.find("corrupt: frame "), std::string::npos) << message;
  EXPECT_NE(message.find("of the blocks section, at byte "), std::string::npos) << message;
  EXPECT_NE(message.find("fails its checksum"), std::string::npos) << message;
}

TEST(Image, AVisitorsRefusalNamesTheRecord) {
  TempDir dir;
  const std::string path = dir.file("z.img");
  write_sample(path);
  class Refuser : public Recorder {
   public:
    Problem entry(const EntryRecord& r) override {
      if (r.name == "link") return problem(EIO, "corrupt: refused");
      return Recorder::entry(r);
    }
  } refuser;
  std::unique_ptr<ImageReader> reader;
  ASSERT_FALSE(ImageReader::open(path, &reader));
  Problem p = reader->read(Section::kMetadata, refuser);
  EXPECT_EQ(p.error, EIO);
  EXPECT_NE(p.message.find("corrupt: refused (record 7 of frame 1 of the metadata section, at "
                           "byte 64)"),
            std::string::npos)
      << p.message;
}

// --- What failures leave behind ---------------------------------------------------------------

class ImageFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("z.img");
    write_sample(path_);
    before_ = read_whole(path_);
  }
  // The previous image is whole and nothing else is left in the directory.
  void expect_previous_image_untouched() {
    EXPECT_EQ(read_whole(path_), before_);
    EXPECT_FALSE(std::filesystem::exists(ImageWriter::temporary_path_for(path_)));
  }
  TempDir dir_;
  std::string path_;
  std::vector<std::byte> before_;
};

TEST_F(ImageFaults, AFailedWriteLeavesThePreviousImage) {
  for (const char* plan : {"image.write=ENOSPC@1", "image.write=EIO@2", "image.write=EDQUOT@4",
                           "image.create=EACCES", "image.fsync=EIO", "image.rename=EIO",
                           "image.metadata=EIO", "image.written=EIO", "image.synced=ENOSPC"}) {
    FaultPlan faults(plan);
    std::vector<std::string> expected;
    Problem p = try_write_sample(path_, 600, &expected);
    SCOPED_TRACE(plan);
    EXPECT_TRUE(p);
    expect_previous_image_untouched();
  }
}

TEST_F(ImageFaults, ShortWritesAreCompleted) {
  FaultPlan faults("image.write=short");
  const std::vector<std::string> expected = write_sample(path_, 600);
  Recorder got;
  Problem p = read_all(path_, &got);
  ASSERT_FALSE(p) << p.message;
  EXPECT_EQ(got.lines, expected);
}

TEST_F(ImageFaults, AFailedDirectorySyncLeavesTheNewImageInPlace) {
  std::vector<std::string> expected;
  {
    FaultPlan faults("image.dirsync=EIO");
    std::unique_ptr<ImageWriter> w;
    ASSERT_FALSE(ImageWriter::create(path_, {}, &w));
    Problem p = w->commit();
    EXPECT_EQ(p.error, EIO);
    EXPECT_NE(p.message.find("cannot sync directory"), std::string::npos) << p.message;
  }
  Recorder got;
  EXPECT_FALSE(read_all(path_, &got));
  EXPECT_TRUE(got.lines.empty());  // the new, empty image
}

TEST_F(ImageFaults, ALeftoverOfAnInterruptedSaveIsReplaced) {
  const std::string leftover = ImageWriter::temporary_path_for(path_);
  write_whole(leftover, pattern(100, 5));
  write_sample(path_);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  Recorder got;
  EXPECT_FALSE(read_all(path_, &got));
}

TEST_F(ImageFaults, ShortReadsAreCompletedAndFailedReadsReported) {
  {
    FaultPlan faults("image.read=short");
    Recorder got;
    Problem p = read_all(path_, &got);
    EXPECT_FALSE(p) << p.message;
  }
  FaultPlan faults("image.read=EIO@3");
  Recorder got;
  Problem p = read_all(path_, &got);
  EXPECT_EQ(p.error, EIO);
  EXPECT_NE(p.message.find("cannot read " + path_), std::string::npos) << p.message;
}

}  // namespace
}  // namespace zsfs::disk
