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
// Thread safety: every public function may be called from any thread. Each size class has its
// own lock; allocations in different classes never wait for each other.
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
// Chain length limits for a zspage. The kernel's CONFIG_ZSMALLOC_CHAIN_SIZE defaults to 8.
inline constexpr unsigned kMinChainPages = 1;
inline constexpr unsigned kMaxChainPages = 16;
inline constexpr unsigned kDefaultChainPages = 8;

using Handle = uint64_t;
inline constexpr Handle kNullHandle = 0;

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
  WriteGuard(Pool* pool, unsigned class_index, std::span<std::byte> bytes, std::byte* first_page,
             size_t first_offset, std::byte* second_page);

  Pool* pool_;
  unsigned class_index_;
  std::span<std::byte> bytes_;
  // For an object that straddles two pages: where its two pieces live. Null otherwise.
  std::byte* first_page_;
  size_t first_offset_;
  std::byte* second_page_;
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
  // allocation changes nothing.
  Result<Handle> allocate(size_t size_bytes);

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
  // and the filesystem's consistency check; takes every class lock in turn.
  void check_invariants() const;

 private:
  friend class ReadGuard;
  friend class WriteGuard;
  struct Impl;
  explicit Pool(std::unique_ptr<Impl> impl);
  void end_access(unsigned class_index) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace zsfs::pool
