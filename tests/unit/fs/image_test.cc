// Images through the filesystem core: a save and a load keep every name, attribute, time, xattr,
// link, special file, hole and byte, the blocks' formats and dictionaries (nothing is
// recompressed on the way); a save while writers run gives one point in time; images whose
// contents are wrong are refused; an image too large for the budget does not fit.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>
#include <type_traits>
#include <variant>

#include <gtest/gtest.h>

#include "disk/image_reader.h"
#include "disk/image_writer.h"
#include "fs/posix_acl.h"
#include "tests/unit/disk/disk_test_util.h"
#include "tests/unit/fs/dict_test_util.h"
#include "tests/unit/fs/fs_test_util.h"
#include "tests/unit/scratch_dir.h"

namespace zsfs::fs {
namespace {

using testing::as_bytes;
using testing::make_fs;
using testing::random_bytes;
using testing::read_str;
using testing::small_config;
using testing::text_block;
using testing::user;
using testing::write_str;
using zsfs::testing::ScratchDir;

std::string time_text(const timespec& t) {
  return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
}

// Everything a user can see of the tree under dir, one line per name, in name order; hard links
// show as the path that first named the inode.
void describe(Filesystem& fs, Ino dir, const std::string& path,
              std::map<Ino, std::string>& first_path, std::string& out) {
  std::vector<std::pair<std::string, Ino>> names;
  EXPECT_TRUE(fs.readdir(dir, 0, [&](const DirEntry& e) {
                  if (e.name != "." && e.name != "..") names.emplace_back(e.name, e.ino);
                  return true;
                }).ok());
  std::sort(names.begin(), names.end());
  for (const auto& [name, ino] : names) {
    const std::string p = path + "/" + name;
    Result<Attr> a = fs.lookup(dir, name);
    EXPECT_TRUE(a.ok());
    if (!a.ok()) continue;
    fs.forget(ino, 1);
    out += p + ": ";
    if (auto it = first_path.find(ino); it != first_path.end()) {
      out += "link to " + it->second + "\n";
      continue;
    }
    first_path[ino] = p;
    out += "mode " + std::to_string(a->mode) + " " + std::to_string(a->uid) + ":" +
           std::to_string(a->gid) + " nlink " + std::to_string(a->nlink) + " rdev " +
           std::to_string(a->rdev) + " a " + time_text(a->atime) + " m " + time_text(a->mtime) +
           " c " + time_text(a->ctime);
    if (!S_ISDIR(a->mode)) {
      out += " size " + std::to_string(a->size) + " blocks " + std::to_string(a->blocks);
    }
    Result<std::string> names_list = fs.listxattr(ino, Caller{});
    EXPECT_TRUE(names_list.ok());
    for (size_t at = 0; names_list.ok() && at < names_list->size();) {
      const std::string xname = names_list->c_str() + at;
      at += xname.size() + 1;
      Result<std::string> v = fs.getxattr(ino, xname, Caller{});
      out += " [" + xname + "=" + (v.ok() ? *v : "?") + "]";
    }
    if (S_ISLNK(a->mode)) out += " -> " + *fs.readlink(ino);
    if (S_ISREG(a->mode)) {
      // Data and holes as SEEK_DATA/SEEK_HOLE see them, and a checksum of the data's bytes.
      for (uint64_t at = 0; at < a->size;) {
        Result<uint64_t> data = fs.lseek(ino, at, SEEK_DATA);
        if (!data.ok()) break;
        Result<uint64_t> hole = fs.lseek(ino, *data, SEEK_HOLE);
        const std::string bytes = read_str(fs, ino, *data, *hole - *data);
        out += " data@" + std::to_string(*data) + "-" + std::to_string(*hole) + " sum " +
               std::to_string(std::hash<std::string>{}(bytes));
        at = *hole;
      }
    }
    out += "\n";
    if (S_ISDIR(a->mode)) describe(fs, ino, p, first_path, out);
  }
}

std::string describe(Filesystem& fs) {
  std::map<Ino, std::string> first_path;
  Result<Attr> root = fs.getattr(kRootIno);
  std::string out = "/: mode " + std::to_string(root->mode) + " " + std::to_string(root->uid) +
                    ":" + std::to_string(root->gid) + " m " + time_text(root->mtime) + "\n";
  describe(fs, kRootIno, "", first_path, out);
  return out;
}

Ino make(Filesystem& fs, Ino parent, const std::string& name, uint32_t mode, uint64_t rdev = 0) {
  Result<Attr> a = S_ISDIR(mode) ? fs.mkdir(parent, name, mode & 07777, user())
                                 : fs.mknod(parent, name, mode, rdev, user());
  EXPECT_TRUE(a.ok()) << name;
  return a.ok() ? a->ino : 0;
}

// A tree with one of everything.
void populate(Filesystem& fs) {
  const Ino docs = make(fs, kRootIno, "docs", S_IFDIR | 02750);
  const Ino deep = make(fs, make(fs, docs, "a", S_IFDIR | 0700), "b", S_IFDIR | 01777);
  const Ino text = make(fs, docs, "text", S_IFREG | 0644);
  for (uint64_t i = 0; i < 40; ++i)
    write_str(fs, text, i * 4096, text_block(i));
  write_str(fs, text, 40 * 4096, "a partial last block");
  const Ino sparse = make(fs, deep, "sparse", S_IFREG | 04755);
  write_str(fs, sparse, 0, random_bytes(1, 10000));
  write_str(fs, sparse, uint64_t{1} << 40, "far away");
  ASSERT_TRUE(fs.fallocate(sparse, FALLOC_FL_KEEP_SIZE, (uint64_t{1} << 40) + 4096, 3 * 4096).ok());
  const Ino zeros = make(fs, docs, "zeros", S_IFREG | 0600);
  write_str(fs, zeros, 0, std::string(5 * 4096, '\0'));
  write_str(fs, zeros, 5 * 4096, std::string(4096, 'x'));
  const Ino copy = make(fs, kRootIno, "copy", S_IFREG | 0444);
  for (uint64_t i = 0; i < 40; ++i)
    write_str(fs, copy, i * 4096, text_block(i));  // shares every block with docs/text
  ASSERT_TRUE(fs.link(text, deep, "hardlink").ok());
  ASSERT_TRUE(fs.link(text, kRootIno, "another name").ok());
  ASSERT_TRUE(fs.symlink(docs, "link", "../somewhere/else", user()).ok());
  make(fs, docs, "fifo", S_IFIFO | 0640);
  make(fs, docs, "socket", S_IFSOCK | 0777);
  make(fs, docs, "tty", S_IFCHR | 0620, makedev(4, 1));
  make(fs, docs, "disk", S_IFBLK | 0660, makedev(8, 0));
  make(fs, docs, "whiteout", S_IFCHR, 0);
  make(fs, kRootIno, "empty dir", S_IFDIR | 0755);
  ASSERT_TRUE(fs.setxattr(text, "user.mime", "text/plain", 0, Caller{}).ok());
  ASSERT_TRUE(fs.setxattr(text, "trusted.bin", std::string("\0\x01\xff", 3), 0, Caller{}).ok());
  ASSERT_TRUE(fs.setxattr(docs, "security.label", std::string(3000, 'l'), 0, Caller{}).ok());
  SetAttr owner;
  owner.uid = 4242;
  owner.gid = 77;
  owner.atime = TimeChange::at(timespec{-100, 5});
  owner.mtime = TimeChange::at(timespec{1234567890, 999999999});
  ASSERT_TRUE(fs.setattr(sparse, owner, Caller{}).ok());
  ASSERT_TRUE(fs.setattr(kRootIno, owner, Caller{}).ok());
}

TEST(FsImage, ARoundTripKeepsEverything) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  std::unique_ptr<Filesystem> source = make_fs();
  populate(*source);
  source->settle();
  ImageSaveStats saved;
  disk::Problem p = source->save_image(path, &saved);
  ASSERT_FALSE(p) << p.message;
  EXPECT_FS_CONSISTENT(*source);  // the save's pins are gone
  EXPECT_FALSE(source->changed_since_saved());
  const Stats before = source->stats();
  EXPECT_EQ(saved.inodes, before.inodes);
  EXPECT_EQ(saved.blocks, before.unique_blocks + 2);  // and two same-filled words: 0 and 'x'

  std::unique_ptr<Filesystem> loaded = make_fs();
  ImageLoadStats load;
  p = loaded->load_image(path, &load);
  ASSERT_FALSE(p) << p.message;
  EXPECT_FALSE(loaded->changed_since_saved());
  EXPECT_FS_CONSISTENT(*loaded);
  EXPECT_EQ(describe(*loaded), describe(*source));
  EXPECT_EQ(load.bytes, saved.bytes);
  const Stats after = loaded->stats();
  EXPECT_EQ(after.unique_blocks, before.unique_blocks);
  EXPECT_EQ(after.compr_data_size, before.compr_data_size);
  EXPECT_EQ(after.shared_refs, before.shared_refs);
  EXPECT_EQ(after.same_pages, before.same_pages);
  EXPECT_EQ(after.inodes, before.inodes);
  EXPECT_EQ(after.logical_bytes, before.logical_bytes);
  // Dedup finds the loaded blocks: a third copy stores nothing new.
  const Result<Attr> third = loaded->mknod(kRootIno, "third", S_IFREG | 0644, 0, user());
  for (uint64_t i = 0; i < 40; ++i)
    write_str(*loaded, third->ino, i * 4096, text_block(i));
  loaded->settle();
  EXPECT_EQ(loaded->stats().unique_blocks, before.unique_blocks);
  EXPECT_TRUE(loaded->changed_since_saved());
}

// An ACL value as setfacl(1) hands it to the kernel: version 2, then (tag, perm, id) entries.
std::string acl_value(std::initializer_list<acl::Entry> entries) {
  std::string out;
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out += static_cast<char>(v >> (8 * i) & 0xff);
  };
  put(2, 4);
  for (const acl::Entry& e : entries) {
    put(e.tag, 2);
    put(e.perm, 2);
    put(e.id, 4);
  }
  return out;
}

TEST(FsImage, AclsComeBackWithoutInheritingAnyOnTheWay) {
  // A directory's default ACL is stored with it; loading it before the files inside were created
  // would hand it to files that never had it, and to files whose own ACL differs.
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  std::unique_ptr<Filesystem> source = make_fs();
  const Ino shared = make(*source, kRootIno, "shared", S_IFDIR | 0755);
  const Ino before = make(*source, shared, "before", S_IFREG | 0640);
  const std::string default_acl = acl_value({{acl::kUserObj, 7},
                                             {acl::kUser, 5, 1000},
                                             {acl::kGroupObj, 5},
                                             {acl::kMask, 5},
                                             {acl::kOther, 0}});
  ASSERT_TRUE(source->setxattr(shared, acl::kDefaultXattr, default_acl, 0, Caller{}).ok());
  const Ino inherited = make(*source, shared, "inherited", S_IFREG | 0666);
  const Ino sub = make(*source, shared, "sub", S_IFDIR | 0777);
  const Ino own = make(*source, shared, "own", S_IFREG | 0644);
  ASSERT_TRUE(source
                  ->setxattr(own, acl::kAccessXattr,
                             acl_value({{acl::kUserObj, 6},
                                        {acl::kGroupObj, 4},
                                        {acl::kGroup, 6, 50},
                                        {acl::kMask, 6},
                                        {acl::kOther, 4}}),
                             0, Caller{})
                  .ok());
  const Ino removed = make(*source, shared, "removed", S_IFREG | 0600);
  ASSERT_TRUE(source->removexattr(removed, acl::kAccessXattr, Caller{}).ok());
  ASSERT_TRUE(source->getxattr(inherited, acl::kAccessXattr, Caller{}).ok());
  ASSERT_TRUE(source->getxattr(sub, acl::kDefaultXattr, Caller{}).ok());
  ASSERT_FALSE(source->getxattr(before, acl::kAccessXattr, Caller{}).ok());
  ASSERT_FALSE(source->save_image(path, nullptr));

  std::unique_ptr<Filesystem> loaded = make_fs();
  disk::Problem p = loaded->load_image(path, nullptr);
  ASSERT_FALSE(p) << p.message;
  EXPECT_FS_CONSISTENT(*loaded);
  EXPECT_EQ(describe(*loaded), describe(*source));

  // Without ACLs (noacl) the same image is refused, saying why.
  Config noacl = small_config();
  noacl.posix_acl = false;
  std::unique_ptr<Filesystem> plain = make_fs(noacl);
  p = plain->load_image(path, nullptr);
  EXPECT_EQ(p.error, EOPNOTSUPP);
  EXPECT_NE(p.message.find("noacl"), std::string::npos) << p.message;
}

TEST(FsImage, TheImageIsSmallerThanTheMemoryItTakes) {
  ScratchDir dir;
  std::unique_ptr<Filesystem> fs = make_fs();
  populate(*fs);
  for (int f = 0; f < 200; ++f) {
    const Ino ino = make(*fs, kRootIno, "f" + std::to_string(f), S_IFREG | 0644);
    write_str(*fs, ino, 0, text_block(1000 + static_cast<uint64_t>(f), 3000));
  }
  fs->settle();
  ImageSaveStats saved;
  ASSERT_FALSE(fs->save_image(dir.file("fs.img"), &saved));
  EXPECT_LT(saved.bytes, fs->stats().mem_used_total);
}

TEST(FsImage, DictionariesAndSettledBlocksComeBackAsTheyWere) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  Config config = small_config(128 << 20);
  config.recompress_after_seconds = -1;  // on request only
  config.dict_size_bytes = 16 << 10;
  std::unique_ptr<Filesystem> source = make_fs(config);
  // 17 MiB of two vocabularies: enough for the recompressor to train a dictionary.
  const Ino a = make(*source, kRootIno, "a", S_IFREG | 0644);
  for (uint64_t i = 0; i < 4400; ++i) {
    const testing::BlockBytes b = testing::vocabulary_block(static_cast<int>(i % 2), i);
    ASSERT_TRUE(source->write(a, i * 4096, b, false).ok());
  }
  source->settle();
  ASSERT_TRUE(source->recompress(0, false).ok());
  while (!source->recompress_idle())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A few blocks written after the pass are left for the recompressor.
  const Ino b = make(*source, kRootIno, "b", S_IFREG | 0644);
  for (uint64_t i = 0; i < 10; ++i)
    write_str(*source, b, i * 4096, text_block(i + 7));
  source->settle();
  const Stats before = source->stats();
  ASSERT_EQ(before.dictionaries.size(), 1u);
  ASSERT_GT(before.dictionaries[0].blocks, 1000u);
  ASSERT_EQ(before.unsettled_blocks, 10u);
  ASSERT_FALSE(source->save_image(path));

  std::unique_ptr<Filesystem> loaded = make_fs(config);
  disk::Problem p = loaded->load_image(path);
  ASSERT_FALSE(p) << p.message;
  const Stats after = loaded->stats();
  ASSERT_EQ(after.dictionaries.size(), 1u);
  EXPECT_EQ(after.dictionaries[0].slot, before.dictionaries[0].slot);
  EXPECT_EQ(after.dictionaries[0].dict_id, before.dictionaries[0].dict_id);
  EXPECT_EQ(after.dictionaries[0].blocks, before.dictionaries[0].blocks);
  EXPECT_EQ(after.dictionaries[0].current, before.dictionaries[0].current);
  for (size_t e = 0; e < after.encodings.size(); ++e) {
    EXPECT_EQ(after.encodings[e].blocks, before.encodings[e].blocks) << e;
    EXPECT_EQ(after.encodings[e].stored_bytes, before.encodings[e].stored_bytes) << e;
  }
  EXPECT_EQ(after.unsettled_blocks, 10u);
  EXPECT_EQ(after.recompressor.tried, 0u);
  EXPECT_EQ(describe(*loaded), describe(*source));
  EXPECT_FS_CONSISTENT(*loaded);
}

// A pass that kept smaller encodings changes what an image holds: the next save (at unmount,
// every save_interval) is not skipped. A pass that kept nothing changes nothing.
TEST(FsImage, APassThatShrankBlocksIsAChangeToSave) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  Config config = small_config(128 << 20);
  config.recompress_after_seconds = -1;  // on request only
  std::unique_ptr<Filesystem> fs = make_fs(config);
  const Ino a = make(*fs, kRootIno, "a", S_IFREG | 0644);
  for (uint64_t i = 0; i < 64; ++i)
    write_str(*fs, a, i * 4096, text_block(i));
  fs->settle();
  ASSERT_FALSE(fs->save_image(path));
  ASSERT_FALSE(fs->changed_since_saved());
  auto pass = [&] {
    ASSERT_TRUE(fs->recompress(0, false).ok());
    while (!fs->recompress_idle())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  pass();
  ASSERT_GT(fs->stats().recompressor.kept, 0u);
  EXPECT_TRUE(fs->changed_since_saved());
  ImageSaveStats first;
  ASSERT_FALSE(fs->save_image(path, &first));
  ASSERT_FALSE(fs->changed_since_saved());
  const uint64_t kept = fs->stats().recompressor.kept;
  pass();  // every block is settled: nothing to keep
  EXPECT_EQ(fs->stats().recompressor.kept, kept);
  EXPECT_FALSE(fs->changed_since_saved());
}

// A writer rewrites files 0..N-1 in turn, each with the round number; a save taken meanwhile must
// find them as they were at one moment: files 0..i at round r+1, the rest at round r.
TEST(FsImage, ASaveWhileWritersRunIsOnePointInTime) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  std::unique_ptr<Filesystem> fs = make_fs();
  constexpr int kFiles = 50;
  std::vector<Ino> files;
  for (int f = 0; f < kFiles; ++f)
    files.push_back(make(*fs, kRootIno, "f" + std::to_string(f), S_IFREG | 0644));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t round = 1; !stop.load(); ++round) {
      for (int f = 0; f < kFiles; ++f) {
        const std::string content = std::to_string(round) + " " + text_block(round, 8000);
        EXPECT_TRUE(fs->write(files[static_cast<size_t>(f)], 0, as_bytes(content), false).ok());
      }
    }
  });
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    disk::Problem p = fs->save_image(path);
    ASSERT_FALSE(p) << p.message;
    std::unique_ptr<Filesystem> loaded = make_fs();
    ASSERT_FALSE(loaded->load_image(path));
    std::vector<uint64_t> rounds;
    for (int f = 0; f < kFiles; ++f) {
      Result<Attr> a = loaded->lookup(kRootIno, "f" + std::to_string(f));
      const std::string content = read_str(*loaded, a->ino, 0, 8000);
      rounds.push_back(std::strtoull(content.c_str(), nullptr, 10));
    }
    // Non-increasing, by at most one.
    for (size_t f = 1; f < rounds.size(); ++f) {
      EXPECT_TRUE(rounds[f] == rounds[0] || rounds[f] + 1 == rounds[0]) << f;
      EXPECT_LE(rounds[f], rounds[f - 1]) << f;
    }
  }
  stop = true;
  writer.join();
  EXPECT_FS_CONSISTENT(*fs);
}

TEST(FsImage, AnImageLargerThanTheBudgetDoesNotFit) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  std::unique_ptr<Filesystem> big = make_fs(small_config(64 << 20));
  const Ino f = make(*big, kRootIno, "random", S_IFREG | 0644);
  write_str(*big, f, 0, random_bytes(3, 8 << 20));
  ASSERT_FALSE(big->save_image(path));
  std::unique_ptr<Filesystem> small = make_fs(small_config(4 << 20));
  disk::Problem p = small->load_image(path);
  EXPECT_EQ(p.error, ENOSPC);
  EXPECT_NE(p.message.find("does not fit"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find(path), std::string::npos) << p.message;
}

// A blocks section of many frames: every byte comes back, and a damaged frame at either end of
// it is refused, the message naming that frame.
TEST(FsImage, ALargeImageComesBackWholeAndADamagedFrameIsNamed) {
  ScratchDir dir;
  const std::string path = dir.file("fs.img");
  std::unique_ptr<Filesystem> fs = make_fs(small_config(256 << 20));
  // 48 MiB of incompressible data, stored raw: a blocks section of about 48 MiB.
  std::map<std::pair<std::string, std::string>, std::string> files;
  for (int d = 0; d < 3; ++d) {
    const std::string dir_name = "d" + std::to_string(d);
    const Ino dir_ino = make(*fs, kRootIno, dir_name, S_IFDIR | 0755);
    for (int f = 0; f < 4; ++f) {
      const std::string name = "f" + std::to_string(f);
      std::string data = random_bytes(static_cast<uint64_t>(d * 10 + f), 4 << 20);
      write_str(*fs, make(*fs, dir_ino, name, S_IFREG | 0644), 0, data);
      files[{dir_name, name}] = std::move(data);
    }
  }
  fs->settle();
  ASSERT_FALSE(fs->save_image(path));
  const std::string before = describe(*fs);  // after the save: describing reads (atimes)
  {
    std::unique_ptr<Filesystem> loaded = make_fs(small_config(256 << 20));
    ImageLoadStats stats;
    disk::Problem p = loaded->load_image(path, &stats);
    ASSERT_FALSE(p) << p.message;
    EXPECT_EQ(stats.blocks, uint64_t{48} << 8);
    EXPECT_EQ(describe(*loaded), before);
    for (const auto& [name, data] : files) {
      Result<Attr> d = loaded->lookup(kRootIno, name.first);
      ASSERT_TRUE(d.ok());
      Result<Attr> f = loaded->lookup(d->ino, name.second);
      ASSERT_TRUE(f.ok());
      EXPECT_EQ(read_str(*loaded, f->ino, 0, data.size()), data)
          << name.first << "/" << name.second;
    }
    EXPECT_FS_CONSISTENT(*loaded);
  }
  std::unique_ptr<disk::ImageReader> reader;
  ASSERT_FALSE(disk::ImageReader::open(path, &reader));
  const disk::SectionExtent blocks = reader->summary().extent(disk::Section::kBlocks);
  reader.reset();
  ASSERT_GT(blocks.bytes, uint64_t{32} << 20);
  const std::vector<std::byte> good = disk::testing::read_whole(path);
  for (const uint64_t at : {blocks.offset + 1000, blocks.offset + blocks.bytes - 1000}) {
    std::vector<std::byte> bad = good;
    bad[at] ^= std::byte{0x40};
    disk::testing::write_whole(path, bad);
    std::unique_ptr<Filesystem> loaded = make_fs(small_config(256 << 20));
    const disk::Problem p = loaded->load_image(path);
    EXPECT_EQ(p.error, EIO) << p.message;
    EXPECT_NE(p.message.find("fails its checksum"), std::string::npos) << p.message;
    // The first frame, or one well past the middle (frames hold about 1 MiB).
    const std::string frame =
        at < blocks.offset + (1 << 20) ? "frame 1 of the blocks section" : "of the blocks section";
    EXPECT_NE(p.message.find(frame), std::string::npos) << p.message;
    if (at > blocks.offset + (1 << 20)) {
      const size_t n = p.message.find("frame ");
      ASSERT_NE(n, std::string::npos);
      EXPECT_GT(std::stoul(p.message.substr(n + 6)), 40u) << p.message;
    }
  }
}

// --- Images whose contents are wrong, made with the disk layer's writer -------------------------

// A run of blocks, owning its ids (BlockRunRecord only points at them).
struct BlockRun {
  uint64_t inode;
  uint64_t first_index;
  std::vector<uint32_t> blocks;
};
using Record = std::variant<disk::InodeRecord, disk::EntryRecord, disk::XattrRecord, BlockRun>;

disk::InodeRecord dir(uint64_t id) {
  disk::InodeRecord r;
  r.id = id;
  r.mode = S_IFDIR | 0755;
  return r;
}
disk::InodeRecord file(uint64_t id, uint64_t size = 4096) {
  disk::InodeRecord r;
  r.id = id;
  r.mode = S_IFREG | 0644;
  r.size = size;
  return r;
}
disk::EntryRecord entry(uint64_t directory, uint64_t child, std::string_view name) {
  return disk::EntryRecord{directory, child, name};
}

class BadImages : public ::testing::Test {
 protected:
  // Loads an image whose metadata section holds records, with one raw block (id 17) and no
  // dictionaries.
  disk::Problem load(const std::vector<Record>& records) {
    std::unique_ptr<disk::ImageWriter> w;
    EXPECT_FALSE(disk::ImageWriter::create(path_, {}, &w));
    EXPECT_FALSE(w->begin(disk::Section::kMetadata));
    for (const Record& r : records) {
      disk::Problem p = std::visit(
          [&](const auto& record) {
            if constexpr (std::is_same_v<std::decay_t<decltype(record)>, BlockRun>) {
              return w->add(disk::BlockRunRecord{record.inode, record.first_index, record.blocks});
            } else {
              return w->add(record);
            }
          },
          r);
      EXPECT_FALSE(p) << p.message;
    }
    EXPECT_FALSE(w->begin(disk::Section::kBlocks));
    const std::vector<std::byte> raw(4096, std::byte{7});
    EXPECT_FALSE(w->add(disk::BlockRecord{17, 0, codec::Encoding::kRaw, 0, 0, 0, raw}));
    EXPECT_FALSE(w->commit());
    return make_fs()->load_image(path_);
  }
  void expect_refused(const std::vector<Record>& records, const char* what) {
    disk::Problem p = load(records);
    EXPECT_EQ(p.error, EIO) << what;
    EXPECT_NE(p.message.find(what), std::string::npos) << p.message;
    EXPECT_NE(p.message.find(path_ + ": corrupt: "), std::string::npos) << p.message;
  }
  ScratchDir dir_;
  const std::string path_ = dir_.file("bad.img");
};

TEST_F(BadImages, AGoodOneLoads) {
  disk::Problem p = load({dir(1), file(5), entry(1, 5, "f"), BlockRun{5, 0, {17}}});
  EXPECT_FALSE(p) << p.message;
}

TEST_F(BadImages, WrongTreesAreRefused) {
  expect_refused({file(1)}, "the first inode is not the root directory");
  expect_refused({}, "the image has no root directory");
  expect_refused({dir(1), file(5)}, "inode 5 is named by no entry");
  expect_refused({dir(1), entry(1, 9, "ghost")}, "names inode 9, which no earlier record defines");
  expect_refused({dir(1), file(5), entry(3, 5, "f")},
                 "an entry in directory 3, which no earlier record defines");
  expect_refused({dir(1), dir(5), entry(1, 5, "d"), entry(1, 5, "again")},
                 "a second entry ('again') for directory 5");
  expect_refused({dir(1), file(5), entry(1, 5, "a/b")}, "entry 'a/b' in directory inode 1");
  expect_refused({dir(1), file(5), entry(1, 5, "f"), file(6), entry(1, 6, "f")},
                 "entry 'f' in directory inode 1: File exists");
  expect_refused({dir(1), file(5), entry(1, 5, "f"), file(6), entry(5, 6, "g")}, "Not a directory");
  disk::InodeRecord typeless = file(5);
  typeless.mode = 0644;
  expect_refused({dir(1), typeless}, "inode 5 has mode 420, of no file type");
}

TEST_F(BadImages, WrongBlocksAndAttributesAreRefused) {
  const std::vector<Record> named = {dir(1), file(5), entry(1, 5, "f")};
  auto with = [&](std::vector<Record> more) {
    std::vector<Record> all = named;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  expect_refused(with({BlockRun{5, 0, {18}}}), "names block 18, which the image does not hold");
  expect_refused(with({BlockRun{5, 1, {17}}}), "data at block 1 of inode 5, past its size");
  expect_refused(with({BlockRun{5, 0, {17, 17}}}), "past its size");
  expect_refused(with({BlockRun{5, 0, {17}}, BlockRun{5, 0, {17}}}), "block 0 of inode 5 twice");
  expect_refused({dir(1), BlockRun{1, 0, {17}}}, "blocks of inode 1, not a file");
  expect_refused({dir(1), disk::XattrRecord{1, "user.zsfs.recompress", ""}},
                 "xattr 'user.zsfs.recompress'");
  expect_refused({dir(1), disk::XattrRecord{1, "user.a", "1"}, disk::XattrRecord{1, "user.a", "2"}},
                 "xattr 'user.a': File exists");
  disk::InodeRecord link;
  link.id = 5;
  link.mode = S_IFLNK | 0777;
  expect_refused({dir(1), link, entry(1, 5, "l")}, "symbolic link 5 has a target of 0 bytes");
}

TEST_F(BadImages, BlocksNamingMissingDictionariesOrOutOfOrderAreRefused) {
  std::unique_ptr<disk::ImageWriter> w;
  ASSERT_FALSE(disk::ImageWriter::create(path_, {}, &w));
  ASSERT_FALSE(w->begin(disk::Section::kMetadata));
  ASSERT_FALSE(w->add(dir(1)));
  ASSERT_FALSE(w->begin(disk::Section::kBlocks));
  const std::vector<std::byte> payload(100, std::byte{1});
  ASSERT_FALSE(w->add(disk::BlockRecord{17, 0, codec::Encoding::kZstd, 5, 0, 0, payload}));
  ASSERT_FALSE(w->commit());
  disk::Problem p = make_fs()->load_image(path_);
  EXPECT_NE(p.message.find("block 17 names dictionary 5, which the image does not hold"),
            std::string::npos)
      << p.message;

  w.reset();
  ASSERT_FALSE(disk::ImageWriter::create(path_, {}, &w));
  ASSERT_FALSE(w->begin(disk::Section::kBlocks));
  const std::vector<std::byte> raw(4096, std::byte{1});
  ASSERT_FALSE(w->add(disk::BlockRecord{20, 0, codec::Encoding::kRaw, 0, 0, 0, raw}));
  ASSERT_FALSE(w->add(disk::BlockRecord{19, 0, codec::Encoding::kRaw, 0, 0, 0, raw}));
  ASSERT_FALSE(w->commit());
  p = make_fs()->load_image(path_);
  EXPECT_NE(p.message.find("block 19 after block 20 (ids must ascend)"), std::string::npos)
      << p.message;
}

}  // namespace
}  // namespace zsfs::fs
