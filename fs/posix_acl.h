// POSIX access control lists in their extended-attribute form, and the rules that tie them to
// an inode's mode bits, as the kernel applies them for tmpfs (fs/posix_acl.c, Linux 6.1):
//
// - system.posix_acl_access holds a file's ACL beyond its mode bits; system.posix_acl_default a
//   directory's ACL for what is created in it. The value is the kernel's uapi format
//   (include/uapi/linux/posix_acl_xattr.h): a 4-byte little-endian version (2), then 8-byte
//   entries {u16 tag, u16 perm, u32 id}; id is a uid for ACL_USER, a gid for ACL_GROUP and
//   ignored (the kernel writes -1) for the others.
// - Setting an access ACL sets the mode's permission bits from it (owner, mask or group, other);
//   an access ACL that the mode bits express entirely is not kept (posix_acl_equiv_mode).
// - chmod rewrites the owner, mask (or group) and other entries from the new mode
//   (posix_acl_chmod), leaving named users and groups alone.
// - A new inode in a directory with a default ACL inherits it: the ACL, masked by the mode the
//   creator asked for, becomes its access ACL, and a new directory keeps the default ACL too
//   (posix_acl_create); the umask does not apply then. Symbolic links take nothing.
//
// Acl is a plain value: no locks, no budget. The filesystem core (xattrs.cc, names.cc) stores
// the values as ordinary xattr items and calls these functions under the inode's lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace zsfs::fs::acl {

inline constexpr std::string_view kAccessXattr = "system.posix_acl_access";
inline constexpr std::string_view kDefaultXattr = "system.posix_acl_default";

// Entry tags and permission bits (include/linux/posix_acl.h, include/uapi/linux/acl.h).
inline constexpr uint16_t kUserObj = 0x01;
inline constexpr uint16_t kUser = 0x02;
inline constexpr uint16_t kGroupObj = 0x04;
inline constexpr uint16_t kGroup = 0x08;
inline constexpr uint16_t kMask = 0x10;
inline constexpr uint16_t kOther = 0x20;
inline constexpr uint16_t kPermBits = 07;  // read 4, write 2, execute 1
// The id the kernel writes for entries that name nobody (ACL_UNDEFINED_ID).
inline constexpr uint32_t kUndefinedId = UINT32_MAX;

struct Entry {
  uint16_t tag = 0;
  uint16_t perm = 0;
  uint32_t id = kUndefinedId;
};

class Acl {
 public:
  // Parses and validates an xattr value as the kernel does before it stores one
  // (posix_acl_from_xattr, then posix_acl_valid): EINVAL for a size that is not a header plus
  // whole entries, an unknown tag, permission bits beyond rwx, an id of -1 for a named entry, or
  // entries out of the required order (owner, named users, group, named groups, mask, other;
  // a mask required when a named entry is present); EOPNOTSUPP for another version. A header
  // with no entries is valid and empty: setting it removes the ACL, as on tmpfs.
  static Result<Acl> parse(std::string_view value);

  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  // The xattr value, with -1 as the id of entries that name nobody.
  std::string to_xattr() const;

  // posix_acl_equiv_mode: sets mode's permission bits to what the ACL grants (the group bits
  // from the mask when there is one). Returns whether the ACL says more than the mode bits can
  // (named entries or a mask) and so must be kept as an access ACL.
  bool update_mode(uint32_t& mode) const;
  // posix_acl_create_masq: restricts the ACL to what mode allows and mode to what the ACL
  // allows (the group bits through the mask when there is one). Returns whether the result must
  // be kept as an access ACL (as update_mode). Keeps mode's file type, setuid, setgid and sticky
  // bits.
  bool create_masq(uint32_t& mode);

 private:
  std::vector<Entry> entries_;
};

// posix_acl_chmod on a stored value (one that parse() accepted), in place and without allocating:
// the owner, mask (or group) and other entries take mode's permission bits.
void chmod_xattr(std::string& value, uint32_t mode);

}  // namespace zsfs::fs::acl
