// POSIX ACLs through the core, as tmpfs keeps them: the mode follows an access ACL, chmod
// rewrites it, new inodes inherit a directory's default ACL in place of the umask, bad values are
// refused, and what they cost is charged and given back.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <initializer_list>
#include <string>

#include "fs/filesystem.h"
#include "fs/inode.h"
#include "fs/posix_acl.h"
#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

using acl::Entry;
using testing::make_fs;
using testing::small_config;
using testing::user;

std::string acl_value(std::initializer_list<Entry> entries) {
  std::string out("\x02\0\0\0", 4);
  for (const Entry& e : entries) {
    for (uint64_t v : {uint64_t{e.tag} | uint64_t{e.perm} << 16, uint64_t{e.id}}) {
      for (int i = 0; i < 4; ++i)
        out += static_cast<char>(v >> (8 * i) & 0xff);
    }
  }
  return out;
}
constexpr uint32_t kNone = acl::kUndefinedId;

// u::rwx, u:1001:rwx, g::r-x, m::rwx, o::r-x (setfacl -m u:1001:rwx on a 0755 inode).
const std::string kNamedUser = acl_value({{acl::kUserObj, 7, kNone},
                                          {acl::kUser, 7, 1001},
                                          {acl::kGroupObj, 5, kNone},
                                          {acl::kMask, 7, kNone},
                                          {acl::kOther, 5, kNone}});

class FilesystemAclTest : public testing::FsTest {
 protected:
  std::string get(Ino ino, std::string_view name) {
    Result<std::string> v = fs_->getxattr(ino, name, user());
    return v.ok() ? *v : "errno " + std::to_string(v.error());
  }
  Caller with_umask(uint32_t umask) {
    Caller caller = user();
    caller.umask = umask;
    return caller;
  }
};

TEST_F(FilesystemAclTest, AccessAclSetsTheModeAndIsKeptOnlyWhenItSaysMore) {
  Ino f = fs_->mknod(kRootIno, "f", S_IFREG | 0644, 0, user())->ino;
  ASSERT_TRUE(fs_->setxattr(f, acl::kAccessXattr, kNamedUser, 0, user()).ok());
  EXPECT_EQ(attr(f).mode & 07777, 0775u);  // group bits from the mask
  EXPECT_EQ(get(f, acl::kAccessXattr), kNamedUser);
  // One equivalent to mode bits sets them and is not kept (setfacl -b, or u::,g::,o:: alone).
  ASSERT_TRUE(fs_->setxattr(f, acl::kAccessXattr,
                            acl_value({{acl::kUserObj, 6, kNone},
                                       {acl::kGroupObj, 0, kNone},
                                       {acl::kOther, 0, kNone}}),
                            0, user())
                  .ok());
  EXPECT_EQ(attr(f).mode & 07777, 0600u);
  EXPECT_EQ(get(f, acl::kAccessXattr), "errno " + std::to_string(ENODATA));
  EXPECT_EQ(*fs_->listxattr(f, user()), "");
}

TEST_F(FilesystemAclTest, SettingAnAclDropsSetgidForOutsiders) {
  Ino f = fs_->mknod(kRootIno, "f", S_IFREG | 02755, 0, user(1000, 1000))->ino;
  // Owner in the group: setgid stays.
  ASSERT_TRUE(fs_->setxattr(f, acl::kAccessXattr, kNamedUser, 0, user(1000, 1000)).ok());
  EXPECT_EQ(attr(f).mode & 07777, 02775u);
  // A caller outside the file's group without CAP_FSETID (here: by gid, not root): it goes.
  ASSERT_TRUE(fs_->setxattr(f, acl::kAccessXattr, kNamedUser, 0, user(1000, 2000)).ok());
  EXPECT_EQ(attr(f).mode & 07777, 0775u);
}

TEST_F(FilesystemAclTest, ChmodRewritesTheAccessAcl) {
  Ino f = fs_->mknod(kRootIno, "f", S_IFREG | 0644, 0, user())->ino;
  ASSERT_TRUE(fs_->setxattr(f, acl::kAccessXattr, kNamedUser, 0, user()).ok());
  const uint64_t used = fs_->stats().mem_used_total;
  SetAttr chmod;
  chmod.mode = 0640;
  ASSERT_TRUE(fs_->setattr(f, chmod, user()).ok());
  EXPECT_EQ(get(f, acl::kAccessXattr), acl_value({{acl::kUserObj, 6, kNone},
                                                  {acl::kUser, 7, 1001},
                                                  {acl::kGroupObj, 5, kNone},
                                                  {acl::kMask, 4, kNone},
                                                  {acl::kOther, 0, kNone}}));
  EXPECT_EQ(fs_->stats().mem_used_total, used);  // rewritten in place
}

TEST_F(FilesystemAclTest, DefaultAclsOnlyOnDirectoriesAndNoneOnSymlinks) {
  Ino f = fs_->mknod(kRootIno, "f", S_IFREG | 0644, 0, user())->ino;
  EXPECT_EQ(error_of(fs_->setxattr(f, acl::kDefaultXattr, kNamedUser, 0, user())), EACCES);
  // Removing one from a file, or an access ACL nobody set, succeeds, as on tmpfs.
  EXPECT_EQ(error_of(fs_->setxattr(f, acl::kDefaultXattr, acl_value({}), 0, user())), 0);
  EXPECT_EQ(error_of(fs_->removexattr(f, acl::kDefaultXattr, user())), 0);
  EXPECT_EQ(error_of(fs_->removexattr(f, acl::kAccessXattr, user())), 0);
  Ino l = fs_->symlink(kRootIno, "l", "f", user())->ino;
  EXPECT_EQ(error_of(fs_->setxattr(l, acl::kAccessXattr, kNamedUser, 0, user())), EOPNOTSUPP);
  fs_->forget(f, 1);
  fs_->forget(l, 1);
}

TEST_F(FilesystemAclTest, MalformedValuesAreRefusedAndChangeNothing) {
  Ino f = fs_->mknod(kRootIno, "f", S_IFREG | 0644, 0, user())->ino;
  const Attr before = attr(f);
  EXPECT_EQ(error_of(fs_->setxattr(f, acl::kAccessXattr, "x", 0, user())), EINVAL);
  EXPECT_EQ(error_of(fs_->setxattr(f, acl::kAccessXattr, kNamedUser.substr(0, 20), 0, user())),
            EINVAL);
  std::string bad_version = kNamedUser;
  bad_version[0] = 1;
  EXPECT_EQ(error_of(fs_->setxattr(f, acl::kAccessXattr, bad_version, 0, user())), EOPNOTSUPP);
  EXPECT_EQ(attr(f).mode, before.mode);
  EXPECT_EQ(attr(f).ctime.tv_nsec, before.ctime.tv_nsec);
  EXPECT_EQ(*fs_->listxattr(f, user()), "");
  fs_->forget(f, 1);
}

TEST_F(FilesystemAclTest, NewInodesInheritTheDefaultAclInsteadOfTheUmask) {
  Ino d = fs_->mkdir(kRootIno, "d", 0755, user())->ino;
  ASSERT_TRUE(fs_->setxattr(d, acl::kDefaultXattr, kNamedUser, 0, user()).ok());
  const Caller umask = with_umask(077);  // would leave 0600 without the ACL

  Attr file = *fs_->create(d, "file", 0666, O_RDWR, umask);
  EXPECT_EQ(file.mode & 07777, 0664u);  // 0666 masked by the ACL: owner rw, mask rw, other r
  EXPECT_EQ(get(file.ino, acl::kAccessXattr), acl_value({{acl::kUserObj, 6, kNone},
                                                         {acl::kUser, 7, 1001},
                                                         {acl::kGroupObj, 5, kNone},
                                                         {acl::kMask, 6, kNone},
                                                         {acl::kOther, 4, kNone}}));
  EXPECT_EQ(get(file.ino, acl::kDefaultXattr), "errno " + std::to_string(ENODATA));

  Attr sub = *fs_->mkdir(d, "sub", 0777, umask);
  EXPECT_EQ(sub.mode & 07777, 0775u);
  EXPECT_EQ(get(sub.ino, acl::kDefaultXattr), kNamedUser);  // directories pass it on
  EXPECT_EQ(get(sub.ino, acl::kAccessXattr), kNamedUser);

  Attr fifo = *fs_->mknod(d, "fifo", S_IFIFO | 0600, 0, umask);
  EXPECT_EQ(fifo.mode & 07777, 0600u);
  Attr tmp = *fs_->tmpfile(d, 0640, O_RDWR, umask);
  EXPECT_EQ(tmp.mode & 07777, 0640u);
  EXPECT_NE(get(tmp.ino, acl::kAccessXattr).find('\x02'), std::string::npos);
  // Symbolic links take nothing.
  Attr link = *fs_->symlink(d, "link", "file", umask);
  EXPECT_EQ(link.mode & 07777, 0777u);
  EXPECT_EQ(*fs_->listxattr(link.ino, user()), "");

  // Without a default ACL, the umask.
  Attr plain = *fs_->create(kRootIno, "plain", 0666, O_RDWR, with_umask(027));
  EXPECT_EQ(plain.mode & 07777, 0640u);
  EXPECT_EQ(*fs_->listxattr(plain.ino, user()), "");

  fs_->release(file.ino);
  fs_->release(plain.ino);
  for (Ino ino : {d, file.ino, sub.ino, fifo.ino, tmp.ino, link.ino, plain.ino})
    fs_->forget(ino, 1);
}

TEST_F(FilesystemAclTest, WhatAclsCostIsChargedAndGivenBack) {
  const uint64_t empty = fs_->stats().mem_used_total;
  Ino d = fs_->mkdir(kRootIno, "d", 0755, user())->ino;
  const uint64_t with_dir = fs_->stats().mem_used_total;
  ASSERT_TRUE(fs_->setxattr(d, acl::kDefaultXattr, kNamedUser, 0, user()).ok());
  // One xattr item (its two strings and their bytes) and the inode's extras that hold it, all
  // counted in inode_bytes.
  const uint64_t item = 2 * sizeof(std::string) + acl::kDefaultXattr.size() + kNamedUser.size();
  EXPECT_EQ(fs_->stats().mem_used_total, with_dir + item + InodeExtras::own_bytes_for(0));
  for (int i = 0; i < 10; ++i) {
    Attr sub = *fs_->mkdir(d, "s" + std::to_string(i), 0755, user());
    fs_->forget(sub.ino, 1);
  }
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(fs_->rmdir(d, "s" + std::to_string(i)).ok());
  ASSERT_TRUE(fs_->removexattr(d, acl::kDefaultXattr, user()).ok());
  EXPECT_EQ(fs_->stats().mem_used_total, with_dir);
  fs_->forget(d, 1);
  ASSERT_TRUE(fs_->rmdir(kRootIno, "d").ok());
  EXPECT_EQ(fs_->stats().mem_used_total, empty);
}

TEST(FilesystemNoAcl, AclNamesAreNotSupported) {
  Config config = small_config();
  config.posix_acl = false;
  auto fs = make_fs(config);
  Ino f = fs->mknod(kRootIno, "f", S_IFREG | 0644, 0, user())->ino;
  Result<std::string> none = fs->getxattr(f, acl::kAccessXattr, user());
  EXPECT_EQ(fs->setxattr(f, acl::kAccessXattr, kNamedUser, 0, user()).error(), EOPNOTSUPP);
  EXPECT_EQ(none.error(), EOPNOTSUPP);
  fs->forget(f, 1);
}

}  // namespace
}  // namespace zsfs::fs
