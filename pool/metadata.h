// MetadataAccount: charges the pool's heap metadata (handle-table chunks and directories, zspage
// descriptors and directories) to the MemoryBudget, like the pages themselves.
//
// One account per size class, used under that class's lock; the pool-wide total is an atomic so
// that metadata_bytes() needs no lock. A std::vector is charged by its capacity.
//
// An allocation charges everything it may add to the heap at once, up front, in a Precharge, and
// only then allocates: a budget refusal then changes nothing at all. What the heap grants is paid
// from the Precharge; what was charged but not used (the host refused) is uncharged when the
// Precharge ends.
//
// Invariant: bytes() is exactly what this account charged and has not uncharged; the destructor
// checks that everything was uncharged.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <vector>

#include "base/budget.h"
#include "base/check.h"

namespace zsfs::pool::detail {

class MetadataAccount {
 public:
  MetadataAccount(MemoryBudget* budget, std::atomic<uint64_t>* pool_total)
      : budget_(budget), pool_total_(pool_total) {}
  ~MetadataAccount() { ZSFS_CHECK_MSG(bytes_ == 0, "pool metadata still charged at teardown"); }
  MetadataAccount(const MetadataAccount&) = delete;
  MetadataAccount& operator=(const MetadataAccount&) = delete;

  // A charge of 0 bytes touches nothing: the budget's counter is shared by every class and
  // thread, and the common allocation (no new zspage) charges nothing.
  [[nodiscard]] bool try_charge(uint64_t bytes) {
    if (bytes == 0) return true;
    if (!budget_->try_charge(bytes)) return false;
    bytes_ += bytes;
    pool_total_->fetch_add(bytes, std::memory_order_relaxed);
    return true;
  }
  void uncharge(uint64_t bytes) {
    if (bytes == 0) return;
    ZSFS_CHECK(bytes <= bytes_);
    bytes_ -= bytes;
    pool_total_->fetch_sub(bytes, std::memory_order_relaxed);
    budget_->uncharge(bytes);
  }
  uint64_t bytes() const { return bytes_; }

  // Frees v's storage and uncharges its capacity.
  template <class T>
  void release_vector(std::vector<T>& v) {
    const uint64_t bytes = v.capacity() * sizeof(T);
    std::vector<T>().swap(v);
    uncharge(bytes);
  }

 private:
  MemoryBudget* const budget_;
  std::atomic<uint64_t>* const pool_total_;
  uint64_t bytes_ = 0;
};

// Bytes charged ahead of the heap allocations that they pay for (see the top of this file).
class Precharge {
 public:
  Precharge(MetadataAccount* account, uint64_t bytes) : account_(account), bytes_(bytes) {}
  ~Precharge() { account_->uncharge(bytes_ - used_); }
  Precharge(const Precharge&) = delete;
  Precharge& operator=(const Precharge&) = delete;

  void use(uint64_t bytes) {
    ZSFS_CHECK_MSG(used_ + bytes <= bytes_, "heap metadata used beyond what was charged");
    used_ += bytes;
  }

 private:
  MetadataAccount* const account_;
  const uint64_t bytes_;
  uint64_t used_ = 0;
};

// The capacity v needs to take `size` elements: its own if that is enough, else doubled (at least
// 8) until it is, so that growth costs amortised O(1) per element.
template <class T>
size_t capacity_for(const std::vector<T>& v, size_t size) {
  size_t capacity = v.capacity();
  if (capacity >= size) return capacity;
  capacity = std::max<size_t>(capacity, 4);
  while (capacity < size)
    capacity *= 2;
  return capacity;
}

// Heap bytes of growing v to capacity.
template <class T>
uint64_t growth_bytes(const std::vector<T>& v, size_t capacity) {
  return capacity > v.capacity() ? (capacity - v.capacity()) * sizeof(T) : 0;
}

// Grows v to capacity, paid from charge. False, v unchanged, when the heap refuses.
template <class T>
bool reserve_charged(std::vector<T>& v, size_t capacity, Precharge& charge) {
  if (capacity <= v.capacity()) return true;
  const uint64_t bytes = growth_bytes(v, capacity);
  try {
    v.reserve(capacity);
  } catch (const std::bad_alloc&) {
    return false;
  }
  ZSFS_CHECK(v.capacity() == capacity);  // what was charged is what was allocated
  charge.use(bytes);
  return true;
}

}  // namespace zsfs::pool::detail
