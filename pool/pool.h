// zsfs::pool: a userspace re-implementation of the Linux kernel's zsmalloc allocator.
//
// The pool stores objects of 1..4096 bytes. Objects are grouped by size class (32 bytes up to
// 4096 in 16-byte steps); each class keeps its objects in zspages, chains of 1..N single 4 KiB
// pages that need not be adjacent, so an object may straddle the boundary between two pages.
// Names follow mm/zsmalloc.c: size class, zspage, fullness group, handle, compaction.
//
// Ownership and invariants:
// - Every page the pool holds came from its PageSource and is charged to the MemoryBudget; a page
//   the pool lets go of is given back to the operating system at once (resident memory drops).
// - A Handle is an opaque, indirect name for one object: the pool may move the object
//   (compaction) without the owner knowing. Handle 0 is never valid. Using a handle that was
//   never allocated or was already freed is a bug caught by a check (abort), not corruption.
// - Pointers to an object's bytes exist only inside a ReadGuard or WriteGuard. While a guard
//   lives, the object is not moved. A thread holds at most one guard at a time and calls no other
//   pool function while holding it.
//
// Memory: besides its pages the pool keeps, per object, an 8-byte handle-table entry and a 4-byte
// slot word in its zspage's descriptor; per zspage, a descriptor header and the chain's page
// addresses. All of it is charged to the budget and reported by metadata_bytes() (about 21 bytes
// per object for compressed-block sizes; see tests/unit/pool/pool_test.cc). The handle tables do
// not shrink: a class keeps entries for the most objects it ever held at once. Layouts and the
// handle checks: handle.h; the size classes: size_class.h; one class's state: class_state.h.
//
// Thread safety: every public function may be called from any thread. Each size class has its
// own lock; allocations in different classes never wait for each other.
//
// Locking (outermost first; nothing here calls out of the pool, so callers may hold their own
// locks, e.g. a dedup shard, when they call in):
//   1. class lock: a RwLock per merged size class. Exclusive for allocate, free and each
//      compaction step; shared for lookups and for the whole life of a guard, which is what keeps
//      compaction from moving an object under access. A thread holds at most one class lock.
//   2. page source mutex: taken inside a class lock to get a page; released pages are given back
//      (madvise) after the class lock is dropped.
//   The budget is lock-free. Compaction takes and drops its class lock once per source zspage,
//   so one compaction step holds it for at most one zspage's worth of copying.
// A guard's lock is released by its destructor, on the thread that took it: a guard must not be
// handed to another thread. A thread that holds a guard calls no pool function (of any pool)
// until the guard ends; that is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/budget.h"
#include "base/result.h"
#include "pool/stats.h"

namespace zsfs::pool {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kMaxObjectSize = kPageSize;
// Chain length limits for a zspage: the kernel's CONFIG_ZSMALLOC_CHAIN_SIZE range (4..16 there;
// 1 is allowed here for tests). The default, 8, is the kernel's and also measured best of 1, 4, 8
// and 16 on compressed real file blocks, both full and after frees plus compaction (pool_bench's
// efficiency table): longer chains waste less per zspage but leave bigger part-filled ones.
inline constexpr unsigned kMinChainPages = 1;
inline constexpr unsigned kMaxChainPages = 16;
inline constexpr unsigned kDefaultChainPages = 8;

using Handle = uint64_t;
inline constexpr Handle kNullHandle = 0;
// Every handle is below 2^kHandleBits: owners may use the bits above for their own marks (the
// dedup store marks blocks that live in its backing file so).
inline constexpr unsigned kHandleBits = 55;

struct PoolConfig {
  // Most pages one zspage may chain (1..16).
  unsigned max_pages_per_zspage = kDefaultChainPages;
};

class Pool;

// Const access to one object's bytes for the length of a read. An object that straddles two
// pages is copied into a per-thread buffer; otherwise the span points into the page itself.
class ReadGuard {
 public:
  ReadGuard(ReadGuard&& other) noexcept;
  ReadGuard& operator=(ReadGuard&&) = delete;
  ReadGuard(const ReadGuard&) = delete;
  ~ReadGuard();

  std::span<const std::byte> bytes() const { return bytes_; }

 private:
  friend class Pool;
  ReadGuard(const Pool* pool, unsigned class_index, std::span<const std::byte> bytes);

  const Pool* pool_;
  unsigned class_index_;
  std::span<const std::byte> bytes_;
};

// Writable access to one object's bytes. An object that straddles two pages is served through a
// per-thread buffer (holding the object's current bytes) and written back in two pieces when
// the guard ends.
class WriteGuard {
 public:
  WriteGuard(WriteGuard&& other) noexcept;
  WriteGuard& operator=(WriteGuard&&) = delete;
  WriteGuard(const WriteGuard&) = delete;
  ~WriteGuard();

  std::span<std::byte> bytes() const { return bytes_; }

 private:
  friend class Pool;
  WriteGuard(Pool* pool, unsigned class_index, std::span<std::byte> bytes, std::byte* first_piece,
             size_t first_piece_bytes, std::byte* second_piece);

  Pool* pool_;
  unsigned class_index_;
  std::span<std::byte> bytes_;
  // For an object that straddles two pages: its first piece (the tail of one page) and its second
  // (the head of the next), where bytes_ (the per-thread buffer) is written back. Null otherwise.
  std::byte* first_piece_;
  size_t first_piece_bytes_;
  std::byte* second_piece_;
};

class Pool {
 public:
  // EINVAL when config is out of range. The budget must outlive the pool.
  static Result<std::unique_ptr<Pool>> create(const PoolConfig& config, MemoryBudget* budget);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Allocates an object of size_bytes (1..4096). EINVAL for a bad size, ENOSPC when the budget
  // refuses the pages or metadata it needs, ENOMEM when the host refuses memory. A failed
  // allocation changes nothing: it stores nothing and keeps no page and no charge (after a host
  // refusal, heap capacity it did get may stay, charged, for later allocations).
  Result<Handle> allocate(size_t size_bytes);
  // Allocates an object of bytes.size() and copies bytes into it, under one hold of its class's
  // lock (allocate() and write_bytes() take it twice). Refusals as allocate().
  Result<Handle> store(std::span<const std::byte> bytes);

  // Frees the object. Aborts on a handle that is not live. A zspage that empties is freed and its
  // pages go back to the operating system at once.
  void free(Handle handle);

  // The size the object was allocated with.
  size_t object_size(Handle handle) const;

  ReadGuard read(Handle handle) const;
  WriteGuard write(Handle handle);

  // Copying access, built on the guards: dst/src must be exactly object_size(handle) long.
  void read_bytes(Handle handle, std::span<std::byte> dst) const;
  void write_bytes(Handle handle, std::span<const std::byte> src);

  // Moves objects from the emptiest zspages of each class into the fullest, freeing zspages that
  // empty. Safe while other threads use the pool; objects under a guard are not moved. Returns
  // the number of pages freed.
  uint64_t compact();

  // Returns the page source's cache of recently freed pages (at most a few MiB, kept resident
  // because a freed page is often needed again at once) to the operating system.
  void trim();
  // Faults in up to `pages` fresh pages ahead of the allocations to come, on the calling thread
  // (see PageSource::populate_ahead()); how many it faulted in.
  size_t populate_ahead(size_t pages);

  // Objects at or above this size are "huge": each gets a page of its own. Callers that can keep
  // data uncompressed (the codec) store it raw when it would not compress below this size.
  size_t huge_class_size() const;

  // The class table, fixed at creation.
  const SizeClassTable& class_table() const;

  PoolStats stats() const;

  // Heap memory the pool uses besides its pages (handle table, zspage descriptors). Charged to
  // the budget like the pages.
  uint64_t metadata_bytes() const;

  // Verifies every internal invariant (class accounting, fullness groups, free lists, the handle
  // table, budget charges). Aborts on the first broken one with a message naming it. For tests
  // and the filesystem's consistency check; takes every class lock in turn. Under concurrent use
  // every class is still checked exactly; the pool-wide sums (pages held, metadata, budget) are
  // compared only in a pass that no zspage creation or release overlapped (up to four passes).
  void check_invariants() const;

 private:
  friend class ReadGuard;
  friend class WriteGuard;
  struct Impl;
  explicit Pool(std::unique_ptr<Impl> impl);
  // write() and write_bytes(): fill_buffer says whether a straddling object's current bytes are
  // copied into the per-thread buffer (write_bytes overwrites them all, so it skips the copy).
  WriteGuard write_access(Handle handle, bool fill_buffer);
  void end_access(unsigned class_index) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace zsfs::pool
