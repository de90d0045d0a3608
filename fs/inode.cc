#include "fs/inode.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <iterator>
#include <new>

#include "base/check.h"

namespace zsfs::fs {

static_assert(InodeTable::kMaxInodes <= uint64_t{1} << 32, "Inode::ino has 32 bits");
static_assert(sizeof(Inode) == 112, "an inode packs into 112 bytes (see inode.h)");

InodeTable::InodeTable(uint64_t max_inodes, MemoryBudget* budget)
    : max_inodes_(max_inodes), budget_(budget) {
  ZSFS_CHECK(max_inodes > 0 && max_inodes <= kMaxInodes);
  // std::atomic<T*> is lock-free here and shares T*'s representation, so all-zero bytes are a
  // null atomic pointer.
  static_assert(std::atomic<Chunk*>::is_always_lock_free);
  void* memory = std::calloc(kMaxChunks, sizeof(std::atomic<Chunk*>));
  if (memory == nullptr) throw std::bad_alloc();
  chunks_ = static_cast<std::atomic<Chunk*>*>(memory);
}

InodeTable::~InodeTable() {
  const uint64_t chunks = nr_chunks_.load(std::memory_order_relaxed);
  for (uint64_t c = 0; c < chunks; ++c) {
    Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
    if (chunk == nullptr) continue;
    for (unsigned i = 0; i < kChunkSlots; ++i) {
      if (Inode* inode = live_inode(*chunk, c, i)) inode->~Inode();
    }
    delete chunk;
    budget_->uncharge(sizeof(Chunk));
  }
  std::free(chunks_);
}

bool InodeTable::full(const Chunk& chunk) {
  for (const std::atomic<uint64_t>& word : chunk.used) {
    if (word.load(std::memory_order_relaxed) != ~uint64_t{0}) return false;
  }
  return true;
}

Result<Inode*> InodeTable::allocate() {
  MutexLock lock(mu_);
  if (used() >= max_inodes_) return Errno{ENOSPC};

  // The chunk: the lowest one with room, or the lowest absent one, or a new one on top.
  uint64_t c = nr_chunks_.load(std::memory_order_relaxed);
  if (!chunks_with_room_.empty()) c = std::min<uint64_t>(c, *chunks_with_room_.begin());
  if (!absent_chunks_.empty()) c = std::min<uint64_t>(c, *absent_chunks_.begin());
  if (c >= kMaxChunks) return Errno{ENOSPC};
  Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
  const uint64_t charge = chunk == nullptr ? sizeof(Chunk) : 0;
  if (!budget_->try_charge(charge)) return Errno{ENOSPC};

  std::unique_ptr<Chunk> fresh;
  Inode* inode = nullptr;
  try {
    if (chunk == nullptr) {
      fresh = std::make_unique<Chunk>();
      const uint32_t floor = c < generation_floor_.size() ? generation_floor_[c] : 0;
      std::fill(std::begin(fresh->generations), std::end(fresh->generations), floor);
      if (c == 0) fresh->used[0].store(1, std::memory_order_relaxed);  // ino 0 is never valid
      // Make the bookkeeping room now, so that nothing below can fail.
      if (c >= generation_floor_.size()) generation_floor_.resize(c + 1, 0);
      if (!full(*fresh)) chunks_with_room_.insert(static_cast<uint32_t>(c));
      chunk = fresh.get();
    }
    unsigned slot_index = 0;
    for (unsigned w = 0; w < kChunkSlots / 64; ++w) {
      const uint64_t word = chunk->used[w].load(std::memory_order_relaxed);
      if (word != ~uint64_t{0}) {
        slot_index = w * 64 + static_cast<unsigned>(std::countr_one(word));
        break;
      }
    }
    ++chunk->generations[slot_index];
    inode = new (chunk->slots[slot_index].storage) Inode((c << kChunkBits) | slot_index);
    // Publishes the inode to get(), which reads the bit without the lock.
    chunk->used[slot_index / 64].fetch_or(uint64_t{1} << (slot_index % 64),
                                          std::memory_order_release);
    ++chunk->live;
  } catch (const std::bad_alloc&) {
    if (fresh != nullptr) chunks_with_room_.erase(static_cast<uint32_t>(c));
    budget_->uncharge(charge);
    return Errno{ENOMEM};
  }
  if (fresh != nullptr) {
    chunks_[c].store(fresh.release(), std::memory_order_release);
    absent_chunks_.erase(static_cast<uint32_t>(c));
    if (c == nr_chunks_.load(std::memory_order_relaxed)) {
      nr_chunks_.store(c + 1, std::memory_order_release);
    }
  }
  if (full(*chunk)) chunks_with_room_.erase(static_cast<uint32_t>(c));
  live_.fetch_add(1, std::memory_order_relaxed);
  charged_bytes_.fetch_add(charge, std::memory_order_relaxed);
  return inode;
}

void InodeTable::release(Inode* inode) {
  const Ino ino = inode->ino;
  const uint64_t c = ino >> kChunkBits;
  const unsigned slot_index = static_cast<unsigned>(ino & (kChunkSlots - 1));
  Chunk* emptied = nullptr;
  // The inode lives in its slot: destroy it before the slot is free for another one. Nobody else
  // uses it (the caller is the last), so this needs no lock.
  inode->~Inode();
  {
    MutexLock lock(mu_);
    Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
    ZSFS_CHECK(chunk != nullptr);
    Slot& slot = chunk->slots[slot_index];
    // Compares addresses only: the inode itself is gone.
    ZSFS_CHECK_MSG(
        taken(*chunk, slot_index) && static_cast<void*>(slot.storage) == static_cast<void*>(inode),
        "releasing an inode the table does not hold");
    const bool was_full = full(*chunk);
    chunk->used[slot_index / 64].fetch_and(~(uint64_t{1} << (slot_index % 64)),
                                           std::memory_order_release);
    --chunk->live;
    live_.fetch_sub(1, std::memory_order_relaxed);
    // Set operations may allocate; if one fails, this chunk is only less likely to be reused.
    try {
      if (chunk->live == 0) {
        // Give the chunk back, remembering the generations it handed out.
        generation_floor_[c] = std::max(
            generation_floor_[c],
            *std::max_element(std::begin(chunk->generations), std::end(chunk->generations)));
        chunks_[c].store(nullptr, std::memory_order_release);
        chunks_with_room_.erase(static_cast<uint32_t>(c));
        emptied = chunk;
        uint64_t top = nr_chunks_.load(std::memory_order_relaxed);
        if (c + 1 == top) {
          // Lower the top past absent chunks.
          do {
            --top;
            absent_chunks_.erase(static_cast<uint32_t>(top));
          } while (top > 0 && chunks_[top - 1].load(std::memory_order_relaxed) == nullptr);
          nr_chunks_.store(top, std::memory_order_release);
        } else {
          absent_chunks_.insert(static_cast<uint32_t>(c));
        }
      } else if (was_full) {
        chunks_with_room_.insert(static_cast<uint32_t>(c));
      }
    } catch (const std::bad_alloc&) {
    }
  }
  if (emptied != nullptr) {
    delete emptied;
    budget_->uncharge(sizeof(Chunk));
    charged_bytes_.fetch_sub(sizeof(Chunk), std::memory_order_relaxed);
  }
}

Status InodeTable::reserve_link() {
  MutexLock lock(mu_);
  if (used() >= max_inodes_) return Errno{ENOSPC};
  links_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

void InodeTable::release_link() {
  const uint64_t before = links_.fetch_sub(1, std::memory_order_relaxed);
  ZSFS_CHECK_MSG(before > 0, "releasing a link that was not reserved");
}

uint32_t InodeTable::generation(const Inode& inode) const {
  const Chunk* chunk = chunks_[inode.ino >> kChunkBits].load(std::memory_order_acquire);
  ZSFS_DCHECK(chunk != nullptr);
  return chunk->generations[inode.ino & (kChunkSlots - 1)];
}

Inode* InodeTable::get(Ino ino) const {
  if (ino == 0 || ino >= kMaxInodes) return nullptr;
  const Chunk* chunk = chunks_[ino >> kChunkBits].load(std::memory_order_acquire);
  if (chunk == nullptr) return nullptr;
  return live_inode(*chunk, ino >> kChunkBits, static_cast<unsigned>(ino & (kChunkSlots - 1)));
}

}  // namespace zsfs::fs
