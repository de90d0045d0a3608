// MemoryBudget: the one account that every byte zsfs holds for users is charged to.
//
// The pool charges whole pages as it takes them from the operating system; the filesystem core
// charges its metadata (inodes, directory entries, block maps, the dedup index). A charge that
// would take the total past the limit fails and changes nothing, which the callers turn into
// ENOSPC. The budget only counts: it never allocates.
//
// Invariant: 0 <= used_bytes() <= limit_bytes(), except through force_charge(), which exists for
// the few charges that cannot be refused (memory already taken) and may overshoot the limit.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/check.h"

namespace zsfs {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_bytes_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Charges bytes if that keeps the total within the limit; returns whether it did.
  [[nodiscard]] bool try_charge(uint64_t bytes) {
    uint64_t used = used_bytes_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_bytes_ || used > limit_bytes_ - bytes) return false;
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
  uint64_t available_bytes() const {
    uint64_t used = used_bytes();
    return used >= limit_bytes_ ? 0 : limit_bytes_ - used;
  }
  void reset_peak() { peak_bytes_.store(used_bytes(), std::memory_order_relaxed); }

 private:
  void note_peak(uint64_t used) {
    uint64_t peak = peak_bytes_.load(std::memory_order_relaxed);
    while (used > peak &&
           !peak_bytes_.compare_exchange_weak(peak, used, std::memory_order_relaxed)) {
    }
  }

  const uint64_t limit_bytes_;
  std::atomic<uint64_t> used_bytes_{0};
  std::atomic<uint64_t> peak_bytes_{0};
};

}  // namespace zsfs
