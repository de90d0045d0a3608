// The namespace family: lookup, forget, attributes, and creating, linking, removing and
// renaming names. These hold the namespace lock (shared to look up, exclusive to change) and
// then the inodes they touch, in ascending number. An inode whose last reference goes is
// destroyed after every lock is dropped.
#include <linux/fs.h>
#include <sys/stat.h>

#include "base/log.h"
#include "fs/file_account.h"
#include "fs/filesystem_impl.h"

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
  (void)caller;  // permission to change is the kernel's check (default_permissions)
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
  if (change.mode) inode->mode = (inode->mode & S_IFMT) | (*change.mode & 07777);
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

Result<std::string> Filesystem::Impl::readlink(Ino ino) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  if (!S_ISLNK(inode->mode)) return Errno{EINVAL};
  return inode->extras->symlink;
}

Result<Attr> Filesystem::Impl::make_node(Ino parent, std::string_view name, uint32_t mode,
                                         uint64_t rdev, std::string_view symlink_target,
                                         const Caller& caller, bool open) {
  ZSFS_TRY_STATUS(check_new_name(name));
  const uint32_t type = mode & S_IFMT;
  // What the new inode owns besides itself, charged before anything changes.
  const bool device = (type == S_IFCHR || type == S_IFBLK) && rdev != 0;
  uint64_t extra = 0;
  if (type == S_IFDIR) {
    extra = sizeof(Directory);
  } else if (type == S_IFLNK || device) {
    extra = InodeExtras::own_bytes_for(symlink_target.size());
  }

  WriterLock ns(ns_mu_);
  Inode* dir = get(parent);
  if (dir == nullptr) return Errno{ESTALE};
  if (dir->dir == nullptr) return Errno{ENOTDIR};
  if (dir->dir->find(name)) return Errno{EEXIST};
  WriterLock dir_lock(dir->mu);
  if (dir->nlink == 0) return Errno{ENOENT};  // removed while still open
  if (type == S_IFDIR && dir->nlink >= kLinkMax) return Errno{EMLINK};

  if (!budget_.try_charge(extra)) return Errno{ENOSPC};
  Result<Inode*> allocated = inodes_.allocate();
  if (!allocated.ok()) {
    budget_.uncharge(extra);
    return Errno{allocated.error()};
  }
  Inode* inode = *allocated;

  if (dir->mode & S_ISGID) {
    // A setgid directory hands its group on, and its setgid bit to subdirectories.
    if (type == S_IFDIR) mode |= S_ISGID;
  }
  const uint32_t gid = (dir->mode & S_ISGID) ? dir->gid : caller.gid;
  if (type != S_IFDIR && (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && gid != caller.gid &&
      caller.uid != 0) {
    // As the kernel's inode_init_owner: no setgid file for a group the creator is not in.
    mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  const timespec t = now();
  // Nobody else can reach the new inode until its entry exists, so taking its lock cannot wait
  // (even though its number may be below the directory's).
  Status status = [&]() -> Status {
    WriterLock lock(inode->mu);
    inode->mode = mode;
    inode->uid = caller.uid;
    inode->gid = gid;
    inode->nlink = type == S_IFDIR ? 2 : 1;
    inode->atime = inode->mtime = inode->ctime = t;
    inode->nlookup = 1;
    inode->nopen = open ? 1 : 0;
    try {
      if (type == S_IFDIR) {
        inode->dir = std::make_unique<Directory>(&budget_);
        inode->dir->parent = parent;
        inode->size = 2 * kBogoDirentBytes;
      } else if (type == S_IFLNK) {
        inode->extras = std::make_unique<InodeExtras>();
        inode->extras->symlink = symlink_target;
        inode->size = symlink_target.size();
      } else if (device) {
        inode->extras = std::make_unique<InodeExtras>();
        inode->extras->rdev = rdev;
      }
    } catch (const std::bad_alloc&) {
      return Errno{ENOMEM};
    }
    return {};
  }();
  if (status.ok()) status = dir->dir->insert(name, inode->ino, type);
  if (!status.ok()) {
    {
      WriterLock lock(inode->mu);
      inode->dir.reset();
      inode->extras.reset();
    }
    inodes_.release(inode);
    budget_.uncharge(extra);
    return Errno{status.error()};
  }
  extra_bytes_ += extra;
  dir->mtime = dir->ctime = t;
  dir->size += kBogoDirentBytes;
  if (type == S_IFDIR) ++dir->nlink;
  ReaderLock lock(inode->mu);
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
  if (inode->nlink == 0 || dir->nlink == 0) return Errno{ENOENT};
  if (inode->nlink >= kLinkMax) return Errno{EMLINK};
  ZSFS_TRY_STATUS(inodes_.reserve_link());
  if (Status inserted = dir->dir->insert(new_name, ino, inode->type()); !inserted.ok()) {
    inodes_.release_link();
    return Errno{inserted.error()};
  }
  const timespec t = now();
  ++inode->nlink;
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
