// Filesystem::Impl: the state of one mounted filesystem and the operations on it. Private to
// fs/; the operations are spread over names.cc (namespace), file_io.cc (data), dirs.cc
// (listing), xattrs.cc, acls.cc (POSIX ACLs) and fs_stats.cc by family.
//
// Lock hierarchy (take in this order, never upwards):
//   1. quiesce_mu_  shared by every operation that changes state; exclusive by check(), which
//                   so sees a filesystem at rest.
//   2. ns_mu_       the namespace: every directory's entries and parent link. Shared to look
//                   names up and list, exclusive to change them.
//   3. Inode::mu    one inode's attributes and data; several are taken in ascending number.
//   4. InodeTable   numbering (a leaf lock, held briefly).
//   5. DedupStore   one shard at a time.
//   6. Pool         one size class at a time.
// Data operations (read, write, truncate, ...) take only the inode's lock, so they never wait
// for namespace changes, and compress whole blocks before taking it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "base/budget.h"
#include "base/sync.h"
#include "codec/codec.h"
#include "disk/problem.h"
#include "fs/background_pacer.h"
#include "fs/dedup_store.h"
#include "fs/dictionary_set.h"
#include "fs/filesystem.h"
#include "fs/idle_helper.h"
#include "fs/image.h"
#include "fs/image_saver.h"
#include "fs/inode.h"
#include "fs/recompressor.h"
#include "fs/writeback.h"
#include "pool/pool.h"

namespace zsfs::fs {

// tmpfs counts a directory's size as 20 bytes per entry, "." and ".." included.
inline constexpr uint64_t kBogoDirentBytes = 20;

// Bytes charged for an inode's extras, and the xattr items they hold (0 without extras).
inline uint64_t extras_bytes(const InodeExtras* extras) {
  return extras == nullptr ? 0 : extras->own_bytes() + extras->xattrs.bytes;
}

// Bytes charged for one stored xattr item: its name and value, and the two strings holding them.
inline uint64_t xattr_entry_bytes(std::string_view name, std::string_view value) {
  return 2 * sizeof(std::string) + name.size() + value.size();
}

// The ACLs a new inode takes from its directory's default ACL (acls.cc): xattr values, empty
// where there is none.
struct InheritedAcls {
  std::string access;
  std::string default_acl;  // directories only

  bool empty() const { return access.empty() && default_acl.empty(); }
  // What storing them costs, as xattr items.
  uint64_t bytes() const;
};

// A pass asked for through an action attribute (user.zsfs.recompress, user.zsfs.writeback): empty
// for every block, or comma-separated "idle=SECONDS" and "huge".
struct PassRequest {
  uint64_t idle_seconds = 0;
  bool huge_only = false;
};
// Parses such a value; nothing for anything else (EINVAL).
std::optional<PassRequest> parse_pass_request(std::string_view value);

class Filesystem::Impl {
 public:
  Impl(const Config& config, const pool::PoolConfig& pool_config,
       const codec::Compressor& compressor, const codec::Compressor& background_compressor,
       const RecompressConfig& recompress);
  ~Impl();

  // names.cc
  Result<Attr> lookup(Ino parent, std::string_view name);
  void forget(Ino ino, uint64_t nlookup);
  Result<Attr> getattr(Ino ino);
  Result<Attr> setattr(Ino ino, const SetAttr& change, const Caller& caller);
  Result<std::string> readlink(Ino ino);
  Result<Attr> make_node(Ino parent, std::string_view name, uint32_t mode, uint64_t rdev,
                         std::string_view symlink_target, const Caller& caller, bool open);
  Result<Attr> tmpfile(Ino parent, uint32_t mode, bool linkable, const Caller& caller);
  Result<bool> kill_suidgid(Ino ino, const Caller& caller);
  Result<Attr> link(Ino ino, Ino new_parent, std::string_view new_name);
  Status remove(Ino parent, std::string_view name, bool directory);
  Status rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                unsigned flags, const Caller& caller);

  // file_io.cc
  Status open(Ino ino, int flags);
  void release(Ino ino);
  Result<size_t> read(Ino ino, uint64_t offset, std::span<std::byte> dst);
  Result<size_t> write(Ino ino, uint64_t offset, std::span<const std::byte> src, bool append);
  Status fallocate(Ino ino, int mode, uint64_t offset, uint64_t length);
  Result<uint64_t> lseek(Ino ino, uint64_t offset, int whence);
  Result<size_t> copy_file_range(Ino ino_in, uint64_t offset_in, Ino ino_out, uint64_t offset_out,
                                 uint64_t length, unsigned flags);

  // dirs.cc
  Status opendir(Ino ino);
  Status readdir(Ino dir, uint64_t offset, bool plus,
                 const std::function<bool(const DirEntry&, const Attr*)>& emit);

  // xattrs.cc
  Status setxattr(Ino ino, std::string_view name, std::string_view value, int flags,
                  const Caller& caller);
  Result<std::string> getxattr(Ino ino, std::string_view name, const Caller& caller);
  Result<size_t> getxattr_size(Ino ino, std::string_view name, const Caller& caller);
  Result<std::string> listxattr(Ino ino, const Caller& caller);
  Status removexattr(Ino ino, std::string_view name, const Caller& caller);

  // fs_stats.cc
  StatFs statfs();
  Stats stats();
  Result<FileStats> file_stats(Ino ino);
  std::string classes_text();
  uint64_t compact();
  std::string check();
  void settle() { store_.settle(); }
  Status recompress(uint64_t idle_seconds, bool huge_only);
  bool recompress_idle() const { return recompressor_ == nullptr || recompressor_->idle(); }
  void add_stats_section(StatsSection section) { stats_sections_.push_back(std::move(section)); }

  // image_save.cc, image_load.cc
  disk::Problem save_image(const std::string& path, ImageSaveStats* stats);
  disk::Problem load_image(const std::string& path, ImageLoadStats* stats);
  // image_saver.cc: the mount's image (Config::image_path), see Filesystem::open_image().
  disk::Problem open_image(bool* loaded);
  disk::Problem close_image(ImageSaveStats* stats, bool* skipped);
  Status save_xattr(Ino ino, std::string_view value, const Caller& caller);

  // writeback.cc (the filesystem's side): the backing file, see Filesystem::open_backing().
  disk::Problem open_backing();
  Status writeback(uint64_t idle_seconds, bool huge_only);
  bool writeback_idle() const { return writeback_ == nullptr || writeback_->idle(); }
  // Memory charged for the backing file's allocator.
  uint64_t backing_bitmap_bytes() const {
    return backing_ == nullptr ? 0 : backing_->bitmap_bytes();
  }
  Status writeback_xattr(Ino ino, std::string_view value, const Caller& caller);
  // Something changed since the last save or load (every changing operation counts).
  bool changed_since_saved() const {
    return changes_.load(std::memory_order_relaxed) !=
           saved_changes_.load(std::memory_order_relaxed);
  }
  void note_change() { changes_.fetch_add(1, std::memory_order_relaxed); }

  RwLock& quiesce_mu() { return quiesce_mu_; }

 private:
  // --- helpers shared by the families (filesystem.cc) ---
  Inode* get(Ino ino) const { return inodes_.get(ino); }
  static timespec now();
  Attr attr_of(const Inode& inode) const ZSFS_REQUIRES_SHARED(inode.mu);
  // Frees a doomed inode: its blocks, xattrs, directory and number. No lock may be held on it.
  void destroy(Inode* inode);
  // Drops one open or lookup reference count change's consequence: frees the inode when it has
  // become unreferenced. Called with inode.mu held exclusively; returns whether the caller must
  // destroy() it after unlocking.
  static bool doom_if_unreferenced(Inode& inode) ZSFS_REQUIRES(inode.mu);
  // Atime update on read or listing, per the mount's policy.
  bool atime_needs_update(const Inode& inode, const timespec& now) const
      ZSFS_REQUIRES_SHARED(inode.mu);

  // --- new inodes (names.cc) ---
  // Allocates a new inode of mode (type and permission bits) in dir, with one lookup reference
  // (and an open one if open), a link count of 1 (2 for a directory) and everything it owns
  // charged: owner and group (setgid directories), times, the umask or dir's default ACL, a
  // symlink target, a device number. Reachable by no one until the caller publishes it.
  Result<Inode*> new_inode(const Inode& dir, uint32_t mode, uint64_t rdev,
                           std::string_view symlink_target, const Caller& caller, bool open,
                           const timespec& t) ZSFS_REQUIRES_SHARED(dir.mu);
  // Frees a new inode that could not be published. No lock may be held on it.
  void discard_new_inode(Inode* inode);
  // Clears setuid, and setgid where the kernel would (see Filesystem::kill_suidgid); returns
  // whether the mode changed.
  static bool kill_suidgid_locked(Inode& inode, const Caller& caller) ZSFS_REQUIRES(inode.mu);

  // --- data path helpers (file_io.cc) ---
  // Makes room for a write the budget has refused, as the kernel's direct reclaim does for an
  // allocation: finishes the blocks waiting raw for the background encoder, else moves cold
  // blocks to the backing file (DedupStore::relieve()), else recompresses stored blocks
  // (Recompressor::reclaim) and compacts the pool. Returns whether it made room, so that trying
  // again may succeed. Called with the quiesce lock held shared, and by writes with their inode's
  // lock too: none of that work takes either, nor the namespace lock.
  bool make_room();
  // Rounds of make_room() a refused write or operation gets before it is ENOSPC.
  static constexpr int kRoomRounds = 4;
  // Runs op() (giving a Status or a Result) and, while it fails with ENOSPC because the budget
  // refused one of its charges and make_room() makes room, runs it again. For the operations
  // whose charges are not a block's (inodes, directory entries, extended attributes): the caller
  // holds the quiesce lock shared and no other, and op must change nothing when it fails, so
  // that it can start afresh.
  template <class Op>
  auto with_room(Op&& op) {
    uint64_t refusals = MemoryBudget::refusals_in_this_thread();
    auto result = op();
    for (int round = 0; round < kRoomRounds && !result.ok() && result.error() == ENOSPC &&
                        MemoryBudget::refusals_in_this_thread() != refusals && make_room();
         ++round) {
      refusals = MemoryBudget::refusals_in_this_thread();
      result = op();
    }
    return result;
  }
  // Stores a block, as DedupStore::put() does; when the budget refuses it, makes room (a few
  // rounds of make_room()) and tries again: ENOSPC only when nothing more can be made.
  Result<BlockRef> put_block(codec::Block data);
  // Reads block `index` of inode into out (zeros for a hole).
  Status read_block(const Inode& inode, uint64_t index, codec::MutableBlock out) const
      ZSFS_REQUIRES_SHARED(inode.mu);
  // Replaces block `index` with ref (kHole for a hole), dropping the old reference; takes ref,
  // and drops it on failure. The block map's memory is made room for as a block's is
  // (make_room()).
  Status install_block(Inode& inode, uint64_t index, BlockRef ref) ZSFS_REQUIRES(inode.mu);
  // Overwrites bytes [begin, end) of block `index` with data (zeros when data is empty), by
  // read-modify-write. Zeroing a hole leaves it a hole.
  Status patch_block(Inode& inode, uint64_t index, size_t begin, size_t end,
                     std::span<const std::byte> data) ZSFS_REQUIRES(inode.mu);
  // Copies length bytes of the file from offset into dst (holes as zeros); the range must lie
  // within the file.
  Status read_locked(const Inode& inode, uint64_t offset, std::span<std::byte> dst) const
      ZSFS_REQUIRES_SHARED(inode.mu);
  // Sets the size of a regular file: blocks past the end are released, the tail of the last
  // block zeroed.
  Status truncate_locked(Inode& inode, uint64_t size) ZSFS_REQUIRES(inode.mu);
  // Drops every block of the file from `first_block` on.
  void drop_blocks_locked(Inode& inode, uint64_t first_block, uint64_t last_block)
      ZSFS_REQUIRES(inode.mu);
  // Writes src at offset. `encoded` holds references to the whole blocks of the write that the
  // caller encoded before taking the lock, in order from the first; the rest are encoded here.
  // Takes ownership of every reference in `encoded`. The caller keeps a FileAccount.
  Result<size_t> write_locked(Inode& inode, uint64_t offset, std::span<const std::byte> src,
                              std::span<const BlockRef> encoded) ZSFS_REQUIRES(inode.mu);
  // Copies length bytes between regular files through a buffer (no block sharing).
  Result<size_t> copy_buffered(const Inode& in, uint64_t offset_in, Inode& out, uint64_t offset_out,
                               uint64_t length) ZSFS_REQUIRES_SHARED(in.mu) ZSFS_REQUIRES(out.mu);

  // --- xattr helpers (xattrs.cc) ---
  // Actions (setting user.zsfs.recompress, .save, .writeback) are for the root directory, and
  // for root and the mount's owner only.
  Status check_action_caller(Ino ino, const Caller& caller);
  Result<std::string> virtual_xattr(Inode& inode, std::string_view name, const Caller& caller);
  Status recompress_xattr(Ino ino, std::string_view value, const Caller& caller);
  Result<std::string> dictionary_chunk(std::string_view name);
  // The stored value of name, or null.
  static const std::string* find_xattr(const Inode& inode, std::string_view name)
      ZSFS_REQUIRES_SHARED(inode.mu);
  // Adds or replaces one stored item, charging what it grows by. flags: XATTR_CREATE (EEXIST if
  // present), XATTR_REPLACE (ENODATA if absent) or 0. ENOSPC past kXattrTotalMax or the budget.
  Status store_xattr(Inode& inode, std::string_view name, std::string_view value, int flags)
      ZSFS_REQUIRES(inode.mu);
  // Removes one stored item; ENODATA if absent.
  Status erase_xattr(Inode& inode, std::string_view name) ZSFS_REQUIRES(inode.mu);

  // --- POSIX ACLs (acls.cc) ---
  // Applies caller's umask to a new inode's mode, or dir's default ACL where it has one
  // (posix_acl_create), and returns the ACLs the inode inherits. Throws std::bad_alloc.
  InheritedAcls inherit_acls(const Inode& dir, uint32_t& mode, const Caller& caller) const
      ZSFS_REQUIRES_SHARED(dir.mu);
  // Sets (value with entries) or removes (value with none) system.posix_acl_access or _default,
  // and for the access ACL the mode bits it implies.
  Status set_acl(Inode& inode, std::string_view name, std::string_view value, const Caller& caller)
      ZSFS_REQUIRES(inode.mu);
  // After a mode change: the access ACL's owner, mask (or group) and other entries follow it.
  void chmod_acl(Inode& inode) ZSFS_REQUIRES(inode.mu);

  // --- compaction (fs_stats.cc) ---
  void compactor_loop();

  friend class Filesystem;
  friend class FileAccount;
  friend class BlockLoader;
  friend class ImageLoader;

  const Config config_;
  MemoryBudget budget_;
  std::unique_ptr<pool::Pool> pool_;
  DictionarySet dicts_;
  // The backing file (open_backing()); declared before the store, which names it, so that it
  // outlives the store.
  std::unique_ptr<disk::BackingFile> backing_;
  DedupStore store_;
  InodeTable inodes_;

  RwLock quiesce_mu_;
  RwLock ns_mu_;
  // One image save at a time; the consistency check takes it (before quiesce_mu_) so that it
  // never sees a save's pins.
  std::mutex save_mu_;
  // Changing operations so far, and their count when the image was last saved or loaded.
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> saved_changes_{0};

  // Bytes charged for what inodes own besides their block maps and directories: symlink
  // targets and xattrs.
  std::atomic<uint64_t> extra_bytes_{0};
  std::atomic<uint64_t> compactions_{0};

  // Added before requests are served, read-only after (see Filesystem::add_stats_section).
  std::vector<StatsSection> stats_sections_;

  // Running totals over regular files, kept by FileAccount so that stats() need not visit every
  // inode: sizes, data blocks, bytes of holes below the sizes, block map memory.
  std::atomic<uint64_t> logical_bytes_{0};
  std::atomic<uint64_t> data_blocks_{0};
  std::atomic<uint64_t> hole_bytes_{0};
  std::atomic<uint64_t> block_map_bytes_{0};

  // Saves of the mount's image (open_image()); stopped first in ~Impl.
  std::unique_ptr<ImageSaver> image_saver_;
  // Moves cold blocks to the backing file (open_backing()); stopped next.
  std::unique_ptr<Writeback> writeback_;

  // The foreground's requests, which the recompressor gives way to; declared before it.
  ForegroundMeter foreground_;
  // The secondary tier; stopped first in ~Impl, before the blocks it works on go.
  std::unique_ptr<Recompressor> recompressor_;

  // Decodes the blocks of large reads on an idle core too (mutable: reads are const).
  mutable IdleHelper decode_helper_;

  // The background compactor.
  std::mutex compactor_mu_;
  std::condition_variable compactor_cv_;
  bool stopping_ = false;
  std::thread compactor_;
};

}  // namespace zsfs::fs
