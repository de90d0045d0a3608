// Cold blocks in a backing file, through the filesystem core: data several times the budget reads
// back whole, deleting frees and punches the file, a damaged record reads as EIO (never wrong
// bytes), writeback on request (huge only, idle only) and by age, ENOSPC only when both RAM and
// the file are full, dedup against blocks in the file, promotion, and images that carry blocks
// from the file or load into one.
#include "fs/writeback.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "base/budget.h"
#include "base/json.h"
#include "base/sync.h"
#include "disk/backing_file.h"
#include "fs/dictionary_set.h"
#include "pool/pool.h"
#include "tests/unit/fs/fs_test_util.h"
#include "tests/unit/scratch_dir.h"

namespace zsfs::fs {
namespace {

using namespace std::chrono_literals;
using testing::make_fs;
using testing::random_bytes;
using testing::read_str;
using testing::small_config;
using testing::text_block;
using testing::user;
using testing::write_str;
using zsfs::testing::ScratchDir;

Json backing_stats(Filesystem& fs) {
  Result<std::string> stats = fs.getxattr(kRootIno, kXattrStats, Caller{});
  EXPECT_TRUE(stats.ok());
  return Json::parse(stats.ok() ? *stats : "{}")["backing"];
}

// Each file's contents: text that compresses about 2:1, different in every block.
std::string file_data(int file, size_t bytes) {
  std::string data;
  for (size_t b = 0; b * 4096 < bytes; ++b)
    data += text_block(static_cast<uint64_t>(file) * 100000 + b);
  data.resize(bytes);
  return data;
}

class WritebackTest : public ::testing::Test {
 protected:
  std::unique_ptr<Filesystem> mount(uint64_t size, uint64_t backing_size = 0, int64_t after = -1,
                                    bool promote = false, const std::string& image = "") {
    Config config = small_config(size);
    config.backing_path = dir_.file("backing");
    config.backing_size_bytes = backing_size;
    config.writeback_after_seconds = after;
    config.promote = promote;
    config.recompress = false;
    config.dict = false;
    std::unique_ptr<Filesystem> fs = make_fs(config);
    disk::Problem p = fs->open_backing();
    EXPECT_FALSE(p) << p.message;
    if (!image.empty()) {
      p = fs->load_image(image);
      EXPECT_FALSE(p) << p.message;
    }
    return fs;
  }
  static Ino create(Filesystem& fs, const std::string& name) {
    Result<Attr> a = fs.mknod(kRootIno, name, S_IFREG | 0644, 0, user());
    EXPECT_TRUE(a.ok());
    return a.ok() ? a->ino : 0;
  }
  static void wait_writeback(Filesystem& fs) {
    while (!fs.writeback_idle())
      std::this_thread::sleep_for(5ms);
  }
  ScratchDir dir_;
};

TEST_F(WritebackTest, DataFourTimesTheBudgetReadsBackWhole) {
  std::unique_ptr<Filesystem> fs = mount(16 << 20);
  std::vector<Ino> files;
  for (int f = 0; f < 8; ++f) {
    files.push_back(create(*fs, "f" + std::to_string(f)));
    write_str(*fs, files.back(), 0, file_data(f, 8 << 20));
  }
  fs->settle();
  const Stats s = fs->stats();
  EXPECT_LE(s.mem_used_total, s.mem_limit);
  const Json b = backing_stats(*fs);
  EXPECT_GT(b["bd_count"].get<uint64_t>(), 2000u);
  EXPECT_EQ(b["write_errors"].get<uint64_t>(), 0u);
  for (int f = 0; f < 8; ++f)
    EXPECT_EQ(read_str(*fs, files[static_cast<size_t>(f)], 0, 8 << 20), file_data(f, 8 << 20)) << f;
  EXPECT_GT(backing_stats(*fs)["bd_reads"].get<uint64_t>(), 2000u);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(WritebackTest, DeletingFreesTheFileAndPunchesIt) {
  std::unique_ptr<Filesystem> fs = mount(16 << 20);
  const Ino a = create(*fs, "a");
  write_str(*fs, a, 0, file_data(1, 64 << 20));
  fs->settle();
  const uint64_t disk_full = backing_stats(*fs)["disk_bytes"].get<uint64_t>();
  ASSERT_GT(disk_full, 8u << 20);
  ASSERT_TRUE(fs->unlink(kRootIno, "a").ok());
  fs->forget(a, 1);
  // A round the thread was moving when the file went keeps its batch pinned (a reference each)
  // until the round ends: those entries go then.
  wait_writeback(*fs);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 0u);
  // The thread punches what was freed on its next look.
  for (int i = 0; i < 100 && backing_stats(*fs)["disk_bytes"].get<uint64_t>() > disk_full / 10;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_LT(backing_stats(*fs)["disk_bytes"].get<uint64_t>(), disk_full / 10);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(WritebackTest, ADamagedRecordReadsAsEioNeverWrongBytes) {
  std::unique_ptr<Filesystem> fs = mount(64 << 20);
  const Ino a = create(*fs, "a");
  write_str(*fs, a, 0, file_data(2, 1 << 20));
  fs->settle();
  ASSERT_TRUE(fs->writeback(0, false).ok());
  wait_writeback(*fs);
  ASSERT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 256u);
  // Every byte of the records' area changed behind the daemon's back.
  const int fd = ::open(dir_.file("backing").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  std::string junk(static_cast<size_t>(st.st_size) - 4096, 'j');
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 4096), static_cast<ssize_t>(junk.size()));
  ::close(fd);
  std::string out(4096, '\0');
  for (uint64_t block = 0; block < 256; block += 17) {
    Result<size_t> got =
        fs->read(a, block * 4096, {reinterpret_cast<std::byte*>(out.data()), out.size()});
    ASSERT_FALSE(got.ok()) << block;
    EXPECT_EQ(got.error(), EIO);
  }
  EXPECT_GT(backing_stats(*fs)["read_errors"].get<uint64_t>(), 10u);
}

TEST_F(WritebackTest, RequestsMoveHugeOrIdleBlocksOnly) {
  std::unique_ptr<Filesystem> fs = mount(64 << 20);
  const Ino text = create(*fs, "text");
  const Ino noise = create(*fs, "noise");
  write_str(*fs, text, 0, file_data(3, 1 << 20));
  write_str(*fs, noise, 0, random_bytes(3, 1 << 20));
  fs->settle();
  ASSERT_TRUE(fs->writeback(0, true).ok());
  wait_writeback(*fs);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 256u);  // the raw ones
  ASSERT_TRUE(fs->writeback(3600, false).ok());
  wait_writeback(*fs);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 256u);  // none is an hour old
  ASSERT_TRUE(fs->writeback(0, false).ok());
  wait_writeback(*fs);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 512u);
  EXPECT_EQ(read_str(*fs, noise, 0, 1 << 20), random_bytes(3, 1 << 20));
  EXPECT_EQ(read_str(*fs, text, 0, 1 << 20), file_data(3, 1 << 20));
  EXPECT_FS_CONSISTENT(*fs);
  // Without a backing file there is nothing to ask for.
  std::unique_ptr<Filesystem> plain = make_fs();
  EXPECT_EQ(plain->writeback(0, false).error(), EOPNOTSUPP);
}

TEST_F(WritebackTest, BlocksStoredLongAgoMoveByThemselves) {
  std::unique_ptr<Filesystem> fs = mount(64 << 20, 0, 1);
  const Ino a = create(*fs, "a");
  write_str(*fs, a, 0, file_data(4, 256 << 10));
  for (int i = 0; i < 400 && backing_stats(*fs)["bd_count"].get<uint64_t>() < 64; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 64u);
  EXPECT_GE(backing_stats(*fs)["writeback"]["idle_passes"].get<uint64_t>(), 1u);
  EXPECT_EQ(read_str(*fs, a, 0, 256 << 10), file_data(4, 256 << 10));
}

TEST_F(WritebackTest, EnospcOnlyWhenBothAreFull) {
  std::unique_ptr<Filesystem> fs = mount(8 << 20, 8 << 20);
  const Ino a = create(*fs, "a");
  uint64_t written = 0;
  const std::string chunk_seed = random_bytes(9, 64 << 10);
  for (uint64_t i = 0;; ++i) {
    const std::string chunk = random_bytes(100 + i, 64 << 10);
    Result<size_t> w = fs->write(
        a, written, {reinterpret_cast<const std::byte*>(chunk.data()), chunk.size()}, false);
    if (!w.ok()) {
      EXPECT_EQ(w.error(), ENOSPC);
      break;
    }
    written += *w;
    if (*w < chunk.size()) break;
    ASSERT_LT(written, 64u << 20) << "no ENOSPC";
  }
  // RAM (8 MiB, less metadata and the low-water room) and the file (8 MiB, less its checksums
  // and rounding) are both in use.
  EXPECT_GT(written, 12u << 20);
  EXPECT_LT(written, 16u << 20);
  const Json b = backing_stats(*fs);
  EXPECT_LE(b["allocated_bytes"].get<uint64_t>(), 8u << 20);
  EXPECT_GT(b["allocated_bytes"].get<uint64_t>(), 7u << 20);
  // Everything written reads back.
  std::string expected;
  for (uint64_t i = 0; expected.size() < written; ++i)
    expected += random_bytes(100 + i, 64 << 10);
  expected.resize(written);
  EXPECT_EQ(read_str(*fs, a, 0, written), expected);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(WritebackTest, DedupFindsBlocksInTheFile) {
  std::unique_ptr<Filesystem> fs = mount(64 << 20);
  const Ino a = create(*fs, "a");
  write_str(*fs, a, 0, file_data(5, 1 << 20));
  fs->settle();
  ASSERT_TRUE(fs->writeback(0, false).ok());
  wait_writeback(*fs);
  const uint64_t unique = fs->stats().unique_blocks;
  const Ino b = create(*fs, "b");
  write_str(*fs, b, 0, file_data(5, 1 << 20));
  fs->settle();
  EXPECT_EQ(fs->stats().unique_blocks, unique);
  EXPECT_EQ(fs->stats().shared_refs, 256u);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(WritebackTest, PromoteBringsReadBlocksBackIntoRam) {
  std::unique_ptr<Filesystem> fs = mount(64 << 20, 0, -1, true);
  const Ino a = create(*fs, "a");
  write_str(*fs, a, 0, file_data(6, 1 << 20));
  fs->settle();
  ASSERT_TRUE(fs->writeback(0, false).ok());
  wait_writeback(*fs);
  ASSERT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 256u);
  EXPECT_EQ(read_str(*fs, a, 0, 512 << 10), file_data(6, 512 << 10));
  EXPECT_EQ(backing_stats(*fs)["promoted"].get<uint64_t>(), 128u);
  EXPECT_EQ(backing_stats(*fs)["bd_count"].get<uint64_t>(), 128u);
  EXPECT_EQ(read_str(*fs, a, 0, 1 << 20), file_data(6, 1 << 20));
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(WritebackTest, ImagesCarryBlocksFromTheFileAndLoadIntoOne) {
  const std::string image = dir_.file("fs.img");
  // Text that compresses about 2:1, twice the budget once compressed.
  constexpr size_t kFileBytes = 16 << 20;
  {
    std::unique_ptr<Filesystem> fs = mount(16 << 20);
    for (int f = 0; f < 4; ++f)
      write_str(*fs, create(*fs, "f" + std::to_string(f)), 0, file_data(10 + f, kFileBytes));
    fs->settle();
    ASSERT_GT(backing_stats(*fs)["bd_count"].get<uint64_t>(), 1000u);
    disk::Problem p = fs->save_image(image);
    ASSERT_FALSE(p) << p.message;
    EXPECT_FS_CONSISTENT(*fs);
  }
  // Into RAM alone, with room enough.
  {
    std::unique_ptr<Filesystem> big = make_fs(small_config(128 << 20));
    disk::Problem p = big->load_image(image);
    ASSERT_FALSE(p) << p.message;
    for (int f = 0; f < 4; ++f) {
      Result<Attr> at = big->lookup(kRootIno, "f" + std::to_string(f));
      ASSERT_TRUE(at.ok());
      EXPECT_EQ(read_str(*big, at->ino, 0, kFileBytes), file_data(10 + f, kFileBytes));
    }
  }
  // Into a small budget and a backing file again.
  std::unique_ptr<Filesystem> small = mount(16 << 20, 0, -1, false, image);
  EXPECT_GT(backing_stats(*small)["bd_count"].get<uint64_t>(), 1000u);
  for (int f = 0; f < 4; ++f) {
    Result<Attr> at = small->lookup(kRootIno, "f" + std::to_string(f));
    ASSERT_TRUE(at.ok());
    EXPECT_EQ(read_str(*small, at->ino, 0, kFileBytes), file_data(10 + f, kFileBytes));
  }
  EXPECT_FS_CONSISTENT(*small);
}

TEST_F(WritebackTest, StatfsCountsTheBackingFilesRoom) {
  std::unique_ptr<Filesystem> fs = mount(16 << 20, 64 << 20);
  const StatFs s = fs->statfs();
  EXPECT_EQ(s.blocks, (uint64_t{16} << 20) / 4096 + (uint64_t{64} << 20) / 4096);
  EXPECT_GT(s.blocks_free, (uint64_t{64} << 20) / 4096);
}

// A writer the budget refused calls relieve(); by then the thread may have made the room and
// left nothing to move. The writer must try again rather than fail with ENOSPC.
TEST(WritebackRelief, RoomMadeByAnotherMoverIsWorthAnotherTry) {
  ScratchDir dir;
  MemoryBudget budget(16 << 20);
  std::unique_ptr<pool::Pool> pool = std::move(*pool::Pool::create(pool::PoolConfig{}, &budget));
  DictionarySet dicts(&budget, {codec::kDefaultLevel});
  DedupStore store(pool.get(), *codec::Compressor::create(codec::CodecConfig{}), true, &budget,
                   &dicts, BackgroundConfig{});
  std::unique_ptr<disk::BackingFile> backing;
  disk::Problem p = disk::BackingFile::open(dir.file("backing"), 0, &budget, &backing);
  ASSERT_FALSE(p) << p.message;
  RwLock quiesce;
  Writeback writeback(&store, pool.get(), &budget, &quiesce, backing.get(), WritebackConfig{});
  // Nothing to move, and room to spare.
  EXPECT_TRUE(writeback.relieve());
  // Nothing to move, and no room: no point in trying again.
  const uint64_t rest = budget.available_bytes();
  ASSERT_TRUE(budget.try_charge(rest));
  EXPECT_FALSE(writeback.relieve());
  budget.uncharge(rest);
}

}  // namespace
}  // namespace zsfs::fs
