// Plain types of the filesystem core's interface: what callers (mount/, tests) pass in and get
// back. No FUSE or CLI11 types here or anywhere under fs/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "codec/codec.h"

namespace zsfs::fs {

using Ino = uint64_t;
// The root directory's inode number. Equal to FUSE_ROOT_ID, which mount/ checks at compile time.
inline constexpr Ino kRootIno = 1;

inline constexpr size_t kBlockSize = codec::kBlockSize;
// Longest name of one directory entry, as on tmpfs.
inline constexpr size_t kNameMax = 255;
// Longest symbolic link target, as the kernel allows (PATH_MAX including the terminating NUL).
inline constexpr size_t kSymlinkMax = 4095;
// Largest file size, as the kernel allows on tmpfs (MAX_LFS_FILESIZE).
inline constexpr uint64_t kMaxFileSize = static_cast<uint64_t>(INT64_MAX);
// Extended attribute limits, as the VFS imposes them (XATTR_NAME_MAX, XATTR_SIZE_MAX).
inline constexpr size_t kXattrNameMax = 255;
inline constexpr size_t kXattrValueMax = 65536;
// Sum of one inode's xattr name and value bytes. tmpfs bounds user xattrs per inode to what
// fits; zsfs bounds all of them so one inode cannot take the whole budget through xattrs.
inline constexpr size_t kXattrTotalMax = 1 << 20;

// Who is asking: the credentials of the process behind a request.
struct Caller {
  uint32_t uid = 0;  // filesystem uid and gid
  uint32_t gid = 0;
  int32_t pid = 0;
  // The umask for what the caller creates, where the filesystem applies it (the kernel leaves it
  // to zsfs when POSIX ACLs are on, since a default ACL replaces it); 0 where the kernel applied
  // it already.
  uint32_t umask = 0;
  // Whether the caller is in `group` (as its filesystem gid or a supplementary group) or holds
  // CAP_FSETID: the kernel's in_group_or_capable(), which decides whether a setgid bit survives
  // a change. Asked only then; null judges by the filesystem gid alone, with uid 0 as capable.
  bool (*in_group_or_capable)(const Caller& caller, uint32_t group) = nullptr;

  bool may_keep_setgid(uint32_t group) const {
    return in_group_or_capable != nullptr ? in_group_or_capable(*this, group)
                                          : gid == group || uid == 0;
  }
};

struct Attr {
  Ino ino = 0;
  uint64_t generation = 0;
  uint32_t mode = 0;  // file type and permission bits, as st_mode
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units that hold data: data blocks * 8, holes excluded
  uint32_t block_size = static_cast<uint32_t>(kBlockSize);
  timespec atime{};
  timespec mtime{};
  timespec ctime{};
};

// A timestamp change requested by setattr.
struct TimeChange {
  enum class Kind : uint8_t { kOmit, kNow, kValue };
  Kind kind = Kind::kOmit;
  timespec value{};
  static TimeChange now() { return {Kind::kNow, {}}; }
  static TimeChange at(timespec t) { return {Kind::kValue, t}; }
};

// The fields of an inode that setattr changes; unset fields stay as they are.
struct SetAttr {
  std::optional<uint32_t> mode;  // permission bits (07777); the file type never changes
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  TimeChange atime;
  TimeChange mtime;
  std::optional<timespec> ctime;
  // Clear setuid and setgid as a write, truncate or chown by the caller does (FUSE's
  // FATTR_KILL_SUIDGID): see Filesystem::kill_suidgid.
  bool kill_suidgid = false;
};

struct StatFs {
  uint64_t block_size = kBlockSize;
  uint64_t blocks = 0;  // the memory budget in blocks
  uint64_t blocks_free = 0;
  uint64_t blocks_available = 0;
  uint64_t files = 0;  // the inode limit
  uint64_t files_free = 0;
  uint64_t files_available = 0;
  uint64_t name_max = kNameMax;
};

// One entry handed out by readdir. next_offset is the offset to resume the listing after it.
struct DirEntry {
  std::string_view name;
  Ino ino;
  uint32_t type;  // S_IFMT bits of the entry's mode
  uint64_t next_offset;
};

enum class AtimePolicy : uint8_t { kRelatime, kStrictatime, kNoatime };

// The zstd level blocks settle at (recompress_level). 15 is where the gain stops paying for the
// time, measured with zsfs's dictionary (112 KiB) on the Linux 6.1 tree's distinct blocks,
// each compressed alone (tests/bench/compare/floor.c): drivers/ (239,013 blocks) in 162.0 MB at
// level 9 (17.7 s on one core), 160.0 at 12 (29 s), 161.2 at 13 (45 s), 156.7 at 14 (60 s),
// 154.7 at 15 (81 s); drivers/net in 32.09 MB at 9 (3.8 s), 30.83 at 15 (12.1 s), 30.67 at 16,
// 17 and 19 (20.5-22.4 s). The whole tree settled at 15 held 254.1 MB of blocks against 265.6
// at 9 and the daemon 300.7 MB against 311.9 (its dictionary's digested forms 2.1 MB against
// 1.4). The recompressor spends the time only on otherwise idle CPU (SCHED_IDLE).
inline constexpr int kDefaultRecompressLevel = 15;

// How a mount is configured. mount/ parses options into this; create() validates it again.
struct Config {
  uint64_t size_bytes = 0;  // memory budget: stored data plus metadata
  uint64_t nr_inodes = 0;   // inode limit
  uint32_t root_mode = 01777;
  uint32_t root_uid = 0;
  uint32_t root_gid = 0;
  // Who may ask for compaction and the consistency check (besides root): the mount's owner.
  uint32_t owner_uid = 0;
  // The primary encoding: what a write stores when it compresses its blocks itself, and what the
  // background encoder stores when a core is idle (encode_threads; level: zstd's, for either).
  // algorithm kNone turns compression off, in the background too.
  codec::Algorithm algorithm = codec::Algorithm::kLz4;
  codec::Algorithm background_algorithm = codec::Algorithm::kZstd;
  int level = codec::kDefaultLevel;
  bool dedup = true;
  // The secondary tier (fs/recompressor.h): blocks not written for recompress_after_seconds are
  // compressed again with zstd at recompress_level, against dictionaries trained on the mount's
  // blocks (dict) of at most dict_size_bytes. recompress_after_seconds < 0: requests only.
  bool recompress = true;
  int recompress_level = kDefaultRecompressLevel;
  int64_t recompress_after_seconds = 60;
  bool dict = true;
  size_t dict_size_bytes = 0;  // 0: codec::kMaxDictionaryBytes, at most a 1024th of size_bytes
  unsigned chain_pages = 8;    // pages per zspage, 1..16
  AtimePolicy atime = AtimePolicy::kRelatime;
  bool dir_atime = true;  // false: nodiratime, listing a directory leaves its atime alone
  bool posix_acl = true;  // system.posix_acl_access and _default kept and inherited (acl/noacl)
  // Compact in the background when the pool's fragmentation crosses a threshold.
  bool auto_compact = true;
  // Threads that compress written blocks in the background (0: writers compress their own),
  // and how many blocks may wait raw for them (4 KiB each).
  unsigned encode_threads = 2;
  size_t max_staged_blocks = 4096;
  // The image (fs/image_saver.h): loaded at mount when the file exists, saved on request, every
  // save_interval_seconds when anything changed (0: not by itself) and at unmount. Empty: none.
  std::string image_path;
  uint64_t save_interval_seconds = 0;
  // The backing file (fs/writeback.h): cold blocks move there when the budget is reached, when
  // stored writeback_after_seconds ago (< 0: not for age), and on request; it holds at most
  // backing_size_bytes (0: what its file system has). A read brings a block back into the pool
  // when promote is on: measured (tests/bench/disk), 4 KiB random reads of a data set four times
  // the budget went 18% faster for uniform reads and 2.6 times for a hot set (zipf 1.2), at the
  // cost of writing promoted blocks out again. Empty path: none.
  std::string backing_path;
  uint64_t backing_size_bytes = 0;
  int64_t writeback_after_seconds = -1;
  bool promote = true;
};

}  // namespace zsfs::fs
