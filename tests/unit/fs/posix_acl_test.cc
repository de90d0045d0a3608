// ACL values and the mode rules of fs/posix_acl.h, against hand-worked cases from the kernel's
// fs/posix_acl.c (posix_acl_valid, posix_acl_equiv_mode, posix_acl_create_masq, posix_acl_chmod).
#include "fs/posix_acl.h"

#include <sys/stat.h>

#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

namespace zsfs::fs::acl {
namespace {

// An xattr value from entries, as setfacl(1) hands it to the kernel.
std::string value(std::initializer_list<Entry> entries, uint32_t version = 2) {
  std::string out;
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out += static_cast<char>(v >> (8 * i) & 0xff);
  };
  put(version, 4);
  for (const Entry& e : entries) {
    put(e.tag, 2);
    put(e.perm, 2);
    put(e.id, 4);
  }
  return out;
}

constexpr Entry user_obj(uint16_t perm) {
  return {kUserObj, perm, kUndefinedId};
}
constexpr Entry user(uint32_t uid, uint16_t perm) {
  return {kUser, perm, uid};
}
constexpr Entry group_obj(uint16_t perm) {
  return {kGroupObj, perm, kUndefinedId};
}
constexpr Entry group(uint32_t gid, uint16_t perm) {
  return {kGroup, perm, gid};
}
constexpr Entry mask(uint16_t perm) {
  return {kMask, perm, kUndefinedId};
}
constexpr Entry other(uint16_t perm) {
  return {kOther, perm, kUndefinedId};
}

int error_of(std::string_view v) {
  Result<Acl> acl = Acl::parse(v);
  return acl.ok() ? 0 : acl.error();
}

TEST(PosixAcl, ValidValuesParse) {
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), other(4)})), 0);
  EXPECT_EQ(
      error_of(value({user_obj(7), user(1000, 5), group_obj(5), group(50, 7), mask(7), other(0)})),
      0);
  // A mask without named entries is allowed; the header alone is an empty ACL.
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), mask(4), other(4)})), 0);
  Result<Acl> empty = Acl::parse(value({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(PosixAcl, MalformedValuesAreRefused) {
  EXPECT_EQ(error_of(""), EINVAL);
  EXPECT_EQ(error_of("\x02\x00\x00"), EINVAL);                                      // short header
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), other(4)}) + "x"), EINVAL);  // partial entry
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), other(4)}, 1)), EOPNOTSUPP);  // version
  EXPECT_EQ(error_of(value({user_obj(8), group_obj(4), other(4)})), EINVAL);   // perm beyond rwx
  EXPECT_EQ(error_of(value({{0x40, 4, 0}, group_obj(4), other(4)})), EINVAL);  // unknown tag
  EXPECT_EQ(error_of(value({group_obj(4), user_obj(6), other(4)})), EINVAL);   // out of order
  EXPECT_EQ(error_of(value({user_obj(6), other(4)})), EINVAL);                 // no group
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4)})), EINVAL);             // no other
  EXPECT_EQ(error_of(value({user_obj(6), user_obj(6), group_obj(4), other(4)})), EINVAL);
  // A named entry needs a mask, and an id.
  EXPECT_EQ(error_of(value({user_obj(6), user(1000, 4), group_obj(4), other(4)})), EINVAL);
  EXPECT_EQ(error_of(value({user_obj(6), user(kUndefinedId, 4), group_obj(4), mask(4), other(4)})),
            EINVAL);
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), group(kUndefinedId, 4), mask(4), other(4)})),
            EINVAL);
  // Entries after other.
  EXPECT_EQ(error_of(value({user_obj(6), group_obj(4), other(4), mask(4)})), EINVAL);
}

TEST(PosixAcl, StoredInTheKernelsCanonicalForm) {
  // The id of an unnamed entry is ignored on the way in and written as -1.
  std::string in = value({user_obj(6), group_obj(4), other(4)});
  in[8] = 5;  // user_obj's id
  Result<Acl> acl = Acl::parse(in);
  ASSERT_TRUE(acl.ok());
  EXPECT_EQ(acl->to_xattr(), value({user_obj(6), group_obj(4), other(4)}));
}

TEST(PosixAcl, UpdateModeFollowsTheAcl) {
  uint32_t mode = S_IFREG | S_ISUID | 0777;
  // Equivalent to mode bits: need not be kept.
  EXPECT_FALSE(Acl::parse(value({user_obj(6), group_obj(4), other(0)}))->update_mode(mode));
  EXPECT_EQ(mode, S_IFREG | S_ISUID | 0640u);
  // With a mask, the group bits are the mask's.
  EXPECT_TRUE(Acl::parse(value({user_obj(7), user(1000, 7), group_obj(4), mask(5), other(1)}))
                  ->update_mode(mode));
  EXPECT_EQ(mode, S_IFREG | S_ISUID | 0751u);
}

TEST(PosixAcl, CreateMasqRestrictsBothWays) {
  // A default ACL granting rwx to a named user, group r-x, other r-x; created with mode 0640.
  Acl acl = *Acl::parse(value({user_obj(7), user(1000, 7), group_obj(5), mask(7), other(5)}));
  uint32_t mode = S_IFREG | 0640;
  EXPECT_TRUE(acl.create_masq(mode));
  EXPECT_EQ(mode, S_IFREG | 0640u);
  EXPECT_EQ(acl.to_xattr(), value({user_obj(6), user(1000, 7), group_obj(5), mask(4), other(0)}));
  // Without a mask, the group entry takes the group bits; a minimal ACL need not be kept.
  Acl minimal = *Acl::parse(value({user_obj(7), group_obj(5), other(0)}));
  mode = S_IFDIR | S_ISGID | 0775;
  EXPECT_FALSE(minimal.create_masq(mode));
  EXPECT_EQ(mode, S_IFDIR | S_ISGID | 0750u);
}

TEST(PosixAcl, ChmodRewritesOwnerMaskAndOther) {
  std::string stored = value({user_obj(7), user(1000, 7), group_obj(5), mask(7), other(5)});
  chmod_xattr(stored, 0604);
  EXPECT_EQ(stored, value({user_obj(6), user(1000, 7), group_obj(5), mask(0), other(4)}));
  std::string no_mask = value({user_obj(7), group_obj(5), other(5)});
  chmod_xattr(no_mask, 0640);
  EXPECT_EQ(no_mask, value({user_obj(6), group_obj(4), other(0)}));
}

}  // namespace
}  // namespace zsfs::fs::acl
