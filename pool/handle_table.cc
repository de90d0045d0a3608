// HandleTable: chunked, never-moving handle entries with a free list.
//
// Owns the chunks and the chunk directory of one class's table; keeps the invariants stated in
// handle_table.h (every entry live or on the free list exactly once, nr_free() exact).
#include "pool/handle_table.h"

#include <algorithm>
#include <new>

namespace zsfs::pool::detail {

uint64_t HandleTable::grow_bytes() const {
  return kChunkBytes + growth_bytes(chunks_, capacity_for(chunks_, chunks_.size() + 1));
}

bool HandleTable::grow(Precharge& charge) {
  ZSFS_CHECK(can_grow());
  if (!reserve_charged(chunks_, capacity_for(chunks_, chunks_.size() + 1), charge)) return false;
  std::unique_ptr<uint64_t[]> chunk(new (std::nothrow) uint64_t[kChunkEntries]);
  if (chunk == nullptr) return false;
  charge.use(kChunkBytes);
  // Link the new entries in index order in front of the old list, at the generation floor (0,
  // "never used", until a released table raised it).
  const uint32_t base = capacity();
  for (uint32_t i = 0; i < kChunkEntries; ++i) {
    chunk[i] = free_entry(generation_floor_, i + 1 < kChunkEntries ? base + i + 1 : free_head_);
  }
  chunks_.push_back(std::move(chunk));  // capacity reserved above: cannot throw
  free_head_ = base;
  nr_free_ += kChunkEntries;
  return true;
}

uint32_t HandleTable::take_free() {
  ZSFS_CHECK(has_free());
  const uint32_t index = free_head_;
  const uint64_t entry = (*this)[index];
  ZSFS_CHECK_MSG(!entry_live(entry), "handle free list holds a live entry");
  free_head_ = entry_next_free(entry);
  --nr_free_;
  return index;
}

void HandleTable::put_free(uint32_t index) {
  uint64_t& entry = (*this)[index];
  ZSFS_CHECK(entry_live(entry));
  entry = free_entry(entry_generation(entry), free_head_);
  free_head_ = index;
  ++nr_free_;
}

void HandleTable::release() {
  account_->uncharge(chunks_.size() * kChunkBytes);
  account_->release_vector(chunks_);
  free_head_ = kNoEntry;
  nr_free_ = 0;
}

void HandleTable::release_empty() {
  ZSFS_CHECK_MSG(nr_free_ == capacity(), "releasing a handle table that has live entries");
  for_each_entry([&](uint32_t, uint64_t entry) {
    generation_floor_ = std::max(generation_floor_, entry_generation(entry));
  });
  release();
}

uint64_t HandleTable::metadata_bytes() const {
  return chunks_.size() * kChunkBytes + chunks_.capacity() * sizeof(chunks_[0]);
}

void HandleTable::check_free_list() const {
  uint32_t count = 0;
  for (uint32_t index = free_head_; index != kNoEntry; ++count) {
    // More steps than free entries means a cycle; a list with no cycle has distinct entries.
    ZSFS_CHECK_MSG(count < nr_free_, "handle free list longer than its count, or cyclic");
    ZSFS_CHECK_MSG(index < capacity(), "handle free list names no entry");
    const uint64_t entry = (*this)[index];
    ZSFS_CHECK_MSG(!entry_live(entry), "handle free list holds a live entry");
    index = entry_next_free(entry);
  }
  ZSFS_CHECK_MSG(count == nr_free_, "handle free list shorter than its count");
}

}  // namespace zsfs::pool::detail
