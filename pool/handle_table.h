// HandleTable: one size class's table of handle entries (layout in handle.h).
//
// Entries live in fixed-size chunks that never move once allocated, so an entry's index is stable
// for the life of the pool and the table grows without copying. Free entries form a LIFO list
// threaded through the entries themselves. Chunks and the chunk directory are charged to the
// class's MetadataAccount. Used under the owning class's lock.
//
// Invariants: every entry of every chunk is either live or on the free list exactly once;
// nr_free() is the length of that list. While the class holds objects the table does not shrink
// (entry indices are in handles); when the class empties, the whole table is given back, and the
// generations it had handed out live on in a floor that a regrown table starts above, so that a
// stale handle still fails the generation check.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pool/handle.h"
#include "pool/metadata.h"

namespace zsfs::pool::detail {

class HandleTable {
 public:
  // 256 entries (2 KiB) per chunk: a class that holds a single object costs 2 KiB of table, and a
  // class with millions of objects needs one heap allocation per 256 of them.
  static constexpr uint32_t kChunkEntries = 256;
  static constexpr uint64_t kChunkBytes = kChunkEntries * sizeof(uint64_t);

  explicit HandleTable(MetadataAccount* account) : account_(account) {}
  ~HandleTable() { ZSFS_CHECK_MSG(chunks_.empty(), "handle table not released"); }
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  uint32_t capacity() const { return static_cast<uint32_t>(chunks_.size()) * kChunkEntries; }
  uint32_t nr_free() const { return nr_free_; }
  uint32_t generation_floor() const { return generation_floor_; }
  bool has_free() const { return free_head_ != kNoEntry; }

  uint64_t& operator[](uint32_t index) {
    return chunks_[index / kChunkEntries][index % kChunkEntries];
  }
  uint64_t operator[](uint32_t index) const {
    return chunks_[index / kChunkEntries][index % kChunkEntries];
  }

  // Whether the index space (kMaxEntries) has room for another chunk.
  bool can_grow() const { return uint64_t{capacity()} + kChunkEntries <= kMaxEntries; }
  // Heap bytes grow() needs: a chunk, and room for it in the chunk directory.
  uint64_t grow_bytes() const;
  // Adds a chunk of free entries, paid from charge. False when the heap refuses; the directory
  // may have grown then (paid for, and used by the next grow()).
  bool grow(Precharge& charge);
  // Unlinks the first free entry and returns its index. The entry keeps the generation of its
  // last object until the caller stores a live entry there. Requires has_free().
  uint32_t take_free();
  // Returns a live entry to the free list, remembering its generation.
  void put_free(uint32_t index);
  // Frees every chunk and uncharges the table.
  void release();
  // As release(), for a table whose entries are all free, keeping its generations: entries of a
  // table grown later start above every generation this one handed out.
  void release_empty();
  // What the table charges: its chunks and its chunk directory.
  uint64_t metadata_bytes() const;
  // Calls f(index, entry) for every entry, chunk by chunk (for the checks).
  template <class F>
  void for_each_entry(F f) const {
    for (uint32_t c = 0; c < chunks_.size(); ++c) {
      const uint64_t* chunk = chunks_[c].get();
      for (uint32_t i = 0; i < kChunkEntries; ++i)
        f(c * kChunkEntries + i, chunk[i]);
    }
  }
  // Aborts unless the free list holds exactly nr_free() distinct free entries.
  void check_free_list() const;

 private:
  MetadataAccount* const account_;
  std::vector<std::unique_ptr<uint64_t[]>> chunks_;
  uint32_t free_head_ = kNoEntry;
  uint32_t nr_free_ = 0;
  // The generation new entries start with (the highest one a released table had handed out).
  uint32_t generation_floor_ = 0;
};

}  // namespace zsfs::pool::detail
