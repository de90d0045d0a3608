// The namespace family: lookup, forget, attributes, and creating, linking, removing and
// renaming names. These hold the namespace lock (shared to look up, exclusive to change) and
// then the inodes they touch, in ascending number. An inode whose last reference goes is
// destroyed after every lock is dropped.
#include <linux/fs.h>
#include <sys/stat.h>

#include "base/log.h"
#include "fs/file_account.h"
#include "fs/filesystem_impl.h"
#include "fs/posix_acl.h"

namespace zsfs::fs {
namespace {

// The most links one inode may have (tmpfs allows up to the counter's limit).
constexpr uint32_t kLinkMax = UINT32_MAX - 1;

// Checks a name that is about to be created.
Status check_new_name(std::string_view name) {
  if (name.empty()) return Errno{ENOENT};
  if (name.size() > kNameMax) return Errno{ENAMETOOLONG};
  if (name == "." || name == "..") return Errno{EEXIST};
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return Errno{EINVAL};
  }
  return {};
}

Status check_existing_name(std::string_view name) {
  if (name.empty()) return Errno{ENOENT};
  if (name.size() > kNameMax) return Errno{ENAMETOOLONG};
  return {};
}

}  // namespace

Result<Attr> Filesystem::Impl::lookup(Ino parent, std::string_view name) {
  ZSFS_TRY_STATUS(check_existing_name(name));
  ReaderLock ns(ns_mu_);
  Inode* dir = get(parent);
  if (dir == nullptr) return Errno{ESTALE};
  if (dir->dir == nullptr) return Errno{ENOTDIR};
  Ino child_ino;
  if (name == ".") {
    child_ino = parent;
  } else if (name == "..") {
    child_ino = dir->dir->parent;
  } else {
    const std::optional<Directory::Entry> entry = dir->dir->find(name);
    if (!entry) return Errno{ENOENT};
    child_ino = entry->ino;
  }
  Inode* child = get(child_ino);
  ZSFS_CHECK_MSG(child != nullptr, "a directory entry names a freed inode");
  WriterLock lock(child->mu);
  ++child->nlookup;
  return attr_of(*child);
}

void Filesystem::Impl::forget(Ino ino, uint64_t nlookup) {
  Inode* inode = get(ino);
  if (inode == nullptr || ino == kRootIno) return;
  bool doomed;
  {
    WriterLock lock(inode->mu);
    if (inode->nlookup < nlookup) {
      log(LogLevel::kWarning, "forget of %lu lookups on inode %lu, which has %lu",
          static_cast<unsigned long>(nlookup), static_cast<unsigned long>(ino),
          static_cast<unsigned long>(inode->nlookup));
      nlookup = inode->nlookup;
    }
    inode->nlookup -= nlookup;
    doomed = doom_if_unreferenced(*inode);
  }
  if (doomed) destroy(inode);
}

Result<Attr> Filesystem::Impl::getattr(Ino ino) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  return attr_of(*inode);
}

Result<Attr> Filesystem::Impl::setattr(Ino ino, const SetAttr& change, const Caller& caller) {
  // Permission to change is the kernel's check (default_permissions).
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  WriterLock lock(inode->mu);
  const timespec t = now();
  if (change.size) {
    if (inode->is_dir()) return Errno{EISDIR};
    if (!inode->is_reg()) return Errno{EINVAL};
    if (*change.size > kMaxFileSize) return Errno{EFBIG};
    FileAccount account(*this, *inode);
    ZSFS_TRY_STATUS(truncate_locked(*inode, *change.size));
    if (change.mtime.kind == TimeChange::Kind::kOmit) inode->mtime = t;
  }
  if (change.mode) {
    inode->mode = (inode->mode & S_IFMT) | (*change.mode & 07777);
    chmod_acl(*inode);
  }
  // Before the owner changes: whether a setgid bit survives depends on the group it had.
  if (change.kill_suidgid) kill_suidgid_locked(*inode, caller);
  if (change.uid) inode->uid = *change.uid;
  if (change.gid) inode->gid = *change.gid;
  auto changed = [&](const TimeChange& c, const Timestamp& current) -> Timestamp {
    switch (c.kind) {
      case TimeChange::Kind::kNow:
        return t;
      case TimeChange::Kind::kValue:
        return c.value;
      case TimeChange::Kind::kOmit:
        break;
    }
    return current;
  };
  inode->atime = changed(change.atime, inode->atime);
  inode->mtime = changed(change.mtime, inode->mtime);
  inode->ctime = change.ctime ? *change.ctime : t;
  return attr_of(*inode);
}

bool Filesystem::Impl::kill_suidgid_locked(Inode& inode, const Caller& caller) {
  // As the kernel for the FUSE kill flags, which it sends for anything but a directory (a chown
  // of a fifo or a device clears the bits too): setuid always; setgid when the group may execute
  // (otherwise it marks mandatory locking, not privilege), or when the caller is neither in the
  // file's group nor holds CAP_FSETID (setattr_should_drop_sgid()).
  if (inode.is_dir()) return false;
  uint32_t mode = inode.mode & ~static_cast<uint32_t>(S_ISUID);
  if ((mode & S_ISGID) && ((mode & S_IXGRP) || !caller.may_keep_setgid(inode.gid))) {
    mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  if (mode == inode.mode) return false;
  inode.mode = mode;
  return true;
}

Result<bool> Filesystem::Impl::kill_suidgid(Ino ino, const Caller& caller) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  {
    // Most writes find neither bit: a shared lock answers them.
    ReaderLock lock(inode->mu);
    if ((inode->mode & (S_ISUID | S_ISGID)) == 0) return false;
  }
  WriterLock lock(inode->mu);
  if (!kill_suidgid_locked(*inode, caller)) return false;
  inode->ctime = now();
  return true;
}

Result<std::string> Filesystem::Impl::readlink(Ino ino) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  if (!S_ISLNK(inode->mode)) return Errno{EINVAL};
  return inode->extras->symlink;
}

Result<Inode*> Filesystem::Impl::new_inode(const Inode& dir, uint32_t mode, uint64_t rdev,
                                           std::string_view symlink_target, const Caller& caller,
                                           bool open, const timespec& t) {
  const uint32_t type = mode & S_IFMT;
  // Owner and group as the kernel's inode_init_owner(): a setgid directory hands its group on,
  // and its setgid bit to subdirectories; no setgid file for a group the creator is not in.
  uint32_t gid = caller.gid;
  if (dir.mode & S_ISGID) {
    gid = dir.gid;
    if (type == S_IFDIR) mode |= S_ISGID;
  }
  if (type != S_IFDIR && (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
      !caller.may_keep_setgid(gid)) {
    mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  // The umask, or the directory's default ACL; a symbolic link's mode is always 0777.
  InheritedAcls acls;
  if (type != S_IFLNK) {
    try {
      acls = inherit_acls(dir, mode, caller);
    } catch (const std::bad_alloc&) {
      return Errno{ENOMEM};
    }
  }

  // What the new inode owns besides itself, charged before anything changes.
  const bool device = (type == S_IFCHR || type == S_IFBLK) && rdev != 0;
  const bool has_extras = type == S_IFLNK || device || !acls.empty();
  const uint64_t acl_bytes = acls.bytes();
  const uint64_t extra = (type == S_IFDIR ? sizeof(Directory) : 0) +
                         (has_extras ? InodeExtras::own_bytes_for(symlink_target.size()) : 0) +
                         acl_bytes;
  if (!budget_.try_charge(extra)) return Errno{ENOSPC};
  Result<Inode*> allocated = inodes_.allocate();
  if (!allocated.ok()) {
    budget_.uncharge(extra);
    return Errno{allocated.error()};
  }
  Inode* inode = *allocated;
  // Nobody else can reach the new inode until the caller publishes it, so taking its lock cannot
  // wait (even though its number may be below the directory's).
  const bool made = [&]() {
    WriterLock lock(inode->mu);
    inode->mode = mode;
    inode->uid = caller.uid;
    inode->gid = gid;
    inode->nlink = type == S_IFDIR ? 2 : 1;
    inode->atime = inode->mtime = inode->ctime = t;
    inode->nlookup = 1;
    inode->nopen = open ? 1 : 0;
    if (type == S_IFLNK) inode->size = symlink_target.size();
    try {
      if (type == S_IFDIR) {
        inode->dir = std::make_unique<Directory>(&budget_);
        inode->dir->parent = dir.ino;
        inode->size = 2 * kBogoDirentBytes;
      }
      if (has_extras) {
        inode->extras = std::make_unique<InodeExtras>();
        InodeExtras& extras = *inode->extras;
        extras.symlink = symlink_target;
        if (device) extras.rdev = rdev;
        if (!acls.access.empty()) {
          extras.xattrs.items.emplace_back(acl::kAccessXattr, std::move(acls.access));
        }
        if (!acls.default_acl.empty()) {
          extras.xattrs.items.emplace_back(acl::kDefaultXattr, std::move(acls.default_acl));
        }
        extras.xattrs.bytes = acl_bytes;
      }
    } catch (const std::bad_alloc&) {
      inode->dir.reset();
      inode->extras.reset();
      return false;
    }
    return true;
  }();
  if (!made) {
    inodes_.release(inode);
    budget_.uncharge(extra);
    return Errno{ENOMEM};
  }
  extra_bytes_ += extra;
  return inode;
}

void Filesystem::Impl::discard_new_inode(Inode* inode) {
  {
    WriterLock lock(inode->mu);
    inode->nlink = 0;
    inode->nlookup = 0;
    inode->nopen = 0;
    inode->doomed = true;
  }
  destroy(inode);
}

Result<Attr> Filesystem::Impl::make_node(Ino parent, std::string_view name, uint32_t mode,
                                         uint64_t rdev, std::string_view symlink_target,
                                         const Caller& caller, bool open) {
  ZSFS_TRY_STATUS(check_new_name(name));
  const uint32_t type = mode & S_IFMT;
  WriterLock ns(ns_mu_);
  Inode* dir = get(parent);
  if (dir == nullptr) return Errno{ESTALE};
  if (dir->dir == nullptr) return Errno{ENOTDIR};
  if (dir->dir->find(name)) return Errno{EEXIST};
  WriterLock dir_lock(dir->mu);
  if (dir->nlink == 0) return Errno{ENOENT};  // removed while still open
  if (type == S_IFDIR && dir->nlink >= kLinkMax) return Errno{EMLINK};

  const timespec t = now();
  Result<Inode*> made = new_inode(*dir, mode, rdev, symlink_target, caller, open, t);
  if (!made.ok()) return Errno{made.error()};
  Inode* inode = *made;
  if (Status inserted = dir->dir->insert(name, inode->ino, type); !inserted.ok()) {
    discard_new_inode(inode);
    return Errno{inserted.error()};
  }
  dir->mtime = dir->ctime = t;
  dir->size += kBogoDirentBytes;
  if (type == S_IFDIR) ++dir->nlink;
  ReaderLock lock(inode->mu);
  return attr_of(*inode);
}

Result<Attr> Filesystem::Impl::tmpfile(Ino parent, uint32_t mode, bool linkable,
                                       const Caller& caller) {
  // The directory only lends its group, setgid bit and default ACL: it gets no entry and keeps
  // its times, and may even have been removed, as on tmpfs.
  ReaderLock ns(ns_mu_);
  Inode* dir = get(parent);
  if (dir == nullptr) return Errno{ESTALE};
  if (dir->dir == nullptr) return Errno{ENOTDIR};
  ReaderLock dir_lock(dir->mu);
  Result<Inode*> made = new_inode(*dir, S_IFREG | (mode & 07777), 0, {}, caller, false, now());
  if (!made.ok()) return Errno{made.error()};
  Inode* inode = *made;
  WriterLock lock(inode->mu);
  inode->nlink = 0;
  inode->linkable = linkable;
  return attr_of(*inode);
}

Result<Attr> Filesystem::Impl::link(Ino ino, Ino new_parent, std::string_view new_name) {
  ZSFS_TRY_STATUS(check_new_name(new_name));
  WriterLock ns(ns_mu_);
  Inode* inode = get(ino);
  Inode* dir = get(new_parent);
  if (inode == nullptr || dir == nullptr) return Errno{ESTALE};
  if (dir->dir == nullptr) return Errno{ENOTDIR};
  if (inode->dir != nullptr) return Errno{EPERM};
  if (dir->dir->find(new_name)) return Errno{EEXIST};
  InodeLocks locks{inode, dir};
  inode->mu.assert_held();
  dir->mu.assert_held();
  // An unlinked file takes no new name, but for an O_TMPFILE file made linkable, whose first
  // name this is (the kernel's I_LINKABLE).
  if (dir->nlink == 0 || (inode->nlink == 0 && !inode->linkable)) return Errno{ENOENT};
  if (inode->nlink >= kLinkMax) return Errno{EMLINK};
  // Names beyond an inode's first count against the inode limit, as on tmpfs.
  const bool extra_name = inode->nlink > 0;
  if (extra_name) ZSFS_TRY_STATUS(inodes_.reserve_link());
  if (Status inserted = dir->dir->insert(new_name, ino, inode->type()); !inserted.ok()) {
    if (extra_name) inodes_.release_link();
    return Errno{inserted.error()};
  }
  const timespec t = now();
  ++inode->nlink;
  inode->linkable = false;
  ++inode->nlookup;
  inode->ctime = t;
  dir->mtime = dir->ctime = t;
  dir->size += kBogoDirentBytes;
  return attr_of(*inode);
}

Status Filesystem::Impl::remove(Ino parent, std::string_view name, bool directory) {
  ZSFS_TRY_STATUS(check_existing_name(name));
  if (directory && name == ".") return Errno{EINVAL};
  if (directory && name == "..") return Errno{ENOTEMPTY};
  Inode* doomed = nullptr;
  {
    WriterLock ns(ns_mu_);
    Inode* dir = get(parent);
    if (dir == nullptr) return Errno{ESTALE};
    if (dir->dir == nullptr) return Errno{ENOTDIR};
    const std::optional<Directory::Entry> entry = dir->dir->find(name);
    if (!entry) return Errno{ENOENT};
    Inode* child = get(entry->ino);
    ZSFS_CHECK(child != nullptr);
    if (directory) {
      if (child->dir == nullptr) return Errno{ENOTDIR};
      if (!child->dir->empty()) return Errno{ENOTEMPTY};
    } else if (child->dir != nullptr) {
      return Errno{EISDIR};
    }
    InodeLocks locks{dir, child};
    dir->mu.assert_held();
    child->mu.assert_held();
    dir->dir->erase(name);
    const timespec t = now();
    dir->mtime = dir->ctime = t;
    dir->size -= kBogoDirentBytes;
    if (directory) {
      --dir->nlink;
      child->nlink = 0;
    } else {
      if (child->nlink > 1) inodes_.release_link();
      --child->nlink;
    }
    child->ctime = t;
    if (doom_if_unreferenced(*child)) doomed = child;
  }
  if (doomed != nullptr) destroy(doomed);
  return {};
}

Status Filesystem::Impl::rename(Ino parent, std::string_view name, Ino new_parent,
                                std::string_view new_name, unsigned flags, const Caller& caller) {
  constexpr unsigned kKnown = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;
  if ((flags & ~kKnown) != 0) return Errno{EINVAL};
  const bool exchange = flags & RENAME_EXCHANGE;
  const bool noreplace = flags & RENAME_NOREPLACE;
  const bool whiteout = flags & RENAME_WHITEOUT;
  if (exchange && (noreplace || whiteout)) return Errno{EINVAL};
  ZSFS_TRY_STATUS(check_existing_name(name));
  ZSFS_TRY_STATUS(check_new_name(new_name));
  if (name == "." || name == "..") return Errno{EBUSY};

  Inode* doomed = nullptr;
  {
    WriterLock ns(ns_mu_);
    Inode* old_dir = get(parent);
    Inode* new_dir = get(new_parent);
    if (old_dir == nullptr || new_dir == nullptr) return Errno{ESTALE};
    if (old_dir->dir == nullptr || new_dir->dir == nullptr) return Errno{ENOTDIR};
    const std::optional<Directory::Entry> old_entry = old_dir->dir->find(name);
    if (!old_entry) return Errno{ENOENT};
    Inode* src = get(old_entry->ino);
    const std::optional<Directory::Entry> new_entry = new_dir->dir->find(new_name);
    Inode* dst = new_entry ? get(new_entry->ino) : nullptr;
    if (exchange && dst == nullptr) return Errno{ENOENT};
    if (dst == src) return {};  // two names of one inode: POSIX says do nothing
    if (dst != nullptr && noreplace) return Errno{EEXIST};
    const bool src_is_dir = src->dir != nullptr;
    const bool dst_is_dir = dst != nullptr && dst->dir != nullptr;
    if (!exchange && dst != nullptr) {
      if (src_is_dir && !dst_is_dir) return Errno{ENOTDIR};
      if (!src_is_dir && dst_is_dir) return Errno{EISDIR};
      if (dst_is_dir && !dst->dir->empty()) return Errno{ENOTEMPTY};
    }
    // A directory may not move into its own subtree.
    auto is_ancestor = [&](const Inode* ancestor, Ino from) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
      for (Ino ino = from;; ino = get(ino)->dir->parent) {
        if (ino == ancestor->ino) return true;
        if (ino == kRootIno) return false;
      }
    };
    if (old_dir != new_dir) {
      if (src_is_dir && is_ancestor(src, new_dir->ino)) return Errno{EINVAL};
      if (exchange && dst_is_dir && is_ancestor(dst, old_dir->ino)) return Errno{EINVAL};
    }

    // The whiteout inode, made first: it is the one allocation besides a directory entry.
    Inode* white = nullptr;
    if (whiteout) {
      Result<Inode*> allocated = inodes_.allocate();
      if (!allocated.ok()) return Errno{allocated.error()};
      white = *allocated;
    }
    InodeLocks locks{old_dir, new_dir, src, dst};
    old_dir->mu.assert_held();
    new_dir->mu.assert_held();
    src->mu.assert_held();
    const timespec t = now();

    if (exchange) {
      dst->mu.assert_held();
      old_dir->dir->replace(name, dst->ino, dst->type());
      new_dir->dir->replace(new_name, src->ino, src->type());
      if (old_dir != new_dir) {
        if (src_is_dir) src->dir->parent = new_dir->ino;
        if (dst_is_dir) dst->dir->parent = old_dir->ino;
        if (src_is_dir != dst_is_dir) {
          const int moved = src_is_dir ? 1 : -1;  // directories gained by new_dir
          new_dir->nlink += static_cast<uint32_t>(moved);
          old_dir->nlink -= static_cast<uint32_t>(moved);
        }
      }
      dst->ctime = t;
    } else {
      if (dst != nullptr) {
        dst->mu.assert_held();
        new_dir->dir->replace(new_name, src->ino, src->type());
        if (dst_is_dir) {
          dst->nlink = 0;
          --new_dir->nlink;
        } else {
          if (dst->nlink > 1) inodes_.release_link();
          --dst->nlink;
        }
        dst->ctime = t;
        if (doom_if_unreferenced(*dst)) doomed = dst;
      } else {
        Status inserted = new_dir->dir->insert(new_name, src->ino, src->type());
        if (!inserted.ok()) {
          if (white != nullptr) inodes_.release(white);
          return Errno{inserted.error()};
        }
        new_dir->size += kBogoDirentBytes;
      }
      if (white != nullptr) {
        WriterLock white_lock(white->mu);  // unreachable by others until the entry exists
        white->mode = S_IFCHR;             // a whiteout: character device 0:0, mode 0
        white->uid = caller.uid;
        white->gid = caller.gid;
        white->nlink = 1;
        white->atime = white->mtime = white->ctime = t;
        old_dir->dir->replace(name, white->ino, S_IFCHR);
      } else {
        old_dir->dir->erase(name);
        old_dir->size -= kBogoDirentBytes;
      }
      if (src_is_dir && old_dir != new_dir) {
        src->dir->parent = new_dir->ino;
        --old_dir->nlink;
        ++new_dir->nlink;
      }
    }
    src->ctime = t;
    old_dir->mtime = old_dir->ctime = t;
    new_dir->mtime = new_dir->ctime = t;
  }
  if (doomed != nullptr) destroy(doomed);
  return {};
}

}  // namespace zsfs::fs
