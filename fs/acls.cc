// POSIX ACLs in the core: kept as the xattr items system.posix_acl_access and
// system.posix_acl_default (charged and counted as xattrs: inode_bytes in the statistics), and
// the three places where they meet the mode bits (fs/posix_acl.h has the rules):
// - setting an access ACL sets the mode from it (set_acl),
// - chmod rewrites the access ACL from the mode (chmod_acl, from setattr),
// - a new inode takes its directory's default ACL instead of the umask (inherit_acls, from
//   new_inode).
// The kernel (with FUSE_POSIX_ACL) enforces ACLs in its permission checks, validates a value
// before it sends it and checks that the caller owns the inode; it leaves these three to the
// filesystem. All of them run under the inode's lock.
#include <sys/stat.h>

#include "fs/filesystem_impl.h"
#include "fs/posix_acl.h"

namespace zsfs::fs {

uint64_t InheritedAcls::bytes() const {
  return (access.empty() ? 0 : xattr_entry_bytes(acl::kAccessXattr, access)) +
         (default_acl.empty() ? 0 : xattr_entry_bytes(acl::kDefaultXattr, default_acl));
}

InheritedAcls Filesystem::Impl::inherit_acls(const Inode& dir, uint32_t& mode,
                                             const Caller& caller) const {
  InheritedAcls inherited;
  const std::string* dir_default =
      config_.posix_acl ? find_xattr(dir, acl::kDefaultXattr) : nullptr;
  if (dir_default == nullptr) {
    mode &= ~(caller.umask & 0777);
    return inherited;
  }
  Result<acl::Acl> parsed = acl::Acl::parse(*dir_default);
  ZSFS_CHECK_MSG(parsed.ok(), "a stored default ACL does not parse");
  if (S_ISDIR(mode)) inherited.default_acl = *dir_default;
  if (parsed->create_masq(mode)) inherited.access = parsed->to_xattr();
  return inherited;
}

Status Filesystem::Impl::set_acl(Inode& inode, std::string_view name, std::string_view value,
                                 const Caller& caller) {
  Result<acl::Acl> parsed = acl::Acl::parse(value);
  if (!parsed.ok()) return Errno{parsed.error()};
  // As the kernel's set_posix_acl(): no ACL on a symbolic link; a default ACL on directories
  // only, where removing one from anything else is a success that changes nothing.
  if (S_ISLNK(inode.mode)) return Errno{EOPNOTSUPP};
  const bool access = name == acl::kAccessXattr;
  if (!access && !inode.is_dir()) return parsed->empty() ? Status{} : Status(Errno{EACCES});

  uint32_t mode = inode.mode;
  bool keep = !parsed->empty();
  if (access && keep) {
    // posix_acl_update_mode(): the mode follows the ACL, and a setgid bit survives only for a
    // member of the group (or a holder of CAP_FSETID).
    keep = parsed->update_mode(mode);
    if (!caller.may_keep_setgid(inode.gid)) mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  if (keep) {
    // Stored in the canonical form the kernel writes: ids of unnamed entries as -1.
    ZSFS_TRY_STATUS(store_xattr(inode, name, parsed->to_xattr(), 0));
  } else if (Status erased = erase_xattr(inode, name); !erased.ok() && erased.error() != ENODATA) {
    return erased;
  }
  inode.mode = mode;
  inode.ctime = now();
  return {};
}

void Filesystem::Impl::chmod_acl(Inode& inode) {
  if (inode.extras == nullptr) return;
  for (auto& [key, value] : inode.extras->xattrs.items) {
    if (key == acl::kAccessXattr) return acl::chmod_xattr(value, inode.mode);
  }
}

}  // namespace zsfs::fs
