// Zspage: the descriptor of one zspage, a chain of single 4 KiB pages holding one class's slots.
//
// The descriptor is one heap block: this header, then the chain's page addresses, then one 32-bit
// word per slot. An allocated slot's word is the index of the handle-table entry that owns the
// object (compaction follows it to rewrite the entry); a free slot's word is kSlotFree plus the
// next free slot, so the free list lives here and not in the pages: a fresh zspage's pages stay
// untouched, and not resident, until objects are written into them.
//
// Slot i starts at byte i * size of the chain, so an object may run from one page into the next;
// sizes are multiples of 16, so an object never starts in the last 15 bytes of a page.
//
// Invariants: inuse == slots not on the free list; free_head == kNoSlot iff the zspage is full;
// the descriptor belongs to the class whose directory holds it at index id. Used under that
// class's lock.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "pool/pool.h"
#include "pool/size_class.h"

namespace zsfs::pool::detail {

inline constexpr uint32_t kSlotFree = uint32_t{1} << 31;
inline constexpr uint16_t kNoSlot = UINT16_MAX;

inline constexpr bool slot_free(uint32_t word) {
  return (word & kSlotFree) != 0;
}

// Where an object's bytes are: first_bytes at first, and the rest (if any) at the start of second.
struct Extent {
  std::byte* first;
  size_t first_bytes;
  std::byte* second;  // null when the object lies within one page
  size_t size_bytes;

  bool straddles() const { return second != nullptr; }
  // The contiguous run of the object's bytes from byte offset on.
  std::span<std::byte> run_at(size_t offset) const {
    if (offset < first_bytes) return {first + offset, first_bytes - offset};
    return {second + (offset - first_bytes), size_bytes - offset};
  }
  void copy_out(std::byte* dst) const {
    std::memcpy(dst, first, first_bytes);
    if (second != nullptr) std::memcpy(dst + first_bytes, second, size_bytes - first_bytes);
  }
  void copy_in(const std::byte* src) const {
    std::memcpy(first, src, first_bytes);
    if (second != nullptr) std::memcpy(second, src + first_bytes, size_bytes - first_bytes);
  }
};

// Copies an object between two extents of the same size, one contiguous run at a time (at most
// three memcpy calls), as zs_object_copy() does.
inline void copy_object(const Extent& from, const Extent& to) {
  size_t done = 0;
  while (done < from.size_bytes) {
    const std::span<std::byte> src = from.run_at(done);
    const std::span<std::byte> dst = to.run_at(done);
    const size_t n = std::min(src.size(), dst.size());
    std::memcpy(dst.data(), src.data(), n);
    done += n;
  }
}

struct Zspage {
  Zspage* prev = nullptr;  // neighbours in the class's fullness-group list
  Zspage* next = nullptr;
  uint32_t id = 0;  // index in the class's zspage directory
  uint16_t inuse = 0;
  uint16_t free_head = 0;
  uint16_t nr_pages = 0;
  uint16_t nr_slots = 0;
  uint8_t fullness = 0;  // the group whose list holds it (meaningless while isolated)

  // Heap bytes of the descriptor of one zspage of class c.
  static size_t bytes_for(const SizeClass& c) {
    return sizeof(Zspage) + c.pages_per_zspage * sizeof(std::byte*) +
           c.objects_per_zspage * sizeof(uint32_t);
  }
  // A descriptor for a fresh zspage over pages (all slots free), or null when the heap refuses.
  static Zspage* create(const SizeClass& c, std::span<std::byte* const> pages);
  static void destroy(Zspage* zspage);

  std::byte** pages() { return reinterpret_cast<std::byte**>(this + 1); }
  std::byte* const* pages() const { return reinterpret_cast<std::byte* const*>(this + 1); }
  uint32_t* slots() { return reinterpret_cast<uint32_t*>(pages() + nr_pages); }
  const uint32_t* slots() const { return reinterpret_cast<const uint32_t*>(pages() + nr_pages); }

  bool full() const { return free_head == kNoSlot; }
  bool empty() const { return inuse == 0; }

  // Takes the first free slot for the object owned by handle-table entry entry_index.
  uint32_t take_slot(uint32_t entry_index) {
    ZSFS_CHECK(!full() && entry_index < kSlotFree);
    const uint32_t slot = free_head;
    const uint32_t word = slots()[slot];
    ZSFS_CHECK_MSG(slot_free(word), "zspage free list holds an allocated slot");
    free_head = static_cast<uint16_t>(word & ~kSlotFree);
    slots()[slot] = entry_index;
    ++inuse;
    return slot;
  }
  void put_slot(uint32_t slot) {
    ZSFS_CHECK(slot < nr_slots && !slot_free(slots()[slot]) && inuse > 0);
    slots()[slot] = kSlotFree | free_head;
    free_head = static_cast<uint16_t>(slot);
    --inuse;
  }

  // Where the object in slot (of a class with size_bytes slots) is, object_bytes long.
  Extent extent(uint32_t slot, uint32_t class_size_bytes, uint32_t object_bytes) const {
    const size_t offset = size_t{slot} * class_size_bytes;
    const size_t page = offset / kPageSize;
    const size_t in_page = offset % kPageSize;
    std::byte* first = pages()[page] + in_page;
    if (in_page + object_bytes <= kPageSize)
      return Extent{first, object_bytes, nullptr, object_bytes};
    return Extent{first, kPageSize - in_page, pages()[page + 1], object_bytes};
  }
};

// The arrays that follow the header need pointer alignment.
static_assert(sizeof(Zspage) % alignof(std::byte*) == 0);

}  // namespace zsfs::pool::detail
