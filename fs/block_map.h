// BlockMap: one file's map from 4 KiB block index to the block that holds its data.
//
// Each index maps to a BlockRef: 0 is a hole (costs nothing, reads as zeros); any other value is
// an opaque reference owned by the caller (an entry of the dedup store). The map only stores the
// values; taking and dropping references is the caller's business.
//
// Layout: a radix tree in the manner of the kernel's xarray, 64 slots per node, grown upwards as
// higher indices appear, so a sparse file (a block at 1 TiB and another at 0) costs a few nodes
// and a dense one about 4 bytes per block. Slot arrays grow in powers of two up to 64, so a small
// file of n blocks costs about 4n bytes; a map whose only block is index 0 needs no node at all.
// Only the slots in use are stored (packed in index order), so a lone block costs a chain of
// one-slot nodes, not of 64-slot ones. Exact figures are in block_map.cc.
// Each node keeps a bitmap of its non-empty slots and (interior nodes) of its completely full
// children, so next_data()/next_hole() skip whole subtrees instead of scanning slot by slot.
//
// Memory: node memory is charged to the MemoryBudget each editing call is given (the map keeps no
// pointer to it: one map per inode, and every map of a filesystem has the same budget, so the
// caller passes it); a set() that needs memory the budget refuses fails with ENOSPC (or ENOMEM if
// the host refuses) and changes nothing. Memory is uncharged, to the budget given, as nodes are
// freed: a map must be edited with the same budget all its life.
//
// Invariants: indices are < kMaxBlocks; count() equals the number of non-hole slots; every node
// is reachable, holds at least one non-empty slot, and its bitmaps match its slots; the map must
// be empty when destroyed (the caller drops its references first, then erases).
//
// Thread safety: none of its own. The owning inode's lock guards it; const functions may run
// concurrently with each other.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "base/budget.h"
#include "base/result.h"

namespace zsfs::fs {

using BlockRef = uint32_t;
inline constexpr BlockRef kHole = 0;

// Files may be as large as the kernel allows (LLONG_MAX bytes), so block indices go up to
// LLONG_MAX / 4096 inclusive.
inline constexpr uint64_t kMaxBlocks = (static_cast<uint64_t>(INT64_MAX) >> 12) + 1;

class BlockMap {
 public:
  BlockMap() = default;
  ~BlockMap();
  BlockMap(BlockMap&& other) noexcept;
  BlockMap& operator=(BlockMap&& other) noexcept;
  BlockMap(const BlockMap&) = delete;
  BlockMap& operator=(const BlockMap&) = delete;

  // The ref at index, kHole if none.
  BlockRef get(uint64_t index) const;

  // Stores ref (not kHole) at index and returns what was there. ENOSPC/ENOMEM when a node cannot
  // be had; the map is then unchanged.
  Result<BlockRef> set(uint64_t index, BlockRef ref, MemoryBudget& budget);

  // Makes index a hole and returns what was there. Never fails; frees nodes that empty.
  BlockRef erase(uint64_t index, MemoryBudget& budget);

  // Makes every index in [first, last) a hole, calling on_erased(index, ref) for each non-hole
  // slot removed, in increasing index order. Never fails. on_erased may be empty; it must not
  // use the map (it runs while the map is being edited) nor throw. Costs in proportion to the
  // nodes that hold something in the range, however long the range.
  void erase_range(uint64_t first, uint64_t last, MemoryBudget& budget,
                   const std::function<void(uint64_t index, BlockRef ref)>& on_erased);

  // Calls fn(index, ref) for each non-hole slot in [first, last), in increasing index order,
  // while fn returns true. fn must not modify the map.
  void for_each(uint64_t first, uint64_t last,
                const std::function<bool(uint64_t index, BlockRef ref)>& fn) const;

  // The smallest index >= from that holds a ref, if any.
  std::optional<uint64_t> next_data(uint64_t from) const;
  // The smallest index >= from that is a hole (from itself when from >= kMaxBlocks; kMaxBlocks
  // when every index from `from` on holds a ref).
  uint64_t next_hole(uint64_t from) const;

  // Non-hole slots.
  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Heap bytes the map holds (what it has charged to the budget).
  uint64_t memory_bytes() const { return memory_bytes_; }

  // Verifies the invariants above; aborts naming the first broken one. For tests.
  void check_invariants() const;

 private:
  // The tree as one tagged word: 0 for the empty map, a lone block at index 0 kept inline, or a
  // reference to the root node. The encoding and the nodes are defined in block_map.cc.
  uintptr_t root_ = 0;
  // 32 bits each keep the map at 16 bytes (one per inode): a file holds at most 2^32 - 1 data
  // blocks (16 TiB) and 4 GiB of nodes; set() past either is ENOSPC.
  uint32_t count_ = 0;
  uint32_t memory_bytes_ = 0;
};

}  // namespace zsfs::fs
