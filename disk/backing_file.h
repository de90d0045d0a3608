// BackingFile: where cold blocks go when RAM is full or they have not been written for a while
// (zram's backing_dev): each block's payload exactly as stored in memory (compressed, or raw),
// in a file private to the daemon.
//
// Layout: a 4 KiB header (a signature, so that a path that names someone else's file is refused
// rather than overwritten), then records in units of the file system's direct-I/O alignment
// (512 bytes on most): each record is an 8-byte checksum, the payload, and zeros to the end of
// its last unit. RAM keeps only where each record is (the dedup entry's location, in units), and
// the file keeps nothing about its records: its contents mean nothing once the daemon is gone,
// and the file is emptied when it is opened and when it is closed.
//
// Never trusted: the checksum is XXH3-64 of the payload seeded with the record's location and
// its owner's key, so a damaged record, a record written elsewhere or a stale one all fail, and a
// read says EIO rather than give wrong bytes.
//
// Space: a bitmap of units (1 bit per unit: 256 KiB of RAM per GiB of file in 512-byte units,
// charged to the budget). Room is found next-fit from a moving cursor within the file's extent,
// and the file is extended only when no free run is left in it, so freed units are reused before
// the file grows, and the records of one batch mostly lie together and go out in one write.
// Freed space is punched out (fallocate PUNCH_HOLE) so that the file shrinks on disk as blocks
// are deleted: a second bitmap marks the file-system blocks whose units are all free and not yet
// punched, and punch_freed() punches runs of them, a few per call. Punching costs the file
// system a journal transaction (and, mounted with discard, a TRIM) per call, milliseconds each,
// whatever the length: runs of at least 64 KiB are punched at once, shorter ones only by a
// thorough call, and space that is written again before it is punched is never punched.
// backing_size bounds the units in use: ENOSPC past it.
//
// I/O: O_DIRECT when the file system allows it (the page cache would otherwise keep a second copy
// of cold blocks outside the budget), through buffers aligned as statx(STATX_DIOALIGN) says;
// plain reads and writes otherwise (tmpfs), which it reports.
//
// Thread safety: every method may be called from any thread. The allocator's lock (mu_) is a
// leaf, held for bitmap changes only, never during I/O.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/budget.h"
#include "disk/file_io.h"
#include "disk/problem.h"

namespace zsfs::disk {

struct BackingStats {
  uint64_t records = 0;          // blocks in the file (zram's bd_count)
  uint64_t payload_bytes = 0;    // their payloads
  uint64_t allocated_bytes = 0;  // the units they take
  uint64_t limit_bytes = 0;      // backing_size (0: none)
  uint64_t file_bytes = 0;       // the file's length
  uint64_t disk_bytes = 0;       // what the file takes on disk (holes punched out)
  uint64_t reads = 0;            // records read (zram's bd_reads)
  uint64_t writes = 0;           // records written (zram's bd_writes)
  uint64_t read_bytes = 0;       // bytes read from the file (whole units)
  uint64_t write_bytes = 0;      // bytes written to it
  uint64_t read_errors = 0;      // records that failed their checksum or could not be read
  uint64_t write_errors = 0;     // writes that failed
  uint64_t punched_bytes = 0;    // freed space punched out, ever
  uint32_t unit_bytes = 0;
  bool direct_io = false;
  uint64_t bitmap_bytes = 0;  // RAM for the allocator, charged to the budget
};

// What the backing file may still take: up to backing_size, or what its file system has room for.
struct BackingRoom {
  uint64_t capacity_bytes = 0;  // in use and free
  uint64_t free_bytes = 0;
};

class BackingFile {
 public:
  // One record to write: its payload and its owner's key (written back by write()).
  struct Record {
    std::span<const std::byte> payload;  // 1..4096 bytes
    uint64_t key = 0;
    uint64_t location = 0;  // out: where it went, in units
  };

  // Opens (creating, mode 0600) the file at path and empties it. A non-empty file that does not
  // start with a backing file's signature is refused (EEXIST), so that a mistyped path never
  // destroys someone's file. limit_bytes: 0 for none. budget is charged for the bitmap.
  static Problem open(const std::string& path, uint64_t limit_bytes, MemoryBudget* budget,
                      std::unique_ptr<BackingFile>* out);
  ~BackingFile();  // empties the file (its contents mean nothing any more) and closes it
  BackingFile(const BackingFile&) = delete;
  BackingFile& operator=(const BackingFile&) = delete;

  // Finds room for every record and writes them, those that lie together in one write each.
  // ENOSPC when the file is full (at its limit, or the file system is), or the write's errno;
  // nothing is kept then.
  Problem write(std::span<Record> records);
  // Reads the record of payload_bytes at location into out (payload_bytes long) and checks it
  // against key. EIO (with the location in the message) when it fails its checksum.
  Problem read(uint64_t location, uint32_t payload_bytes, uint64_t key,
               std::span<std::byte> out) const;
  // Gives a record's units back.
  void free(uint64_t location, uint32_t payload_bytes);
  // Whether a record of payload_bytes at location is allocated (for consistency checks).
  bool allocated(uint64_t location, uint32_t payload_bytes) const;
  // Punches out runs of file-system blocks that frees left wholly unused, at most a few runs per
  // call (each costs the file system a transaction): those of at least 64 KiB, and with
  // thorough, any. Cheap when there are none.
  void punch_freed(bool thorough);

  BackingStats stats() const;
  BackingRoom room() const;
  // RAM charged to the budget for the allocator (what stats() says, without its system call).
  uint64_t bitmap_bytes() const {
    std::lock_guard lock(mu_);
    return charged_bytes_;
  }
  const std::string& path() const { return path_; }
  uint32_t units_for(uint32_t payload_bytes) const {
    return static_cast<uint32_t>((kChecksumBytes + payload_bytes + unit_ - 1) / unit_);
  }

 private:
  static constexpr size_t kChecksumBytes = 8;
  static constexpr uint64_t kDataOffset = 4096;  // after the header

  BackingFile(std::string path, FileDescriptor fd, bool direct, uint32_t unit, uint32_t mem_align,
              uint32_t punch_bytes, uint64_t limit_units, MemoryBudget* budget);
  uint64_t offset_of(uint64_t location) const { return kDataOffset + location * unit_; }
  uint64_t seed(uint64_t location, uint64_t key) const {
    return location * 0x9e3779b97f4a7c15ull ^ key;
  }
  // Allocates `units` consecutive free units; false when there is no room. Under mu_.
  bool allocate_locked(uint32_t units, uint64_t* location);
  void set_bits_locked(uint64_t first, uint64_t count, bool value);
  bool all_bits_locked(uint64_t first, uint64_t count, bool value) const;
  // Marks the file-system blocks over units [first, first + count) that are now wholly free as
  // unpunched (freed), or no longer so (allocated).
  void note_freed_locked(uint64_t first, uint64_t count);
  void note_allocated_locked(uint64_t first, uint64_t count);

  const std::string path_;
  FileDescriptor fd_;
  const bool direct_;
  const uint32_t unit_;
  const uint32_t mem_align_;
  const uint32_t punch_units_;  // units per file-system block
  const uint64_t limit_units_;  // 0: none
  MemoryBudget* budget_;

  mutable std::mutex mu_;
  std::vector<uint64_t> bits_;       // 1: unit in use (also while being punched)
  uint64_t cursor_ = 0;              // next-fit position
  uint64_t extent_units_ = 0;        // units ever handed out: the file's data length
  uint64_t used_units_ = 0;          // in records
  std::vector<uint64_t> unpunched_;  // 1: a file-system block freed whole, not punched since
  uint64_t charged_bytes_ = 0;       // for bits_
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> payload_bytes_{0};
  mutable std::atomic<uint64_t> reads_{0};
  mutable std::atomic<uint64_t> read_bytes_{0};
  mutable std::atomic<uint64_t> read_errors_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> write_bytes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> punched_bytes_{0};
};

}  // namespace zsfs::disk
