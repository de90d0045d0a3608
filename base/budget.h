// MemoryBudget: the one account that every byte zsfs holds for users is charged to.
//
// The pool charges whole pages as it takes them from the operating system; the filesystem core
// charges its metadata (inodes, directory entries, block maps, the dedup index). A charge that
// would take the total past the limit fails and changes nothing, which the callers turn into
// ENOSPC. The budget only counts: it never allocates.
//
// A reserve at the top of the budget is kept for making room: a thread inside a ReserveScope (the
// recompressor, re-encoding blocks into less memory, which needs the new copy before it can free
// the old) may charge into it; every other charge stops below it, and available_bytes() leaves
// it out, so that df does not promise it.
//
// Invariant: 0 <= used_bytes() <= limit_bytes(), except through force_charge(), which exists for
// the few charges that cannot be refused (memory already taken) and may overshoot the limit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/check.h"

namespace zsfs {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes, uint64_t reserve_bytes = 0)
      : limit_bytes_(limit_bytes), reserve_bytes_(std::min(reserve_bytes, limit_bytes)) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // While one exists, charges from this thread may use the reserve.
  class ReserveScope {
   public:
    ReserveScope() { ++t_reserve_scopes; }
    ~ReserveScope() { --t_reserve_scopes; }
    ReserveScope(const ReserveScope&) = delete;
    ReserveScope& operator=(const ReserveScope&) = delete;
  };

  // Charges bytes if that keeps the total within the limit (less the reserve, outside a
  // ReserveScope); returns whether it did.
  [[nodiscard]] bool try_charge(uint64_t bytes) {
    const uint64_t limit = t_reserve_scopes > 0 ? limit_bytes_ : limit_bytes_ - reserve_bytes_;
    uint64_t used = used_bytes_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit || used > limit - bytes) {
        ++t_refusals;
        return false;
      }
    } while (!used_bytes_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    note_peak(used + bytes);
    return true;
  }

  // Charges bytes whatever the limit says.
  void force_charge(uint64_t bytes) {
    note_peak(used_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes);
  }

  void uncharge(uint64_t bytes) {
    uint64_t before = used_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    ZSFS_CHECK_MSG(before >= bytes, "memory budget uncharged more than was charged");
  }

  uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
  uint64_t peak_bytes() const { return peak_bytes_.load(std::memory_order_relaxed); }
  uint64_t limit_bytes() const { return limit_bytes_; }
  uint64_t reserve_bytes() const { return reserve_bytes_; }
  // What ordinary charges may still take.
  uint64_t available_bytes() const {
    const uint64_t used = used_bytes();
    const uint64_t limit = limit_bytes_ - reserve_bytes_;
    return used >= limit ? 0 : limit - used;
  }
  void reset_peak() { peak_bytes_.store(used_bytes(), std::memory_order_relaxed); }

  // Charges this thread has had refused, by any budget, so far: an operation that failed with
  // ENOSPC tells by it whether a budget refused it (and making room may help) or something else
  // did (an inode limit, an attribute's size limit).
  static uint64_t refusals_in_this_thread() { return t_refusals; }

 private:
  void note_peak(uint64_t used) {
    uint64_t peak = peak_bytes_.load(std::memory_order_relaxed);
    while (used > peak &&
           !peak_bytes_.compare_exchange_weak(peak, used, std::memory_order_relaxed)) {
    }
  }

  static inline thread_local int t_reserve_scopes = 0;
  static inline thread_local uint64_t t_refusals = 0;

  const uint64_t limit_bytes_;
  const uint64_t reserve_bytes_;
  std::atomic<uint64_t> used_bytes_{0};
  std::atomic<uint64_t> peak_bytes_{0};
};

}  // namespace zsfs
