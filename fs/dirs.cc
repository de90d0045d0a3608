// The listing family: opendir, readdir and readdirplus.
//
// Offsets: 0 is ".", 1 is "..", and 2 + p is the entry in slot p of the directory. An entry's
// slot never changes while it exists, so offsets handed out stay valid however the directory
// changes between calls.
#include <sys/stat.h>

#include "fs/filesystem_impl.h"

namespace zsfs::fs {
namespace {

constexpr uint64_t kFirstSlotOffset = 2;

}  // namespace

Status Filesystem::Impl::opendir(Ino ino) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  if (!inode->is_dir()) return Errno{ENOTDIR};
  return {};
}

Status Filesystem::Impl::readdir(Ino dir_ino, uint64_t offset, bool plus,
                                 const std::function<bool(const DirEntry&, const Attr*)>& emit) {
  const timespec t = now();
  Inode* dir = get(dir_ino);
  if (dir == nullptr) return Errno{ESTALE};
  bool touch;
  {
    ReaderLock ns(ns_mu_);
    if (dir->dir == nullptr) return Errno{ENOTDIR};

    // Hands one entry to emit; with plus, the inode's attributes too, and an accepted entry
    // other than "." and ".." counts as a lookup.
    auto hand_out = [&](std::string_view name, Ino ino, uint32_t type, uint64_t next, bool counts) {
      const DirEntry entry{name, ino, type, next};
      if (!plus) return emit(entry, nullptr);
      Inode* inode = get(ino);
      ZSFS_CHECK_MSG(inode != nullptr, "a directory entry names a freed inode");
      WriterLock lock(inode->mu);
      const Attr attr = attr_of(*inode);
      if (!emit(entry, &attr)) return false;
      if (counts) ++inode->nlookup;
      return true;
    };

    bool more = true;
    if (offset == 0) more = hand_out(".", dir_ino, S_IFDIR, 1, false);
    if (more && offset <= 1) more = hand_out("..", dir->dir->parent, S_IFDIR, 2, false);
    if (more) {
      const uint64_t from = offset > kFirstSlotOffset ? offset - kFirstSlotOffset : 0;
      dir->dir->list_from(from, [&](uint64_t pos, const Directory::Entry& e) {
        return hand_out(e.name, e.ino, e.type, pos + kFirstSlotOffset + 1, true);
      });
    }
    ReaderLock lock(dir->mu);
    touch = atime_needs_update(*dir, t);
  }
  if (touch) {
    WriterLock lock(dir->mu);
    dir->atime = t;
    note_change();
  }
  return {};
}

}  // namespace zsfs::fs
