// IdIndex: an open-addressing hash index from a caller's key to 32-bit ids.
//
// The index stores only (hash, id) pairs, 8 bytes a slot; the keys themselves live in the
// caller's tables (dedup entries, directory slots), and lookups confirm a candidate by asking
// the caller. This keeps the index small: the directory of a million names and the dedup index
// of millions of blocks cost 8 bytes a slot at a load factor between 1/5 and 3/4.
//
// Linear probing with backward-shift deletion (Knuth 6.4, Algorithm R): no tombstones, so probe
// sequences stay short however many erases happen. Several ids may share a hash; each is
// visited by for_each_candidate().
//
// Memory is charged to a MemoryBudget before it is taken: insert() fails with ENOSPC (ENOMEM if
// the host refuses) when growing is refused, and then changes nothing. The table shrinks when it
// becomes sparse. Not thread-safe: its owner's lock guards it.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <new>

#include "base/budget.h"
#include "base/check.h"
#include "base/result.h"

namespace zsfs::fs {

class IdIndex {
 public:
  explicit IdIndex(MemoryBudget* budget) : budget_(budget) {}
  ~IdIndex() { release(); }
  IdIndex(const IdIndex&) = delete;
  IdIndex& operator=(const IdIndex&) = delete;

  // Calls visit(id) for each id stored under hash, until visit returns true; returns that id,
  // or 0 when none matched. Ids are never 0.
  template <class Visit>
  uint32_t find(uint64_t hash, Visit&& visit) const {
    if (capacity_ == 0) return 0;
    const uint32_t tag = tag_of(hash);
    for (size_t i = home(tag);; i = next(i)) {
      const Slot& slot = slots_[i];
      if (slot.id == 0) return 0;
      if (slot.tag == tag && visit(slot.id)) return slot.id;
    }
  }

  // Adds id under hash. ENOSPC/ENOMEM when the table must grow and cannot; nothing changes then.
  Status insert(uint64_t hash, uint32_t id) {
    ZSFS_CHECK(id != 0);
    if ((size_ + 1) * kMaxLoadDen > capacity_ * kMaxLoadNum) {
      ZSFS_TRY_STATUS(resize(capacity_ == 0 ? kMinCapacity : capacity_ * 2));
    }
    place(tag_of(hash), id);
    ++size_;
    return {};
  }

  // Removes id stored under hash; it must be present.
  void erase(uint64_t hash, uint32_t id) {
    ZSFS_CHECK(capacity_ != 0);
    const uint32_t tag = tag_of(hash);
    size_t i = home(tag);
    while (!(slots_[i].id == id && slots_[i].tag == tag)) {
      ZSFS_CHECK_MSG(slots_[i].id != 0, "IdIndex::erase of an id that is not indexed");
      i = next(i);
    }
    // Backward shift: pull later members of the probe run into the gap when their home
    // position allows it, so that no lookup ever stops early at the gap.
    size_t gap = i;
    for (size_t j = next(gap);; j = next(j)) {
      if (slots_[j].id == 0) break;
      size_t h = home(slots_[j].tag);
      // Slot j may move to gap if its home is not cyclically within (gap, j].
      bool home_in_range = gap <= j ? (gap < h && h <= j) : (gap < h || h <= j);
      if (!home_in_range) {
        slots_[gap] = slots_[j];
        gap = j;
      }
    }
    slots_[gap] = Slot{};
    if (--size_ == 0) {
      release();  // an emptied index costs nothing, as when it was new
      return;
    }
    if (capacity_ > kMinCapacity && size_ * kShrinkDen < capacity_) {
      // Shrinking is an optimisation: if the budget or host refuses, keep the larger table.
      (void)resize(capacity_ / 2);
    }
  }

  // Replaces the id stored under hash (for owners whose ids move).
  void replace(uint64_t hash, uint32_t old_id, uint32_t new_id) {
    ZSFS_CHECK(new_id != 0);
    const uint32_t tag = tag_of(hash);
    for (size_t i = home(tag);; i = next(i)) {
      ZSFS_CHECK_MSG(slots_[i].id != 0, "IdIndex::replace of an id that is not indexed");
      if (slots_[i].id == old_id && slots_[i].tag == tag) {
        slots_[i].id = new_id;
        return;
      }
    }
  }

  void clear() {
    release();
    size_ = 0;
  }

  size_t size() const { return size_; }
  uint64_t memory_bytes() const { return capacity_ * sizeof(Slot); }

  // Calls fn(id) for every id stored (any order).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].id != 0) fn(slots_[i].id);
    }
  }

 private:
  struct Slot {
    uint32_t tag = 0;  // the low 32 bits of the key's hash
    uint32_t id = 0;   // 0: empty
  };
  // Grow past 3/4 full: linear probing degrades quickly above that.
  static constexpr size_t kMaxLoadNum = 3;
  static constexpr size_t kMaxLoadDen = 4;
  // Shrink below 1/5 full, so that a halved table is at most 2/5 full and far from growing.
  static constexpr size_t kShrinkDen = 5;
  static constexpr size_t kMinCapacity = 8;

  static uint32_t tag_of(uint64_t hash) {
    // Fold the high half in so that callers may pass hashes whose entropy sits anywhere. A hash
    // below 2^32 is its own tag: DedupStore relies on that to key the index by a kept tag.
    return static_cast<uint32_t>(hash ^ (hash >> 32));
  }
  size_t home(uint32_t tag) const {
    // Fibonacci hashing spreads tags that share low bits.
    return static_cast<size_t>((uint64_t{tag} * 0x9E3779B97F4A7C15ull) >> 32) & (capacity_ - 1);
  }
  size_t next(size_t i) const { return (i + 1) & (capacity_ - 1); }

  void place(uint32_t tag, uint32_t id) {
    size_t i = home(tag);
    while (slots_[i].id != 0)
      i = next(i);
    slots_[i] = Slot{tag, id};
  }

  Status resize(size_t new_capacity) {
    ZSFS_CHECK(std::has_single_bit(new_capacity) && new_capacity > size_);
    const uint64_t new_bytes = new_capacity * sizeof(Slot);
    if (!budget_->try_charge(new_bytes)) return Errno{ENOSPC};
    std::unique_ptr<Slot[]> fresh(new (std::nothrow) Slot[new_capacity]);
    if (!fresh) {
      budget_->uncharge(new_bytes);
      return Errno{ENOMEM};
    }
    std::unique_ptr<Slot[]> old = std::move(slots_);
    const size_t old_capacity = capacity_;
    slots_ = std::move(fresh);
    capacity_ = new_capacity;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i].id != 0) place(old[i].tag, old[i].id);
    }
    budget_->uncharge(old_capacity * sizeof(Slot));
    return {};
  }

  void release() {
    budget_->uncharge(capacity_ * sizeof(Slot));
    slots_.reset();
    capacity_ = 0;
  }

  MemoryBudget* budget_;
  std::unique_ptr<Slot[]> slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace zsfs::fs
