// FileAccount: keeps the filesystem's running totals over regular files in step with one
// file's changes.
//
// Constructed with the inode's lock held exclusively, before the change; destroyed (still under
// the lock) after it, when it adds the difference in size, data blocks, hole bytes and block map
// memory to the totals. This keeps stats() O(1) however many files there are.
#pragma once

#include "fs/filesystem_impl.h"

namespace zsfs::fs {

class FileAccount {
 public:
  FileAccount(Filesystem::Impl& fs, Inode& inode) ZSFS_REQUIRES(inode.mu)
      : fs_(fs), inode_(inode), before_(figures(inode)) {}
  ~FileAccount() ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    const Figures after = figures(inode_);
    apply(fs_.logical_bytes_, before_.size, after.size);
    apply(fs_.data_blocks_, before_.blocks, after.blocks);
    apply(fs_.hole_bytes_, before_.holes, after.holes);
    apply(fs_.block_map_bytes_, before_.map_bytes, after.map_bytes);
  }
  FileAccount(const FileAccount&) = delete;
  FileAccount& operator=(const FileAccount&) = delete;

  struct Figures {
    uint64_t size = 0;
    uint64_t blocks = 0;
    uint64_t holes = 0;
    uint64_t map_bytes = 0;
  };

  // A regular file's figures (zeros for anything else, whose block map is empty).
  static Figures figures(const Inode& inode) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    Figures f;
    f.blocks = inode.blocks.count();
    f.map_bytes = inode.blocks.memory_bytes();
    if (!S_ISREG(inode.mode)) return f;
    f.size = inode.size;
    // Bytes below the size that data blocks cover: the last block may cover only part of it.
    // (Blocks preallocated past the size with FALLOC_FL_KEEP_SIZE make this an overestimate,
    // so the hole bytes of such a file are underestimated.)
    uint64_t covered = f.blocks * kBlockSize;
    if (f.size % kBlockSize != 0 && inode.blocks.get(f.size / kBlockSize) != kHole) {
      covered -= kBlockSize - f.size % kBlockSize;
    }
    f.holes = f.size > covered ? f.size - covered : 0;
    return f;
  }

 private:
  static void apply(std::atomic<uint64_t>& total, uint64_t before, uint64_t after) {
    // Unsigned wrap-around makes the subtraction of a decrease come out right.
    total.fetch_add(after - before, std::memory_order_relaxed);
  }

  Filesystem::Impl& fs_;
  Inode& inode_;
  const Figures before_;
};

}  // namespace zsfs::fs
