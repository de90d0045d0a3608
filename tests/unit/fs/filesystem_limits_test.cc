// The filesystem core at its limits and under its settings: the memory budget ends in ENOSPC and
// loses nothing written before, and direct recompression makes room for blocks, block maps, names
// and attributes before it does (but not at the inode limit); bad configurations are refused;
// compression, dedup, dictionary size and a recompression pass's compaction follow the settings.
#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "codec/dictionary.h"
#include "fs/filesystem.h"
#include "pool/pool.h"
#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

using testing::as_bytes;
using testing::make_fs;
using testing::read_str;
using testing::small_config;
using testing::text_block;
using testing::user;
using testing::write_str;

TEST(FilesystemBudget, EnospcKeepsEarlierDataAndRecoversAfterDeletes) {
  auto fs = make_fs(small_config(2 << 20, 1000));
  std::vector<std::pair<Ino, std::string>> files;
  int error = 0;
  for (int i = 0; i < 100 && error == 0; ++i) {
    Result<Attr> a = fs->create(kRootIno, "f" + std::to_string(i), 0644, 0, user());
    if (!a.ok()) {
      error = a.error();
      break;
    }
    const std::string data = testing::random_bytes(static_cast<uint64_t>(i), 64 * 1024);
    Result<size_t> written = fs->write(a->ino, 0, as_bytes(data), false);
    if (!written.ok()) {
      error = written.error();
    } else if (*written < data.size()) {
      files.emplace_back(a->ino, data.substr(0, *written));
      error = ENOSPC;
    } else {
      files.emplace_back(a->ino, data);
    }
    fs->release(a->ino);
  }
  EXPECT_EQ(error, ENOSPC);
  for (const auto& [ino, data] : files)
    EXPECT_EQ(read_str(*fs, ino, 0, data.size() + 1), data);
  StatFs st = fs->statfs();
  EXPECT_LT(st.blocks_available, 16u);
  // Free, not available: the budget's reserve for direct recompression (a 32nd of it).
  EXPECT_LE(st.blocks_free - st.blocks_available, (2u << 20) / 32 / 4096);
  EXPECT_FS_CONSISTENT(*fs);
  // Delete half; writing works again.
  for (size_t i = 0; i < files.size(); i += 2) {
    ASSERT_TRUE(fs->unlink(kRootIno, "f" + std::to_string(i)).ok());
    fs->forget(files[i].first, 1);
  }
  Result<Attr> again = fs->create(kRootIno, "again", 0644, 0, user());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(fs->write(again->ino, 0, as_bytes(testing::random_bytes(99, 64 * 1024)), false).ok());
  fs->release(again->ino);
  EXPECT_FS_CONSISTENT(*fs);
}

// A 4 MiB mount filled with lz4 text up to its first direct recompression: the budget is full,
// and every stored block can still shrink (zstd at the recompression level).
class FullBudgetTest : public ::testing::Test {
 protected:
  void fill(uint64_t nr_inodes = 10000) {
    Config c = small_config(4 << 20, nr_inodes);
    c.dict = false;
    c.recompress_after_seconds = -1;  // direct recompression only
    c.encode_threads = 0;             // every block stored as written: lz4, which zstd shrinks
    fs_ = make_fs(c);
    ASSERT_NE(fs_, nullptr);
    Result<Attr> text = fs_->create(kRootIno, "text", 0644, 0, user());
    ASSERT_TRUE(text.ok());
    text_ = text->ino;
    // Made before the fill, so that making it needs no room.
    Result<Attr> sparse = fs_->create(kRootIno, "sparse", 0644, 0, user());
    ASSERT_TRUE(sparse.ok());
    sparse_ = sparse->ino;
    while (reclaims() == 0) {
      ASSERT_LT(blocks_, 4096u) << "4 MiB of text never filled a 4 MiB budget";
      write_str(*fs_, text_, blocks_ * 4096, text_block(blocks_));
      ++blocks_;
    }
  }
  void TearDown() override {
    if (fs_ == nullptr) return;
    for (uint64_t i = 0; i < blocks_; i += 97)
      EXPECT_EQ(read_str(*fs_, text_, i * 4096, 4096), text_block(i)) << i;
    fs_->release(text_);
    fs_->release(sparse_);
    EXPECT_FS_CONSISTENT(*fs_);
  }
  uint64_t reclaims() { return fs_->stats().recompressor.reclaims; }

  std::unique_ptr<Filesystem> fs_;
  Ino text_ = 0;
  Ino sparse_ = 0;  // empty: for the test to fill
  uint64_t blocks_ = 0;
};

TEST_F(FullBudgetTest, ABlockMapThatGrowsRecompressesAsABlockDoes) {
  // A write into a full budget recompresses stored blocks to make room for its block (direct
  // recompression); the block map's nodes, charged apart from the block, must get the same:
  // before, a map growing at the moment the budget was full (every 64 blocks of a file, and at
  // each slot array doubling) turned the write away with ENOSPC while blocks could still shrink.
  fill();
  // Blocks that cost nothing in the pool (same-filled, shared), far apart, so that each costs a
  // chain of block map nodes: the map alone fills the budget, again and again.
  const std::string ones(4096, '\x01');
  const uint64_t reclaims_before = reclaims();
  uint64_t chains = 0;
  while (reclaims() < reclaims_before + 2) {
    ASSERT_LT(chains, 200000u) << "the block map never filled the budget";
    const uint64_t offset = chains * (uint64_t{1} << 30);  // a chain of nodes each
    Result<size_t> written = fs_->write(sparse_, offset, as_bytes(ones), false);
    ASSERT_TRUE(written.ok()) << "block map chain " << chains << ": errno " << written.error()
                              << ", direct recompressions so far " << reclaims();
    ++chains;
  }
  EXPECT_GT(fs_->stats().recompressor.kept, 0u);
  EXPECT_EQ(read_str(*fs_, sparse_, (chains - 1) << 30, 4096), ones);
}

TEST_F(FullBudgetTest, NamesAndAttributesRecompressButNotAtTheInodeLimit) {
  // Inodes, directory entries and extended attributes are charged apart from blocks: at a full
  // budget they make room as a write does, and only where the budget refused them (the inode
  // limit is not a matter of room).
  fill(1500);
  const uint64_t reclaims_before = reclaims();
  // Names and attributes until the inode limit: each inode, entry and attribute needs room the
  // full budget does not have (a chunk of 256 inodes takes about 29 KiB at once).
  const std::string value(256, 'v');
  for (int made = 0;; ++made) {
    const std::string name = "n" + std::to_string(made);
    Result<Attr> a = made % 2 == 0 ? fs_->mknod(kRootIno, name, S_IFREG | 0644, 0, user())
                                   : fs_->symlink(kRootIno, name, std::string(100, 't'), user());
    if (!a.ok()) {
      EXPECT_EQ(a.error(), ENOSPC);
      break;
    }
    if (made % 2 == 0) {
      ASSERT_TRUE(fs_->setxattr(a->ino, "user.v", value, 0, user()).ok()) << made;
    }
  }
  EXPECT_EQ(fs_->statfs().files_free, 0u) << "stopped by the budget, not the inode limit";
  const uint64_t reclaims_at_limit = reclaims();
  EXPECT_GE(reclaims_at_limit, reclaims_before + 2);
  // At the inode limit nothing is recompressed for nothing.
  EXPECT_EQ(fs_->mkdir(kRootIno, "one-more", 0755, user()).error(), ENOSPC);
  EXPECT_EQ(reclaims(), reclaims_at_limit);
}

TEST(FilesystemBudget, InodeLimit) {
  auto fs = make_fs(small_config(64 << 20, 10));
  int made = 0;
  for (int i = 0; i < 20; ++i) {
    Result<Attr> a = fs->mknod(kRootIno, "n" + std::to_string(i), S_IFREG | 0644, 0, user());
    if (!a.ok()) {
      EXPECT_EQ(a.error(), ENOSPC);
      break;
    }
    ++made;
  }
  EXPECT_EQ(made, 9);  // the root is one of the ten
  EXPECT_EQ(fs->statfs().files_free, 0u);
  // As on tmpfs, a second name of an inode needs room under the limit too.
  Result<Attr> n1 = fs->lookup(kRootIno, "n1");
  ASSERT_TRUE(n1.ok());
  Result<Attr> linked = fs->link(n1->ino, kRootIno, "n1-again");
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.error(), ENOSPC);
  const Ino n3 = fs->lookup(kRootIno, "n3")->ino;  // lookups: mknod's and this one
  ASSERT_TRUE(fs->unlink(kRootIno, "n3").ok());
  fs->forget(n3, 2);  // n3 is gone: one slot free
  ASSERT_TRUE(fs->link(n1->ino, kRootIno, "n1-again").ok());
  EXPECT_EQ(fs->statfs().files_free, 0u);
  ASSERT_TRUE(fs->unlink(kRootIno, "n1-again").ok());
  EXPECT_EQ(fs->statfs().files_free, 1u);
  ASSERT_TRUE(fs->unlink(kRootIno, "n0").ok());
  EXPECT_EQ(fs->statfs().files_free, 1u);  // n0 is still looked up: no slot freed
  EXPECT_FS_CONSISTENT(*fs);
}

TEST(FilesystemConfig, RejectsBadConfigs) {
  Config c = small_config();
  c.chain_pages = 0;
  EXPECT_FALSE(Filesystem::create(c).ok());
  c = small_config();
  c.chain_pages = 17;
  EXPECT_FALSE(Filesystem::create(c).ok());
  c = small_config();
  c.level = 1000;
  EXPECT_FALSE(Filesystem::create(c).ok());
  c = small_config();
  c.size_bytes = 0;
  EXPECT_FALSE(Filesystem::create(c).ok());
  c = small_config();
  c.nr_inodes = 0;
  EXPECT_FALSE(Filesystem::create(c).ok());
  c = small_config();
  c.root_mode = 010000;
  EXPECT_FALSE(Filesystem::create(c).ok());
}

TEST(FilesystemSettings, NoCompressionAndNoDedup) {
  Config c = small_config();
  c.algorithm = codec::Algorithm::kNone;
  c.dedup = false;
  auto fs = make_fs(c);
  Result<Attr> a = fs->create(kRootIno, "a", 0644, 0, user());
  Result<Attr> b = fs->create(kRootIno, "b", 0644, 0, user());
  const std::string data = text_block(1, 4 * 4096);
  write_str(*fs, a->ino, 0, data);
  write_str(*fs, b->ino, 0, data);
  Stats s = fs->stats();
  EXPECT_EQ(s.unique_blocks, 8u);
  EXPECT_EQ(s.compr_data_size, 8u * 4096);
  EXPECT_EQ(s.huge_pages, 8u);
  EXPECT_EQ(read_str(*fs, b->ino, 0, data.size()), data);
  fs->release(a->ino);
  fs->release(b->ino);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST(FilesystemSettings, TheDictionarySizeIsTheLargestUnlessTheMountIsSmallOrItIsGiven) {
  auto dict_size = [](uint64_t size_bytes, size_t asked) {
    Config c = small_config(size_bytes);
    c.dict_size_bytes = asked;
    return make_fs(c)->stats().dict_size;
  };
  EXPECT_EQ(dict_size(uint64_t{4} << 30, 0), codec::kMaxDictionaryBytes);
  EXPECT_EQ(dict_size(uint64_t{1} << 30, 0), codec::kMaxDictionaryBytes);
  EXPECT_EQ(dict_size(256 << 20, 0), 256u << 10);  // a 1024th of the budget
  EXPECT_EQ(dict_size(1 << 20, 0), codec::kMinDictionaryBytes);
  EXPECT_EQ(dict_size(256 << 20, 64 << 10), 64u << 10);      // as given, smaller
  EXPECT_EQ(dict_size(64 << 20, 1 << 20), size_t{1} << 20);  // and larger
}

TEST(FilesystemSettings, ARecompressionPassThatShrankBlocksCompactsThePool) {
  // Blocks that stay where they are, among blocks that move out: the zspages keep a few objects
  // each, too little waste for the background compactor (at least 4 MiB): the pass compacts.
  Config c = small_config();
  c.auto_compact = true;
  c.dict = false;
  c.recompress_after_seconds = -1;  // requests only
  c.encode_threads = 0;             // every block stored as written: lz4, which zstd shrinks
  auto fs = make_fs(c);
  Result<Attr> a = fs->create(kRootIno, "a", 0644, 0, user());
  ASSERT_TRUE(a.ok());
  constexpr uint64_t kBlocks = 1024;
  std::string data;
  for (uint64_t i = 0; i < kBlocks; ++i)
    data += text_block(i);
  write_str(*fs, a->ino, 0, data);
  // Three seconds later, one block in eight is written anew: into the holes its old copy left,
  // beside the older blocks. Only the older ones are due for a pass over blocks 2 s idle.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  for (uint64_t i = 0; i < kBlocks; i += 8) {
    const std::string block = text_block(kBlocks + i);
    data.replace(i * 4096, 4096, block);
    write_str(*fs, a->ino, i * 4096, block);
  }
  const uint64_t pages_before = fs->stats().pool.pages_held;
  ASSERT_TRUE(fs->recompress(2, false).ok());
  while (!fs->recompress_idle())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const Stats s = fs->stats();
  EXPECT_GT(s.pool.pages_compacted, 0u);
  EXPECT_LT(s.pool.pages_held, pages_before);
  // What is left is at most the last, partly filled zspage of each class.
  const uint64_t pool_bytes = s.pool.pages_held * pool::kPageSize;
  EXPECT_LT(pool_bytes - s.compr_data_size, uint64_t{512} << 10);
  EXPECT_EQ(read_str(*fs, a->ino, 0, data.size()), data);
  fs->release(a->ino);
  EXPECT_FS_CONSISTENT(*fs);
}

}  // namespace
}  // namespace zsfs::fs
