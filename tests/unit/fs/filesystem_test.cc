// The filesystem core driven directly, operation by operation, as tmpfs behaves.
#include "fs/filesystem.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "base/json.h"
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

class FilesystemTest : public testing::FsTest {
 protected:
  Ino create(std::string_view name, Ino parent = kRootIno, uint32_t mode = 0644) {
    Result<Attr> attr = fs_->create(parent, name, mode, O_RDWR, user());
    EXPECT_TRUE(attr.ok()) << name;
    return attr.ok() ? attr->ino : 0;
  }
  Ino mkdir(std::string_view name, Ino parent = kRootIno) {
    Result<Attr> attr = fs_->mkdir(parent, name, 0755, user());
    EXPECT_TRUE(attr.ok()) << name;
    return attr.ok() ? attr->ino : 0;
  }
  // A setgid directory of group 500, made by root.
  Ino setgid_dir(std::string_view name) {
    Ino d = mkdir(name);
    SetAttr change;
    change.mode = 02775;
    change.gid = 500;
    EXPECT_TRUE(fs_->setattr(d, change, user(0, 0)).ok());
    return d;
  }
};

TEST_F(FilesystemTest, RootDirectory) {
  Attr root = attr(kRootIno);
  EXPECT_TRUE(S_ISDIR(root.mode));
  EXPECT_EQ(root.mode & 07777, 0755u);
  EXPECT_EQ(root.nlink, 2u);
  EXPECT_EQ(root.ino, kRootIno);
}

TEST_F(FilesystemTest, CreateWriteReadBack) {
  Ino ino = create("file");
  write_str(*fs_, ino, 0, "hello, world");
  EXPECT_EQ(read_str(*fs_, ino, 0, 100), "hello, world");
  EXPECT_EQ(read_str(*fs_, ino, 7, 5), "world");
  EXPECT_EQ(read_str(*fs_, ino, 12, 5), "");
  Attr a = attr(ino);
  EXPECT_EQ(a.size, 12u);
  EXPECT_EQ(a.blocks, 8u);  // one 4 KiB block, never 0 for a file with data
  EXPECT_EQ(a.uid, 1000u);
  fs_->release(ino);
}

TEST_F(FilesystemTest, LookupCountsAndForgetFreesUnlinkedFile) {
  Ino ino = create("f");
  write_str(*fs_, ino, 0, text_block(1, 100000));
  fs_->release(ino);
  ASSERT_TRUE(fs_->lookup(kRootIno, "f").ok());  // lookups: create + this one
  ASSERT_TRUE(fs_->unlink(kRootIno, "f").ok());
  EXPECT_EQ(error_of(fs_->lookup(kRootIno, "f")), ENOENT);
  // Still referenced by the kernel: data kept.
  EXPECT_EQ(read_str(*fs_, ino, 0, 5), text_block(1, 5));
  EXPECT_GT(fs_->stats().compr_data_size, 0u);
  fs_->forget(ino, 2);
  fs_->settle();
  Stats s = fs_->stats();
  EXPECT_EQ(s.compr_data_size, 0u);
  EXPECT_EQ(s.unique_blocks, 0u);
  EXPECT_EQ(s.logical_bytes, 0u);
  EXPECT_EQ(s.pool_pages, 0u);
}

TEST_F(FilesystemTest, OpenFileOutlivesUnlinkAndForget) {
  Ino ino = create("f");
  write_str(*fs_, ino, 0, "data");
  ASSERT_TRUE(fs_->unlink(kRootIno, "f").ok());
  fs_->forget(ino, 1);
  EXPECT_EQ(read_str(*fs_, ino, 0, 4), "data");  // still open
  EXPECT_EQ(attr(ino).nlink, 0u);
  fs_->release(ino);
  EXPECT_EQ(fs_->stats().inodes, 1u);  // only the root is left
}

TEST_F(FilesystemTest, HolesReadAsZerosAndCostNothing) {
  Ino ino = create("sparse");
  write_str(*fs_, ino, 10 << 20, "end");
  Attr a = attr(ino);
  EXPECT_EQ(a.size, (10u << 20) + 3);
  EXPECT_EQ(a.blocks, 8u);
  EXPECT_EQ(read_str(*fs_, ino, 5 << 20, 8), std::string(8, '\0'));
  Stats s = fs_->stats();
  EXPECT_EQ(s.hole_bytes, 10u << 20);
  EXPECT_EQ(s.data_blocks, 1u);
  fs_->release(ino);
}

TEST_F(FilesystemTest, ZeroBlocksAreSameFilled) {
  Ino ino = create("zeros");
  write_str(*fs_, ino, 0, std::string(1 << 20, '\0'));
  Stats s = fs_->stats();
  EXPECT_EQ(s.same_pages, 256u);
  EXPECT_EQ(s.compr_data_size, 0u);
  EXPECT_EQ(s.pool_pages, 0u);
  EXPECT_EQ(attr(ino).blocks, 256u * 8);
  fs_->release(ino);
}

TEST_F(FilesystemTest, IdenticalBlocksAreShared) {
  Ino a = create("a");
  Ino b = create("b");
  const std::string data = text_block(7, 64 * 4096);
  write_str(*fs_, a, 0, data);
  fs_->settle();
  const uint64_t compressed = fs_->stats().compr_data_size;
  write_str(*fs_, b, 0, data);
  fs_->settle();
  Stats s = fs_->stats();
  EXPECT_EQ(s.compr_data_size, compressed);
  EXPECT_EQ(s.shared_refs, 64u);
  EXPECT_EQ(s.dedup_saved_bytes, 64u * 4096);
  Result<FileStats> fa = fs_->file_stats(a);  // (settled above)
  ASSERT_TRUE(fa.ok());
  EXPECT_EQ(fa->shared_blocks, 64u);
  // Overwriting one copy unshares its blocks; the other keeps its bytes.
  write_str(*fs_, b, 0, text_block(8, 64 * 4096));
  EXPECT_EQ(read_str(*fs_, a, 0, data.size()), data);
  fs_->settle();
  EXPECT_EQ(fs_->stats().shared_refs, 0u);
  fs_->release(a);
  fs_->release(b);
}

TEST_F(FilesystemTest, PartialBlockWritesMergeWithOldBytes) {
  Ino ino = create("f");
  std::string model = text_block(3, 3 * 4096 + 100);
  write_str(*fs_, ino, 0, model);
  const std::string patch = "PATCHED-ACROSS-A-BLOCK-BOUNDARY";
  write_str(*fs_, ino, 4096 - 10, patch);
  model.replace(4096 - 10, patch.size(), patch);
  EXPECT_EQ(read_str(*fs_, ino, 0, model.size() + 10), model);
  fs_->release(ino);
}

TEST_F(FilesystemTest, AppendWritesAtTheEnd) {
  Ino ino = create("log");
  ASSERT_TRUE(fs_->write(ino, 0, as_bytes("one "), true).ok());
  ASSERT_TRUE(fs_->write(ino, 0, as_bytes("two "), true).ok());
  ASSERT_TRUE(fs_->write(ino, 999, as_bytes("three"), true).ok());
  EXPECT_EQ(read_str(*fs_, ino, 0, 100), "one two three");
  fs_->release(ino);
}

TEST_F(FilesystemTest, TruncateDownZeroesTheTailAndUpMakesAHole) {
  Ino ino = create("t");
  write_str(*fs_, ino, 0, std::string(10000, 'x'));
  SetAttr shrink;
  shrink.size = 5000;
  ASSERT_TRUE(fs_->setattr(ino, shrink, user()).ok());
  EXPECT_EQ(attr(ino).blocks, 16u);
  SetAttr grow;
  grow.size = 20000;
  ASSERT_TRUE(fs_->setattr(ino, grow, user()).ok());
  const std::string back = read_str(*fs_, ino, 0, 20000);
  EXPECT_EQ(back, std::string(5000, 'x') + std::string(15000, '\0'));
  EXPECT_EQ(attr(ino).blocks, 16u);
  SetAttr zero;
  zero.size = 0;
  ASSERT_TRUE(fs_->setattr(ino, zero, user()).ok());
  EXPECT_EQ(attr(ino).blocks, 0u);
  EXPECT_EQ(fs_->stats().data_blocks, 0u);
  fs_->release(ino);
}

TEST_F(FilesystemTest, SetattrModeOwnerTimes) {
  Ino ino = create("f");
  SetAttr change;
  change.mode = 04711;
  change.uid = 42;
  change.gid = 43;
  change.atime = TimeChange::at({1000, 5});
  change.mtime = TimeChange::at({2000, 7});
  Result<Attr> a = fs_->setattr(ino, change, user(0, 0));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode, S_IFREG | 04711u);
  EXPECT_EQ(a->uid, 42u);
  EXPECT_EQ(a->gid, 43u);
  EXPECT_EQ(a->atime.tv_sec, 1000);
  EXPECT_EQ(a->atime.tv_nsec, 5);
  EXPECT_EQ(a->mtime.tv_sec, 2000);
  EXPECT_EQ(a->mtime.tv_nsec, 7);
  EXPECT_GT(a->ctime.tv_sec, 2000);
  SetAttr omit_now;
  omit_now.mtime = TimeChange::now();
  Result<Attr> b = fs_->setattr(ino, omit_now, user(0, 0));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->atime.tv_sec, 1000);  // omitted: unchanged
  EXPECT_GT(b->mtime.tv_sec, 2000);
  fs_->release(ino);
}

TEST_F(FilesystemTest, WriteUpdatesMtimeAndCtime) {
  Ino ino = create("f");
  SetAttr old;
  old.mtime = TimeChange::at({100, 0});
  ASSERT_TRUE(fs_->setattr(ino, old, user()).ok());
  write_str(*fs_, ino, 0, "x");
  EXPECT_GT(attr(ino).mtime.tv_sec, 100);
  fs_->release(ino);
}

TEST_F(FilesystemTest, DirectoriesAndLinkCounts) {
  Ino d = mkdir("d");
  EXPECT_EQ(attr(kRootIno).nlink, 3u);
  EXPECT_EQ(attr(d).nlink, 2u);
  Ino sub = mkdir("sub", d);
  EXPECT_EQ(attr(d).nlink, 3u);
  EXPECT_EQ(error_of(fs_->rmdir(kRootIno, "d")), ENOTEMPTY);
  EXPECT_EQ(error_of(fs_->unlink(kRootIno, "d")), EISDIR);
  EXPECT_EQ(error_of(fs_->mkdir(kRootIno, "d", 0755, user())), EEXIST);
  ASSERT_TRUE(fs_->rmdir(d, "sub").ok());
  EXPECT_EQ(attr(d).nlink, 2u);
  EXPECT_EQ(attr(sub).nlink, 0u);
  ASSERT_TRUE(fs_->rmdir(kRootIno, "d").ok());
  EXPECT_EQ(attr(kRootIno).nlink, 2u);
  fs_->forget(sub, 1);
  fs_->forget(d, 1);
}

TEST_F(FilesystemTest, HardLinks) {
  Ino ino = create("a");
  write_str(*fs_, ino, 0, "shared");
  Result<Attr> linked = fs_->link(ino, kRootIno, "b");
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->nlink, 2u);
  Ino d = mkdir("d");
  EXPECT_EQ(error_of(fs_->link(d, kRootIno, "dlink")), EPERM);
  EXPECT_EQ(error_of(fs_->link(ino, kRootIno, "a")), EEXIST);
  ASSERT_TRUE(fs_->unlink(kRootIno, "a").ok());
  Result<Attr> b = fs_->lookup(kRootIno, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ino, ino);
  EXPECT_EQ(b->nlink, 1u);
  EXPECT_EQ(read_str(*fs_, ino, 0, 6), "shared");
  fs_->release(ino);
}

TEST_F(FilesystemTest, SymlinksAndSpecialFiles) {
  Result<Attr> link = fs_->symlink(kRootIno, "l", "/some/target", user());
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(S_ISLNK(link->mode));
  EXPECT_EQ(link->size, 12u);
  EXPECT_EQ(*fs_->readlink(link->ino), "/some/target");
  EXPECT_EQ(error_of(fs_->symlink(kRootIno, "empty", "", user())), ENOENT);
  EXPECT_EQ(error_of(fs_->symlink(kRootIno, "long", std::string(5000, 'a'), user())), ENAMETOOLONG);
  Result<Attr> fifo = fs_->mknod(kRootIno, "fifo", S_IFIFO | 0600, 0, user());
  ASSERT_TRUE(fifo.ok());
  EXPECT_TRUE(S_ISFIFO(fifo->mode));
  Result<Attr> chr = fs_->mknod(kRootIno, "null", S_IFCHR | 0666, makedev(1, 3), user(0, 0));
  ASSERT_TRUE(chr.ok());
  EXPECT_EQ(chr->rdev, makedev(1, 3));
  Result<Attr> sock = fs_->mknod(kRootIno, "sock", S_IFSOCK | 0600, 0, user());
  ASSERT_TRUE(sock.ok());
  Result<Attr> blk = fs_->mknod(kRootIno, "blk", S_IFBLK | 0600, makedev(8, 0), user());
  ASSERT_TRUE(blk.ok());
  Result<Attr> reg = fs_->mknod(kRootIno, "reg", 0600, 0, user());
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(S_ISREG(reg->mode));
  EXPECT_EQ(error_of(fs_->readlink(fifo->ino)), EINVAL);
  EXPECT_EQ(error_of(fs_->write(fifo->ino, 0, as_bytes("x"), false)), EINVAL);
}

TEST_F(FilesystemTest, NameLimits) {
  const std::string max(kNameMax, 'n');
  EXPECT_TRUE(fs_->mkdir(kRootIno, max, 0755, user()).ok());
  EXPECT_EQ(error_of(fs_->mkdir(kRootIno, max + "n", 0755, user())), ENAMETOOLONG);
  EXPECT_EQ(error_of(fs_->lookup(kRootIno, max + "n")), ENAMETOOLONG);
  EXPECT_EQ(error_of(fs_->mkdir(kRootIno, "a/b", 0755, user())), EINVAL);
  EXPECT_EQ(error_of(fs_->lookup(kRootIno, "missing")), ENOENT);
  Ino file = create("file");
  EXPECT_EQ(error_of(fs_->lookup(file, "x")), ENOTDIR);
  EXPECT_EQ(error_of(fs_->mkdir(file, "x", 0755, user())), ENOTDIR);
  fs_->release(file);
}

TEST_F(FilesystemTest, SetgidDirectoryInheritance) {
  Ino d = setgid_dir("sgid");
  Result<Attr> f = fs_->create(d, "f", 0644, O_RDWR, user(1000, 1000));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->gid, 500u);
  EXPECT_EQ(f->mode & S_ISGID, 0u);
  Result<Attr> sub = fs_->mkdir(d, "sub", 0755, user(1000, 1000));
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->gid, 500u);
  EXPECT_NE(sub->mode & S_ISGID, 0u);
  // A group-executable setgid file for a group the creator is not in loses setgid.
  Result<Attr> g = fs_->create(d, "g", 02755, O_RDWR, user(1000, 1000));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->mode & S_ISGID, 0u);
  fs_->release(f->ino);
  fs_->release(g->ino);
}

TEST_F(FilesystemTest, SetgidDirectoryAsksWhetherTheCreatorIsInTheGroup) {
  Ino d = setgid_dir("sgid");
  // A member through a supplementary group keeps setgid: the caller's own check says so.
  Caller member = user(1000, 1000);
  member.in_group_or_capable = [](const Caller&, uint32_t group) { return group == 500; };
  Result<Attr> g = fs_->create(d, "g", 02755, O_RDWR, member);
  ASSERT_TRUE(g.ok());
  EXPECT_NE(g->mode & S_ISGID, 0u);
  fs_->release(g->ino);
}

TEST_F(FilesystemTest, KillSuidgidAsTheKernelWould) {
  int files = 0;
  auto mode_after_kill = [&](uint32_t mode, const Caller& caller) {
    Ino f = create("k" + std::to_string(++files));
    SetAttr chmod;
    chmod.mode = mode;
    EXPECT_TRUE(fs_->setattr(f, chmod, user()).ok());
    const timespec ctime = attr(f).ctime;
    const Result<bool> killed = fs_->kill_suidgid(f, caller);
    const Attr after = attr(f);
    EXPECT_TRUE(killed.ok());
    EXPECT_EQ(killed.ok() && *killed, (after.mode & 07777) != mode);
    // ctime moves only when a bit went.
    if ((after.mode & 07777) == mode) {
      EXPECT_EQ(after.ctime.tv_nsec, ctime.tv_nsec);
    }
    fs_->release(f);
    return after.mode & 07777;
  };
  const Caller outsider = user(2000, 2000);  // not in the file's group 1000
  const Caller member = user(2000, 1000);
  EXPECT_EQ(mode_after_kill(04755, member), 0755u);    // setuid always goes
  EXPECT_EQ(mode_after_kill(06755, member), 0755u);    // setgid with group execute goes
  EXPECT_EQ(mode_after_kill(02745, member), 02745u);   // without it, it marks locking: stays
  EXPECT_EQ(mode_after_kill(02745, outsider), 0745u);  // unless the writer is not in the group
  EXPECT_EQ(mode_after_kill(0755, outsider), 0755u);
  Ino d = mkdir("dir");
  SetAttr chmod;
  chmod.mode = 06755;
  ASSERT_TRUE(fs_->setattr(d, chmod, user()).ok());
  EXPECT_FALSE(*fs_->kill_suidgid(d, outsider));  // directories keep theirs
  EXPECT_EQ(attr(d).mode & 07777, 06755u);
  // Special files do not (a chown of one clears them).
  Ino fifo = fs_->mknod(kRootIno, "fifo", S_IFIFO | 06755, 0, user())->ino;
  EXPECT_TRUE(*fs_->kill_suidgid(fifo, outsider));
  EXPECT_EQ(attr(fifo).mode & 07777, 0755u);
  fs_->forget(fifo, 1);
}

TEST_F(FilesystemTest, SetattrKillsBeforeTheOwnerChanges) {
  Ino f = create("f");
  SetAttr change;
  change.mode = 02745;
  ASSERT_TRUE(fs_->setattr(f, change, user()).ok());
  // chown to another group by a member of the current one: the setgid bit of a file without
  // group execute stays (the kernel asks about the group the file had).
  SetAttr chown;
  chown.gid = 3000;
  chown.kill_suidgid = true;
  ASSERT_TRUE(fs_->setattr(f, chown, user(1000, 1000)).ok());
  EXPECT_EQ(attr(f).mode & 07777, 02745u);
  EXPECT_EQ(attr(f).gid, 3000u);
  SetAttr truncate;
  truncate.size = 0;
  truncate.kill_suidgid = true;
  ASSERT_TRUE(fs_->setattr(f, truncate, user(1000, 1000)).ok());  // not in group 3000 now
  EXPECT_EQ(attr(f).mode & 07777, 0745u);
  fs_->release(f);
}

TEST(FilesystemNodiratime, ListingLeavesDirectoryAtimeAlone) {
  Config config = testing::small_config();
  config.atime = AtimePolicy::kStrictatime;
  config.dir_atime = false;
  auto fs = make_fs(config);
  const timespec before = fs->getattr(kRootIno)->atime;
  ASSERT_TRUE(fs->readdir(kRootIno, 0, [](const DirEntry&) { return true; }).ok());
  EXPECT_EQ(fs->getattr(kRootIno)->atime.tv_nsec, before.tv_nsec);
  // Files still get theirs.
  Attr f = *fs->create(kRootIno, "f", 0644, O_RDWR, user());
  write_str(*fs, f.ino, 0, "x");
  const timespec file_before = fs->getattr(f.ino)->atime;
  EXPECT_EQ(read_str(*fs, f.ino, 0, 1), "x");
  const timespec file_after = fs->getattr(f.ino)->atime;
  EXPECT_TRUE(file_after.tv_sec != file_before.tv_sec || file_after.tv_nsec != file_before.tv_nsec);
  fs->release(f.ino);
}

TEST_F(FilesystemTest, RenameRules) {
  Ino a = mkdir("a");
  Ino b = mkdir("b");
  Ino f = create("f", a);
  write_str(*fs_, f, 0, "content");
  // Move across directories.
  ASSERT_TRUE(fs_->rename(a, "f", b, "g", 0, user()).ok());
  EXPECT_EQ(error_of(fs_->lookup(a, "f")), ENOENT);
  EXPECT_EQ(fs_->lookup(b, "g")->ino, f);
  // A directory into its own subtree.
  Ino inner = mkdir("inner", a);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "a", inner, "a2", 0, user())), EINVAL);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "a", a, "self", 0, user())), EINVAL);
  // Directory over a non-empty directory, over a file; file over a directory.
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "b", kRootIno, "a", 0, user())), ENOTEMPTY);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "a", b, "g", 0, user())), ENOTDIR);
  Ino c = mkdir("c");
  EXPECT_EQ(error_of(fs_->rename(b, "g", kRootIno, "c", 0, user())), EISDIR);
  // Directory over an empty directory: link counts follow.
  ASSERT_TRUE(fs_->rename(a, "inner", kRootIno, "c", 0, user()).ok());
  EXPECT_EQ(attr(a).nlink, 2u);
  EXPECT_EQ(attr(kRootIno).nlink, 5u);  // a, b, c (now inner) + 2
  EXPECT_EQ(attr(c).nlink, 0u);
  EXPECT_EQ(fs_->lookup(inner, "..")->ino, kRootIno);
  // RENAME_NOREPLACE and missing sources.
  Ino h = create("h");
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "h", b, "g", RENAME_NOREPLACE, user())), EEXIST);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "nope", b, "x", 0, user())), ENOENT);
  EXPECT_EQ(
      error_of(fs_->rename(kRootIno, "h", b, "x", RENAME_NOREPLACE | RENAME_EXCHANGE, user())),
      EINVAL);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "h", b, "x", 1u << 7, user())), EINVAL);
  // A file over a file replaces it; the victim's data goes when it is forgotten.
  ASSERT_TRUE(fs_->rename(kRootIno, "h", b, "g", 0, user()).ok());
  EXPECT_EQ(fs_->lookup(b, "g")->ino, h);
  EXPECT_EQ(attr(f).nlink, 0u);
  fs_->release(f);
  fs_->release(h);
}

TEST_F(FilesystemTest, RenameExchange) {
  Ino d = mkdir("d");
  Ino f = create("f");
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "f", kRootIno, "none", RENAME_EXCHANGE, user())),
            ENOENT);
  Ino e = mkdir("e", d);
  ASSERT_TRUE(fs_->rename(kRootIno, "f", d, "e", RENAME_EXCHANGE, user()).ok());
  EXPECT_EQ(fs_->lookup(kRootIno, "f")->ino, e);
  EXPECT_EQ(fs_->lookup(d, "e")->ino, f);
  EXPECT_EQ(attr(d).nlink, 2u);         // lost the subdirectory
  EXPECT_EQ(attr(kRootIno).nlink, 4u);  // d and e (now "f")
  EXPECT_EQ(fs_->lookup(e, "..")->ino, kRootIno);
  // Exchanging a directory with its own descendant's place is refused.
  Ino deep = mkdir("deep", e);
  EXPECT_EQ(error_of(fs_->rename(kRootIno, "f", e, "deep", RENAME_EXCHANGE, user())), EINVAL);
  fs_->release(f);
  (void)deep;
}

TEST_F(FilesystemTest, RenameWhiteout) {
  Ino f = create("f");
  ASSERT_TRUE(fs_->rename(kRootIno, "f", kRootIno, "g", RENAME_WHITEOUT, user(7, 8)).ok());
  Result<Attr> w = fs_->lookup(kRootIno, "f");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(S_ISCHR(w->mode));
  EXPECT_EQ(w->rdev, 0u);
  EXPECT_EQ(w->uid, 7u);
  EXPECT_EQ(fs_->lookup(kRootIno, "g")->ino, f);
  fs_->release(f);
}

TEST_F(FilesystemTest, ReaddirListsEverythingOnceWhileItChanges) {
  Ino d = mkdir("d");
  std::set<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    const std::string name = "entry" + std::to_string(i);
    Result<Attr> a = fs_->create(d, name, 0644, 0, user());
    ASSERT_TRUE(a.ok());
    fs_->release(a->ino);
    expected.insert(name);
  }
  // List 10 entries at a time, removing and adding others between the calls.
  std::multiset<std::string> seen;
  uint64_t offset = 0;
  int round = 0;
  for (;;) {
    int taken = 0;
    ASSERT_TRUE(fs_->readdir(d, offset,
                             [&](const DirEntry& e) {
                               if (taken == 10) return false;
                               seen.insert(std::string(e.name));
                               offset = e.next_offset;
                               ++taken;
                               return true;
                             })
                    .ok());
    if (taken == 0) break;
    // Churn: remove a name not yet listed and never re-added, add a new one.
    const std::string gone = "entry" + std::to_string(299 - round);
    if (expected.erase(gone) == 1) {
      ASSERT_TRUE(fs_->unlink(d, gone).ok());
    }
    Result<Attr> extra = fs_->create(d, "new" + std::to_string(round), 0644, 0, user());
    ASSERT_TRUE(extra.ok());
    fs_->release(extra->ino);
    ++round;
  }
  // Every entry present throughout was seen exactly once.
  for (const std::string& name : expected) {
    if (name.rfind("entry", 0) == 0) {
      EXPECT_EQ(seen.count(name), 1u) << name;
    }
  }
  EXPECT_EQ(seen.count("."), 1u);
  EXPECT_EQ(seen.count(".."), 1u);
}

TEST_F(FilesystemTest, ReaddirplusCountsAcceptedEntriesOnly) {
  Ino d = mkdir("d");
  Ino f = create("f", d);
  fs_->release(f);
  fs_->forget(f, 1);  // no lookup reference left; the link keeps it
  int calls = 0;
  ASSERT_TRUE(fs_->readdirplus(d, 0,
                               [&](const DirEntry&, const Attr&) {
                                 return ++calls <= 2;  // accept "." and "..", refuse "f"
                               })
                  .ok());
  ASSERT_TRUE(fs_->unlink(d, "f").ok());  // f is unreferenced now and must be gone
  EXPECT_EQ(fs_->stats().inodes, 2u);
  Ino g = create("g", d);
  fs_->release(g);
  fs_->forget(g, 1);
  ASSERT_TRUE(fs_->readdirplus(d, 2,
                               [&](const DirEntry& e, const Attr& a) {
                                 EXPECT_EQ(e.name, "g");
                                 EXPECT_EQ(a.ino, g);
                                 return true;
                               })
                  .ok());
  ASSERT_TRUE(fs_->unlink(d, "g").ok());
  EXPECT_EQ(fs_->stats().inodes, 3u);  // g lives on: readdirplus handed out a lookup
  fs_->forget(g, 1);
  EXPECT_EQ(fs_->stats().inodes, 2u);
}

TEST_F(FilesystemTest, Xattrs) {
  Ino f = create("f");
  EXPECT_TRUE(fs_->setxattr(f, "user.a", "1", 0, user()).ok());
  EXPECT_EQ(error_of(fs_->setxattr(f, "user.a", "2", XATTR_CREATE, user())), EEXIST);
  EXPECT_EQ(error_of(fs_->setxattr(f, "user.b", "2", XATTR_REPLACE, user())), ENODATA);
  EXPECT_TRUE(fs_->setxattr(f, "user.a", "22", XATTR_REPLACE, user()).ok());
  EXPECT_TRUE(fs_->setxattr(f, "trusted.t", "t", 0, user(0, 0)).ok());
  EXPECT_TRUE(fs_->setxattr(f, "security.s", "", 0, user()).ok());
  EXPECT_EQ(*fs_->getxattr(f, "user.a", user()), "22");
  EXPECT_EQ(*fs_->getxattr_size(f, "user.a", user()), 2u);
  EXPECT_EQ(*fs_->getxattr(f, "security.s", user()), "");
  EXPECT_EQ(error_of(fs_->getxattr(f, "user.none", user())), ENODATA);
  EXPECT_EQ(*fs_->listxattr(f, user(0, 0)), std::string("user.a\0trusted.t\0security.s\0", 28));
  EXPECT_EQ(*fs_->listxattr(f, user()), std::string("user.a\0security.s\0", 18));
  EXPECT_EQ(error_of(fs_->setxattr(f, "system.other", "x", 0, user())), EOPNOTSUPP);
  EXPECT_EQ(error_of(fs_->setxattr(f, "user.", "x", 0, user())), EINVAL);
  EXPECT_EQ(error_of(fs_->setxattr(f, "user." + std::string(251, 'n'), "x", 0, user())), ERANGE);
  EXPECT_TRUE(fs_->setxattr(f, "user." + std::string(250, 'n'), "x", 0, user()).ok());
  EXPECT_EQ(error_of(fs_->setxattr(f, "user.big", std::string(kXattrValueMax + 1, 'v'), 0, user())),
            E2BIG);
  EXPECT_TRUE(fs_->setxattr(f, "user.big", std::string(kXattrValueMax, 'v'), 0, user()).ok());
  EXPECT_TRUE(fs_->removexattr(f, "user.a", user()).ok());
  EXPECT_EQ(error_of(fs_->removexattr(f, "user.a", user())), ENODATA);
  // user.* only on regular files and directories.
  Result<Attr> link = fs_->symlink(kRootIno, "l", "f", user());
  EXPECT_EQ(error_of(fs_->setxattr(link->ino, "user.x", "1", 0, user())), EPERM);
  fs_->release(f);
}

TEST_F(FilesystemTest, StatsSectionsFollowTheCoreFigures) {
  int reads = 0;
  fs_->add_stats_section({"front", [&reads] {
                            ++reads;
                            return Json{{"reads", reads}};
                          }});
  fs_->add_stats_section({"second", [] { return Json(uint64_t{7}); }});
  Result<std::string> stats = fs_->getxattr(kRootIno, kXattrStats, user());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(reads, 1);
  // After the core's own figures (which end with the pool's object), in the order added.
  const size_t pool = stats->find("\"pool\":");
  const size_t front = stats->find("\"front\":{\"reads\":1}");
  const size_t second = stats->find("\"second\":7}");
  ASSERT_NE(pool, std::string::npos) << *stats;
  ASSERT_NE(front, std::string::npos) << *stats;
  ASSERT_NE(second, std::string::npos) << *stats;
  EXPECT_LT(pool, front);
  EXPECT_LT(front, second);
  EXPECT_EQ(second + std::string("\"second\":7}").size(), stats->size()) << *stats;
  // Every read writes the sections anew.
  ASSERT_TRUE(fs_->getxattr(kRootIno, kXattrStats, user()).ok());
  EXPECT_EQ(reads, 2);
}

TEST_F(FilesystemTest, VirtualXattrs) {
  Ino f = create("f");
  write_str(*fs_, f, 0, text_block(1, 8192));
  fs_->settle();
  Result<std::string> stats = fs_->getxattr(kRootIno, kXattrStats, user());
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->find("\"orig_data_size\":8192"), std::string::npos) << *stats;
  EXPECT_GE(*fs_->getxattr_size(kRootIno, kXattrStats, user()), stats->size());
  Result<std::string> file = fs_->getxattr(f, kXattrFile, user());
  ASSERT_TRUE(file.ok());
  EXPECT_NE(file->find("\"data_blocks\":2"), std::string::npos) << *file;
  EXPECT_TRUE(fs_->getxattr(kRootIno, kXattrClasses, user()).ok());
  EXPECT_EQ(error_of(fs_->getxattr(f, kXattrStats, user())), ENODATA);
  // Not listed, not settable, not removable.
  EXPECT_EQ(fs_->listxattr(kRootIno, user())->find("zsfs"), std::string::npos);
  EXPECT_EQ(error_of(fs_->setxattr(kRootIno, kXattrStats, "x", 0, user())), EPERM);
  EXPECT_EQ(error_of(fs_->removexattr(kRootIno, kXattrStats, user())), EPERM);
  EXPECT_EQ(error_of(fs_->setxattr(f, "user.zsfs.other", "x", 0, user())), EPERM);
  // Actions: the owner (uid 0 in small_config) and root only.
  EXPECT_EQ(error_of(fs_->getxattr(kRootIno, kXattrCompact, user())), EPERM);
  EXPECT_EQ(error_of(fs_->getxattr_size(kRootIno, kXattrCheck, user())), EPERM);
  Result<std::string> compact = fs_->getxattr(kRootIno, kXattrCompact, user(0, 0));
  ASSERT_TRUE(compact.ok());
  EXPECT_NE(compact->find("pages_freed"), std::string::npos);
  Result<std::string> check = fs_->getxattr(kRootIno, kXattrCheck, user(0, 0));
  ASSERT_TRUE(check.ok());
  EXPECT_NE(check->find("\"ok\":true"), std::string::npos) << *check;
  fs_->release(f);
}

TEST_F(FilesystemTest, SeekDataAndHole) {
  Ino f = create("f");
  write_str(*fs_, f, 4 * 4096, std::string(2 * 4096, 'd'));  // data in blocks 4 and 5
  write_str(*fs_, f, 10 * 4096 + 10, "x");                   // and 10; size 10*4096+11
  EXPECT_EQ(*fs_->lseek(f, 0, SEEK_DATA), 4u * 4096);
  EXPECT_EQ(*fs_->lseek(f, 5 * 4096 + 7, SEEK_DATA), 5u * 4096 + 7);
  EXPECT_EQ(*fs_->lseek(f, 6 * 4096, SEEK_DATA), 10u * 4096);
  EXPECT_EQ(*fs_->lseek(f, 0, SEEK_HOLE), 0u);
  EXPECT_EQ(*fs_->lseek(f, 4 * 4096, SEEK_HOLE), 6u * 4096);
  EXPECT_EQ(*fs_->lseek(f, 10 * 4096, SEEK_HOLE), 10u * 4096 + 11);  // end of file
  EXPECT_EQ(error_of(fs_->lseek(f, 10 * 4096 + 11, SEEK_DATA)), ENXIO);
  EXPECT_EQ(error_of(fs_->lseek(f, 1 << 30, SEEK_HOLE)), ENXIO);
  fs_->release(f);
}

TEST_F(FilesystemTest, FallocateModes) {
  Ino f = create("f");
  // Preallocation: counted in st_blocks, a hole to SEEK_DATA, zeros to read (as on tmpfs).
  ASSERT_TRUE(fs_->fallocate(f, 0, 0, 1 << 20).ok());
  Attr a = attr(f);
  EXPECT_EQ(a.size, 1u << 20);
  EXPECT_EQ(a.blocks, 2048u);
  EXPECT_EQ(error_of(fs_->lseek(f, 0, SEEK_DATA)), ENXIO);
  EXPECT_EQ(*fs_->lseek(f, 0, SEEK_HOLE), 0u);
  EXPECT_EQ(read_str(*fs_, f, 100, 4), std::string(4, '\0'));
  EXPECT_EQ(fs_->stats().pool_pages, 0u);
  // KEEP_SIZE past the end.
  ASSERT_TRUE(fs_->fallocate(f, FALLOC_FL_KEEP_SIZE, 1 << 20, 4096).ok());
  EXPECT_EQ(attr(f).size, 1u << 20);
  EXPECT_EQ(attr(f).blocks, 2056u);
  // Punch a hole: blocks released at once, partial ends zeroed.
  write_str(*fs_, f, 0, std::string(8 * 4096, 'p'));
  ASSERT_TRUE(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 3 * 4096).ok());
  std::string expected = std::string(100, 'p') + std::string(3 * 4096, '\0');
  expected += std::string(8 * 4096 - expected.size(), 'p');
  EXPECT_EQ(read_str(*fs_, f, 0, 8 * 4096), expected);
  EXPECT_EQ(*fs_->lseek(f, 4096, SEEK_HOLE), 4096u);
  // Zero range: reads zeros, extends the size without KEEP_SIZE.
  ASSERT_TRUE(fs_->fallocate(f, FALLOC_FL_ZERO_RANGE, 4096 * 7, 4096 * 300).ok());
  EXPECT_EQ(attr(f).size, 4096u * 307);
  EXPECT_EQ(read_str(*fs_, f, 4096 * 7, 10), std::string(10, '\0'));
  // Bad modes and arguments.
  EXPECT_EQ(error_of(fs_->fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, 10)), EOPNOTSUPP);
  EXPECT_EQ(error_of(fs_->fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 0, 4096)), EOPNOTSUPP);
  EXPECT_EQ(error_of(fs_->fallocate(
                f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 10)),
            EOPNOTSUPP);
  EXPECT_EQ(error_of(fs_->fallocate(f, 0, 0, 0)), EINVAL);
  EXPECT_EQ(error_of(fs_->fallocate(f, 0, kMaxFileSize, 2)), EFBIG);
  EXPECT_EQ(error_of(fs_->fallocate(kRootIno, 0, 0, 10)), EISDIR);
  fs_->release(f);
}

TEST_F(FilesystemTest, CopyFileRangeSharesAlignedBlocks) {
  Ino src = create("src");
  Ino dst = create("dst");
  const std::string data = text_block(5, 40 * 4096 + 123);
  write_str(*fs_, src, 0, data);
  fs_->settle();
  const Stats before = fs_->stats();
  Result<size_t> copied = fs_->copy_file_range(src, 0, dst, 0, data.size() + 1000, 0);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(*copied, data.size());
  EXPECT_EQ(read_str(*fs_, dst, 0, data.size() + 10), data);
  fs_->settle();
  const Stats after = fs_->stats();
  // The 40 whole blocks are shared; only the partial tail block is stored anew (and dedups too).
  EXPECT_EQ(after.shared_refs - before.shared_refs, 41u);
  // Unaligned: a plain copy, still correct.
  Ino odd = create("odd");
  copied = fs_->copy_file_range(src, 100, odd, 7, 3 * 4096, 0);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(read_str(*fs_, odd, 7, 3 * 4096), data.substr(100, 3 * 4096));
  EXPECT_EQ(read_str(*fs_, odd, 0, 7), std::string(7, '\0'));
  // Overlap within one file, flags, directories.
  EXPECT_EQ(error_of(fs_->copy_file_range(src, 0, src, 4096, 8192, 0)), EINVAL);
  EXPECT_EQ(error_of(fs_->copy_file_range(src, 0, dst, 0, 10, 1)), EINVAL);
  EXPECT_EQ(error_of(fs_->copy_file_range(src, 0, kRootIno, 0, 10, 0)), EISDIR);
  EXPECT_EQ(*fs_->copy_file_range(src, data.size(), dst, 0, 10, 0), 0u);
  for (Ino ino : {src, dst, odd})
    fs_->release(ino);
}

TEST_F(FilesystemTest, FileStatsForADirectorySubtree) {
  Ino d = mkdir("d");
  Ino a = create("a", d);
  Ino sub = mkdir("sub", d);
  Ino b = create("b", sub);
  write_str(*fs_, a, 0, text_block(1, 8192));
  write_str(*fs_, b, 0, std::string(4096, '\0'));
  ASSERT_TRUE(fs_->link(b, d, "b-again").ok());
  fs_->settle();
  Result<FileStats> s = fs_->file_stats(d);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->directory);
  EXPECT_EQ(s->files, 2u);  // the hard link counts once
  EXPECT_EQ(s->logical_bytes, 12288u);
  EXPECT_EQ(s->data_blocks, 3u);
  EXPECT_EQ(s->same_blocks, 1u);
  EXPECT_EQ(s->stored_blocks, 2u);
  EXPECT_GT(s->stored_bytes, 0u);
  fs_->release(a);
  fs_->release(b);
  (void)sub;
}

TEST(FilesystemConcurrency, ParallelWritersAndReaders) {
  auto fs = make_fs(small_config(256 << 20));
  constexpr int kThreads = 4;
  std::vector<Ino> inos;
  for (int t = 0; t < kThreads; ++t) {
    inos.push_back(fs->create(kRootIno, "f" + std::to_string(t), 0644, 0, user())->ino);
  }
  Ino shared = fs->create(kRootIno, "shared", 0644, 0, user())->ino;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        // Identical data from every thread (dedup races), then own data.
        const std::string same = text_block(static_cast<uint64_t>(round), 16 * 4096);
        write_str(*fs, inos[static_cast<size_t>(t)], 0, same);
        EXPECT_EQ(read_str(*fs, inos[static_cast<size_t>(t)], 0, same.size()), same);
        const std::string mine = text_block(static_cast<uint64_t>(1000 + t), 4096);
        write_str(*fs, shared, static_cast<uint64_t>(t) * 4096, mine);
        EXPECT_EQ(read_str(*fs, shared, static_cast<uint64_t>(t) * 4096, 4096), mine);
        if (t == 0 && round % 5 == 0) fs->compact();
      }
    });
  }
  for (auto& th : threads)
    th.join();
  fs->settle();
  Stats s = fs->stats();
  EXPECT_EQ(s.unique_blocks, 16u + kThreads);  // the identical files share every block
  for (Ino ino : inos)
    fs->release(ino);
  fs->release(shared);
  EXPECT_FS_CONSISTENT(*fs);
}

}  // namespace
}  // namespace zsfs::fs
