// Unnamed files (O_TMPFILE) in the core, as tmpfs has them: no name until link() gives one,
// unless made with O_EXCL; freed with their data when forgotten unnamed.
#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include "fs/filesystem.h"
#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

using testing::make_fs;
using testing::read_str;
using testing::small_config;
using testing::text_block;
using testing::user;
using testing::write_str;

class TmpfileTest : public testing::FsTest {
 protected:
  std::vector<std::string> names(Ino dir) {
    std::vector<std::string> out;
    EXPECT_TRUE(fs_->readdir(dir, 0,
                             [&](const DirEntry& e) {
                               out.emplace_back(e.name);
                               return true;
                             })
                    .ok());
    return out;
  }
};

TEST_F(TmpfileTest, UnnamedUntilForgottenAndThenFreed) {
  const Attr root_before = *fs_->getattr(kRootIno);
  Attr tmp = *fs_->tmpfile(kRootIno, 0600, O_RDWR, user());
  EXPECT_EQ(tmp.nlink, 0u);
  EXPECT_EQ(tmp.mode, S_IFREG | 0600u);
  EXPECT_EQ(tmp.uid, 1000u);
  EXPECT_EQ(names(kRootIno), (std::vector<std::string>{".", ".."}));
  const Attr root_after = *fs_->getattr(kRootIno);
  EXPECT_EQ(root_after.mtime.tv_nsec, root_before.mtime.tv_nsec);
  EXPECT_EQ(root_after.size, root_before.size);
  EXPECT_EQ(fs_->stats().inodes, 2u);

  write_str(*fs_, tmp.ino, 0, text_block(1, 3 * 4096));
  EXPECT_EQ(read_str(*fs_, tmp.ino, 4096, 10), text_block(1, 3 * 4096).substr(4096, 10));
  fs_->settle();
  EXPECT_EQ(fs_->stats().data_blocks, 3u);
  fs_->forget(tmp.ino, 1);  // the kernel's last reference, after the last close
  EXPECT_EQ(fs_->stats().inodes, 1u);
  EXPECT_EQ(fs_->stats().data_blocks, 0u);
  EXPECT_EQ(fs_->getattr(tmp.ino).error(), ESTALE);
}

TEST_F(TmpfileTest, LinkGivesTheFirstNameOnce) {
  auto fs = make_fs(small_config(64 << 20, 3));  // root, the file, one more name
  Attr tmp = *fs->tmpfile(kRootIno, 0644, O_RDWR, user());
  Result<Attr> named = fs->link(tmp.ino, kRootIno, "named");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->nlink, 1u);
  // The first name cost no entry of the inode limit; a second one does.
  Result<Attr> second = fs->link(tmp.ino, kRootIno, "second");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->nlink, 2u);
  EXPECT_EQ(fs->link(tmp.ino, kRootIno, "third").error(), ENOSPC);
  // Unnamed again, it takes no name any more (I_LINKABLE went with the first link).
  ASSERT_TRUE(fs->unlink(kRootIno, "named").ok());
  ASSERT_TRUE(fs->unlink(kRootIno, "second").ok());
  EXPECT_EQ(fs->link(tmp.ino, kRootIno, "again").error(), ENOENT);
  fs->forget(tmp.ino, 3);
  EXPECT_EQ(fs->stats().inodes, 1u);
  EXPECT_FS_CONSISTENT(*fs);
}

TEST_F(TmpfileTest, ExclusiveOnesNeverTakeAName) {
  Attr tmp = *fs_->tmpfile(kRootIno, 0600, O_RDWR | O_EXCL, user());
  EXPECT_EQ(fs_->link(tmp.ino, kRootIno, "named").error(), ENOENT);
  EXPECT_EQ(names(kRootIno).size(), 2u);
  fs_->forget(tmp.ino, 1);
}

TEST_F(TmpfileTest, TakesTheDirectorysGroupEvenOnceRemoved) {
  Ino d = fs_->mkdir(kRootIno, "d", 0755, user())->ino;
  SetAttr setgid;
  setgid.mode = 02775;
  setgid.gid = 50;
  ASSERT_TRUE(fs_->setattr(d, setgid, user(0, 0)).ok());
  ASSERT_TRUE(fs_->rmdir(kRootIno, "d").ok());
  Attr tmp = *fs_->tmpfile(d, 0640, O_RDWR, user(1000, 1000));
  EXPECT_EQ(tmp.gid, 50u);
  EXPECT_EQ(fs_->link(tmp.ino, d, "named").error(), ENOENT);  // no names in a removed directory
  fs_->forget(tmp.ino, 1);
  fs_->forget(d, 1);
}

}  // namespace
}  // namespace zsfs::fs
