// Inode: one file, directory, symbolic link or special file, and the table that numbers them.
//
// Every field of an Inode is guarded by its own lock `mu`, except the contents of `dir` (its
// entries and parent), which the filesystem's namespace lock guards (see filesystem_impl.h for the
// hierarchy). An inode lives while it has a link, a lookup reference or an open reference; the
// operation that takes the last one away marks it `doomed` under its lock and frees it after
// unlocking.
//
// InodeTable numbers inodes: the number is a slot index, slots are reused after the inode is
// freed, and each reuse bumps the slot's generation so that (ino, generation) names one inode
// for the life of the mount. get() takes no lock: slots live in chunks that never move.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/budget.h"
#include "base/check.h"
#include "base/result.h"
#include "base/sync.h"
#include "fs/block_map.h"
#include "fs/directory.h"
#include "fs/types.h"

namespace zsfs::fs {

// The extended attributes of one inode, in the order they were set. Few per inode, so a vector
// searched linearly beats any index.
struct Xattrs {
  std::vector<std::pair<std::string, std::string>> items;
  uint64_t bytes = 0;  // what the items cost (see xattrs.cc), counted against kXattrTotalMax
};

// What few inodes need, kept apart so that the others do not pay for it: extended attributes,
// a symbolic link's target, a device's number. An inode has extras only while one of these is
// set.
struct InodeExtras {
  Xattrs xattrs;
  std::string symlink;
  uint64_t rdev = 0;

  bool empty() const { return xattrs.items.empty() && symlink.empty() && rdev == 0; }
  // Bytes charged for the extras: the object, and a target too long to sit inside it. (Xattr
  // items are charged as they come and go, in Xattrs::bytes.)
  uint64_t own_bytes() const { return own_bytes_for(symlink.size()); }
  static uint64_t own_bytes_for(size_t symlink_length) {
    return sizeof(InodeExtras) + (symlink_length > 15 ? symlink_length + 1 : 0);
  }
};

// A timestamp in 12 bytes (a timespec takes 16): three per inode, and there are millions of
// inodes. Converts to and from timespec.
struct __attribute__((packed)) Timestamp {
  int64_t sec = 0;
  uint32_t nsec = 0;

  Timestamp() = default;
  Timestamp(const timespec& t)  // NOLINT(google-explicit-constructor)
      : sec(t.tv_sec), nsec(static_cast<uint32_t>(t.tv_nsec)) {}
  operator timespec() const {  // NOLINT(google-explicit-constructor)
    return timespec{static_cast<time_t>(sec), static_cast<long>(nsec)};
  }
};
static_assert(sizeof(Timestamp) == 12);

struct Inode {
  explicit Inode(Ino ino_in)
      : nopen(0), doomed(false), linkable(false), ino(static_cast<uint32_t>(ino_in)) {
    ZSFS_DCHECK(ino_in == ino);
  }

  // The fields are ordered to pack (112 bytes, no padding): the filesystem holds one inode per
  // file, and the Linux source tree is 80,000 of them. Its generation is kept by the table, in
  // the chunk beside it (InodeTable::generation()).
  mutable RwLock mu;
  uint32_t nopen : 30 ZSFS_GUARDED_BY(mu);
  uint32_t doomed : 1 ZSFS_GUARDED_BY(mu);
  // An unnamed file made by O_TMPFILE without O_EXCL, which link() may give its first name (the
  // kernel's I_LINKABLE); cleared by that link.
  uint32_t linkable : 1 ZSFS_GUARDED_BY(mu);
  uint32_t mode ZSFS_GUARDED_BY(mu) = 0;
  // Numbers stay below InodeTable::kMaxInodes, 2^28: 32 bits hold them.
  const uint32_t ino;

  uint32_t uid ZSFS_GUARDED_BY(mu) = 0;
  uint32_t gid ZSFS_GUARDED_BY(mu) = 0;
  uint32_t nlink ZSFS_GUARDED_BY(mu) = 0;
  Timestamp atime ZSFS_GUARDED_BY(mu);
  Timestamp mtime ZSFS_GUARDED_BY(mu);
  Timestamp ctime ZSFS_GUARDED_BY(mu);
  // Regular files: bytes; directories: tmpfs's bogus entry count; symlinks: target length.
  uint64_t size ZSFS_GUARDED_BY(mu) = 0;
  uint64_t nlookup ZSFS_GUARDED_BY(mu) = 0;

  std::unique_ptr<InodeExtras> extras ZSFS_GUARDED_BY(mu);
  // Regular files: the data. Edited with the filesystem's budget, which it does not keep.
  BlockMap blocks ZSFS_GUARDED_BY(mu);
  // Directories: the entries and the parent (guarded by the namespace lock, not mu).
  std::unique_ptr<Directory> dir;

  uint32_t type() const ZSFS_REQUIRES_SHARED(mu) { return mode & S_IFMT; }
  bool is_dir() const ZSFS_REQUIRES_SHARED(mu) { return S_ISDIR(mode); }
  bool is_reg() const ZSFS_REQUIRES_SHARED(mu) { return S_ISREG(mode); }
  // No link, lookup or open reference is left.
  bool unreferenced() const ZSFS_REQUIRES_SHARED(mu) {
    return nlink == 0 && nlookup == 0 && nopen == 0;
  }
};

// Locks up to four inodes exclusively in ascending number (the hierarchy's rule for several
// inodes), each once however often it is named; null entries are skipped. Unlocks on
// destruction. Callers tell the analysis which locks they hold with Inode::mu.assert_held().
class InodeLocks {
 public:
  explicit InodeLocks(std::initializer_list<Inode*> inodes) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    ZSFS_CHECK(inodes.size() <= held_.size());
    for (Inode* inode : inodes) {
      if (inode != nullptr) held_[count_++] = inode;
    }
    std::sort(held_.begin(), held_.begin() + count_,
              [](const Inode* a, const Inode* b) { return a->ino < b->ino; });
    count_ =
        static_cast<size_t>(std::unique(held_.begin(), held_.begin() + count_) - held_.begin());
    for (size_t i = 0; i < count_; ++i)
      held_[i]->mu.lock();
  }
  ~InodeLocks() ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    for (size_t i = count_; i-- > 0;)
      held_[i]->mu.unlock();
  }
  InodeLocks(const InodeLocks&) = delete;
  InodeLocks& operator=(const InodeLocks&) = delete;

 private:
  std::array<Inode*, 4> held_{};
  size_t count_ = 0;
};

class InodeTable {
 public:
  // max_inodes bounds live inodes (the mount's nr_inodes), at most kMaxInodes.
  InodeTable(uint64_t max_inodes, MemoryBudget* budget);
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // Room for 2^28 inodes: more than 24 GiB of RAM can hold at ~200 bytes each.
  static constexpr uint64_t kMaxInodes = uint64_t{1} << 28;

  // A new inode with the next free number. ENOSPC at the inode limit or when the budget refuses.
  Result<Inode*> allocate();
  // A second or further name of an inode counts against the limit too, as on tmpfs (where each
  // name costs a dentry): reserve_link() takes one (ENOSPC at the limit), release_link() gives
  // one back.
  Status reserve_link();
  void release_link();
  // Frees the inode and its number. Nobody may use it any more.
  void release(Inode* inode);
  // The live inode numbered ino, or null.
  Inode* get(Ino ino) const;
  // The generation of a live inode: with its number, what names it for the life of the mount.
  uint32_t generation(const Inode& inode) const;

  uint64_t live() const { return live_.load(std::memory_order_relaxed); }
  // Inodes and extra names together: what the limit bounds.
  uint64_t used() const { return live() + links_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return max_inodes_; }
  // A number above every live inode's (for a bitmap of inode numbers).
  Ino ino_limit() const { return nr_chunks_.load(std::memory_order_acquire) << kChunkBits; }
  // Bytes charged for the table's chunks (which hold the inodes).
  uint64_t memory_bytes() const { return charged_bytes_.load(std::memory_order_relaxed); }

  // Calls fn(inode) for every live inode, in number order. The caller makes sure none is freed
  // meanwhile (the filesystem holds its quiesce lock exclusively, or tolerates staleness).
  template <class Fn>
  void for_each(Fn&& fn) const {
    const uint64_t chunks = nr_chunks_.load(std::memory_order_acquire);
    for (uint64_t c = 0; c < chunks; ++c) {
      const Chunk* chunk = chunks_[c].load(std::memory_order_acquire);
      if (chunk == nullptr) continue;
      for (unsigned i = 0; i < kChunkSlots; ++i) {
        if (Inode* inode = live_inode(*chunk, c, i)) fn(*inode);
      }
    }
  }

 private:
  // 256 numbers a chunk, each slot holding its inode in place (no heap block per inode): about
  // 30 KiB, allocated when a number in it is first used and freed when its last inode goes, so
  // that memory returns after mass deletion.
  static constexpr unsigned kChunkBits = 8;
  static constexpr uint64_t kChunkSlots = uint64_t{1} << kChunkBits;
  static constexpr uint64_t kMaxChunks = kMaxInodes >> kChunkBits;
  struct Slot {
    alignas(Inode) unsigned char storage[sizeof(Inode)];
  };
  struct Chunk {
    Slot slots[kChunkSlots];
    // Per slot, the generation of the last inode that had its number. Written under mu_ when an
    // inode is made there, before get() can see it; read without the lock for a live inode.
    uint32_t generations[kChunkSlots];
    // Numbers taken (ino 0, never valid, counts as taken): a set bit means the slot holds a live
    // inode. Changed under mu_; read without it by get(), so atomic.
    std::atomic<uint64_t> used[kChunkSlots / 64] = {};
    uint32_t live = 0;  // inodes in the chunk
  };
  static bool full(const Chunk& chunk);
  static bool taken(const Chunk& chunk, unsigned slot) {
    return (chunk.used[slot / 64].load(std::memory_order_acquire) >> (slot % 64) & 1) != 0;
  }
  // The inode in slot `slot` of chunk number c, or null.
  static Inode* live_inode(const Chunk& chunk, uint64_t c, unsigned slot) {
    if ((c == 0 && slot == 0) || !taken(chunk, slot)) return nullptr;
    return std::launder(
        reinterpret_cast<Inode*>(const_cast<unsigned char*>(chunk.slots[slot].storage)));
  }

  const uint64_t max_inodes_;
  MemoryBudget* budget_;
  Mutex mu_;
  // A fixed array of chunk pointers from calloc: 2 MiB of address space whose zero pages the
  // kernel maps only as chunks appear, so a small filesystem pays for one page of it.
  std::atomic<Chunk*>* chunks_;
  // Chunk numbers in use are below nr_chunks_; some of those may be absent (freed).
  std::atomic<uint64_t> nr_chunks_{0};
  // Numbers are handed out lowest first, from the lowest chunk with room, or the lowest absent
  // one, so that live inodes stay packed in few chunks.
  std::set<uint32_t> chunks_with_room_ ZSFS_GUARDED_BY(mu_);
  std::set<uint32_t> absent_chunks_ ZSFS_GUARDED_BY(mu_);
  // For each chunk number ever used, the highest generation its slots had handed out when it
  // was freed: a new chunk there starts above it, so (ino, generation) stays unique.
  std::vector<uint32_t> generation_floor_ ZSFS_GUARDED_BY(mu_);
  std::atomic<uint64_t> live_{0};
  std::atomic<uint64_t> links_{0};  // names beyond each inode's first
  std::atomic<uint64_t> charged_bytes_{0};
};

}  // namespace zsfs::fs
