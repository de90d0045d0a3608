// ClassState: the live state of one merged size class, the kernel's struct size_class.
//
// Owns the class's zspages (descriptors and pages), its handle table, its fullness-group lists
// and counters, and the metadata account they are charged to. Every member function expects the
// class lock held, exclusively for changes and at least shared for lookups; the annotations say
// which. Pages of a zspage that empties are not released under the lock: they are handed back in
// a PageRelease for the caller to give to the PageSource once it has unlocked.
//
// Invariants (verified by check_invariants()):
// - each zspage is in exactly one fullness-group list, the one its inuse count maps to; no zspage
//   is empty outside a single critical section (one that empties is freed at once, as in the
//   kernel);
// - the directory holds each zspage at its id, and chains exactly the other ids as free;
// - a live handle-table entry names an allocated slot whose word names the entry back, and the
//   free lists (entries, slots) hold exactly the rest;
// - the counters (zspages, objects, bytes, group sizes) match the structures; the account holds
//   exactly the bytes of the chunks, descriptors and directories.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/budget.h"
#include "base/result.h"
#include "base/sync.h"
#include "pool/handle_table.h"
#include "pool/metadata.h"
#include "pool/page_source.h"
#include "pool/pool.h"
#include "pool/stats.h"
#include "pool/zspage.h"
#include "pool/zspage_directory.h"

namespace zsfs::pool::detail {

// Structural changes of the pool: a zspage made or freed (its pages and descriptor) and handle
// tables grown. A change is active from before its first effect to after its last, which for a
// freed zspage is the release of its pages once the class lock is dropped. check_invariants()
// compares pool-wide sums (pages, metadata) only across a window in which no change was active
// and none completed; the sums then belong to one instant. Touched only on those slow paths.
class ChangeTracker {
 public:
  struct Mark {
    uint64_t active;
    uint64_t completed;
  };

  void begin() { active_.fetch_add(1); }
  void end() {
    completed_.fetch_add(1);
    active_.fetch_sub(1);
  }
  Mark mark() const { return Mark{active_.load(), completed_.load()}; }
  // Whether no change was active at `before` or is now, and none completed in between.
  bool quiet_since(Mark before) const {
    // Read-modify-writes of nothing: unlike plain (acquire) loads they are also releases, so the
    // caller's reads before this call cannot be reordered after it. (A fence would do, but the
    // thread sanitizer does not support fences.)
    const Mark now{active_.fetch_add(0, std::memory_order_acq_rel),
                   completed_.fetch_add(0, std::memory_order_acq_rel)};
    return before.active == 0 && now.active == 0 && now.completed == before.completed;
  }

 private:
  mutable std::atomic<uint64_t> active_{0};
  mutable std::atomic<uint64_t> completed_{0};
};

class ChangeScope {
 public:
  explicit ChangeScope(ChangeTracker* tracker) : tracker_(tracker) { tracker_->begin(); }
  ~ChangeScope() { tracker_->end(); }
  ChangeScope(const ChangeScope&) = delete;
  ChangeScope& operator=(const ChangeScope&) = delete;

 private:
  ChangeTracker* const tracker_;
};

// The pages of one freed zspage, to be released by the caller after it drops the class lock.
// While count > 0 the freeing is a change still active in the ChangeTracker; the release ends it.
struct PageRelease {
  std::array<std::byte*, kMaxChainPages> pages{};
  unsigned count = 0;
};

// What check_invariants() found, for the pool-wide checks.
struct ClassTotals {
  uint64_t pages = 0;
  uint64_t metadata_bytes = 0;
};

// Kernel get_fullness_group(): 0 empty, 11 full, otherwise floor(100 * inuse / objects) / 10 + 1,
// so group g in 1..10 holds in-use ratios [10(g-1)%, 10g%) (group 1 from just above 0%).
constexpr unsigned fullness_group(unsigned inuse, unsigned objects_per_zspage) {
  if (inuse == 0) return 0;
  if (inuse == objects_per_zspage) return kFullnessGroups - 1;
  return 100 * inuse / objects_per_zspage / 10 + 1;
}

class alignas(64) ClassState {  // aligned: neighbouring classes' locks share no cache line
 public:
  ClassState(const SizeClass& info, PageSource* source, MemoryBudget* budget,
             std::atomic<uint64_t>* pool_metadata_bytes, ChangeTracker* changes);
  ~ClassState();  // releases every zspage, live objects included, and uncharges everything
  ClassState(const ClassState&) = delete;
  ClassState& operator=(const ClassState&) = delete;

  const SizeClass& info() const { return info_; }

  // zs_malloc(): an object of size_bytes in the fullest non-full zspage, or in a new one.
  Result<Handle> allocate(uint32_t size_bytes) ZSFS_REQUIRES(mu);
  // zs_free(). A zspage that empties is freed; its pages land in *release.
  void free(Handle handle, PageRelease* release) ZSFS_REQUIRES(mu);

  Extent locate(Handle handle) const ZSFS_REQUIRES_SHARED(mu);
  uint32_t object_size(Handle handle) const ZSFS_REQUIRES_SHARED(mu);

  // One bounded step of __zs_compact(): moves objects from the emptiest zspage into the fullest
  // non-full one until the source empties or the destination fills. A source that empties is freed
  // into *release. Returns false (having done nothing) when the class has less than a zspage's
  // worth of free slots, or no two zspages to work with.
  bool compact_step(PageRelease* release) ZSFS_REQUIRES(mu);
  uint64_t nr_zspages() const ZSFS_REQUIRES_SHARED(mu) { return nr_zspages_; }

  ClassStats stats() const ZSFS_REQUIRES_SHARED(mu);
  // Aborts, naming the invariant, unless all of this class's invariants hold.
  ClassTotals check_invariants(const SizeClassTable& table) const ZSFS_REQUIRES_SHARED(mu);

  // Exclusive for allocate, free and compaction; shared for the lookups and for the whole life of
  // a ReadGuard or WriteGuard, so compaction never moves an object under access.
  mutable RwLock mu;

 private:
  uint32_t checked_entry_index(Handle handle) const ZSFS_REQUIRES_SHARED(mu);
  // alloc_zspage(), in three steps: the metadata it charges, its pages, and the descriptor
  // installed in the directory (null when the heap refuses).
  uint64_t zspage_metadata_bytes() const ZSFS_REQUIRES_SHARED(mu);
  Status take_pages(std::span<std::byte*> chain) ZSFS_REQUIRES(mu);
  Zspage* install_zspage(std::span<std::byte* const> chain, Precharge& charge) ZSFS_REQUIRES(mu);
  void free_zspage(Zspage* zspage, PageRelease* release) ZSFS_REQUIRES(mu);
  // zs_can_compact(): pages compaction could free, from the free slots.
  uint64_t freeable_pages() const ZSFS_REQUIRES_SHARED(mu);
  void migrate(Zspage* src, Zspage* dst) ZSFS_REQUIRES(mu);

  // Fullness-group lists (insert at the head, like list_add()).
  void insert_zspage(Zspage* zspage) ZSFS_REQUIRES(mu);
  void remove_zspage(Zspage* zspage) ZSFS_REQUIRES(mu);
  void fix_fullness_group(Zspage* zspage) ZSFS_REQUIRES(mu);
  // The first zspage of the first non-empty group among from, from+step, ... to; removed from its
  // list. Null when all those groups are empty.
  Zspage* isolate_first(int from, int to, int step) ZSFS_REQUIRES(mu);

  const SizeClass info_;
  PageSource* const source_;
  ChangeTracker* const changes_;
  MetadataAccount account_ ZSFS_GUARDED_BY(mu);
  HandleTable handles_ ZSFS_GUARDED_BY(mu);
  ZspageDirectory zspages_ ZSFS_GUARDED_BY(mu);
  std::array<Zspage*, kFullnessGroups> group_head_ ZSFS_GUARDED_BY(mu){};
  std::array<uint64_t, kFullnessGroups> group_count_ ZSFS_GUARDED_BY(mu){};
  uint64_t nr_zspages_ ZSFS_GUARDED_BY(mu) = 0;
  uint64_t objects_in_use_ ZSFS_GUARDED_BY(mu) = 0;
  uint64_t bytes_in_use_ ZSFS_GUARDED_BY(mu) = 0;
  uint64_t pages_compacted_ ZSFS_GUARDED_BY(mu) = 0;
};

}  // namespace zsfs::pool::detail
