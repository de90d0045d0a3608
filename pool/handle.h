// Bit layouts of a Handle and of a handle-table entry (internal to pool/).
//
// A handle names one entry of one class's handle table, and carries the generation the entry had
// when the object was allocated:
//
//   handle  = | 0 (9) | generation (16) | class index (8) | entry index (31) |
//
// The entry says where the object is now; compaction rewrites the entry, never the handle:
//
//   live    = | 1 | generation (16) | zspage id (24) | slot index (11) | size - 1 (12) |
//   free    = | 0 | generation (16) | 0 (15)                            | next free (32) |
//
// A free entry keeps the generation of its last object so that the next one gets a new one.
// Generations run 1..65535 and skip 0, so no valid handle is 0. A handle is accepted only if its
// class exists, its entry is live and the generations match: a double free or a use after free is
// caught unless the entry was reused a multiple of 65535 times in between.
//
// Invariant: the fields fit their widths; the encoders check it.
#pragma once

#include <cstdint>

#include "base/check.h"
#include "pool/pool.h"

namespace zsfs::pool::detail {

inline constexpr unsigned kEntryIndexBits = 31;  // bit 31 of a slot word is its free tag
inline constexpr unsigned kClassBits = 8;        // at most 255 merged classes
// A stale handle passes the generation check only if its entry was reused a multiple of 65535
// times since; 16 bits leave the entry room for a 24-bit zspage id.
inline constexpr unsigned kGenerationBits = 16;
inline constexpr unsigned kZspageIdBits = 24;  // 16 M zspages per class: >= 64 GiB in each
inline constexpr unsigned kSlotBits = 11;      // 16 pages of 32-byte objects: 2048 slots
inline constexpr unsigned kSizeBits = 12;      // size - 1 for sizes 1..4096

inline constexpr uint32_t kMaxEntries = uint32_t{1} << kEntryIndexBits;
inline constexpr uint32_t kMaxZspageIds = uint32_t{1} << kZspageIdBits;
inline constexpr uint32_t kMaxGeneration = (uint32_t{1} << kGenerationBits) - 1;
inline constexpr uint32_t kNoEntry = UINT32_MAX;  // end of the free-entry list

static_assert(kGenerationBits + kClassBits + kEntryIndexBits <= kHandleBits);
static_assert(1 + kGenerationBits + kZspageIdBits + kSlotBits + kSizeBits == 64);
static_assert((uint64_t{1} << kSlotBits) >= kMaxChainPages * kPageSize / 32);
static_assert((uint64_t{1} << kSizeBits) == kMaxObjectSize);

constexpr uint64_t bits(uint64_t word, unsigned shift, unsigned width) {
  return (word >> shift) & ((uint64_t{1} << width) - 1);
}

// --- handles ---------------------------------------------------------------------------------

inline constexpr unsigned kHandleClassShift = kEntryIndexBits;
inline constexpr unsigned kHandleGenerationShift = kHandleClassShift + kClassBits;

constexpr Handle make_handle(uint32_t generation, uint32_t class_index, uint32_t entry_index) {
  return uint64_t{generation} << kHandleGenerationShift |
         uint64_t{class_index} << kHandleClassShift | entry_index;
}
constexpr uint32_t handle_entry_index(Handle h) {
  return static_cast<uint32_t>(bits(h, 0, kEntryIndexBits));
}
constexpr uint32_t handle_class(Handle h) {
  return static_cast<uint32_t>(bits(h, kHandleClassShift, kClassBits));
}
constexpr uint32_t handle_generation(Handle h) {
  return static_cast<uint32_t>(bits(h, kHandleGenerationShift, kGenerationBits));
}
// True when no field overflows into bits a valid handle never sets.
constexpr bool handle_well_formed(Handle h) {
  return (h >> (kHandleGenerationShift + kGenerationBits)) == 0 && handle_generation(h) != 0;
}

constexpr uint32_t next_generation(uint32_t generation) {
  return generation >= kMaxGeneration ? 1 : generation + 1;
}

// --- handle-table entries --------------------------------------------------------------------

inline constexpr unsigned kEntrySlotShift = kSizeBits;
inline constexpr unsigned kEntryZspageShift = kEntrySlotShift + kSlotBits;
inline constexpr unsigned kEntryGenerationShift = kEntryZspageShift + kZspageIdBits;
inline constexpr uint64_t kEntryLiveBit = uint64_t{1} << 63;

struct ObjectPlace {
  uint32_t zspage_id;
  uint32_t slot;
  uint32_t size_bytes;
};

inline uint64_t live_entry(uint32_t generation, ObjectPlace place) {
  ZSFS_DCHECK(generation >= 1 && generation <= kMaxGeneration);
  ZSFS_DCHECK(place.zspage_id < kMaxZspageIds && place.slot < (1u << kSlotBits));
  ZSFS_DCHECK(place.size_bytes >= 1 && place.size_bytes <= kMaxObjectSize);
  return kEntryLiveBit | uint64_t{generation} << kEntryGenerationShift |
         uint64_t{place.zspage_id} << kEntryZspageShift | uint64_t{place.slot} << kEntrySlotShift |
         (place.size_bytes - 1);
}
constexpr uint64_t free_entry(uint32_t generation, uint32_t next_free) {
  return uint64_t{generation} << kEntryGenerationShift | next_free;
}
constexpr bool entry_live(uint64_t e) {
  return (e & kEntryLiveBit) != 0;
}
constexpr uint32_t entry_generation(uint64_t e) {
  return static_cast<uint32_t>(bits(e, kEntryGenerationShift, kGenerationBits));
}
constexpr ObjectPlace entry_place(uint64_t e) {
  return ObjectPlace{static_cast<uint32_t>(bits(e, kEntryZspageShift, kZspageIdBits)),
                     static_cast<uint32_t>(bits(e, kEntrySlotShift, kSlotBits)),
                     static_cast<uint32_t>(bits(e, 0, kSizeBits)) + 1};
}
constexpr uint32_t entry_next_free(uint64_t e) {
  return static_cast<uint32_t>(bits(e, 0, 32));
}

}  // namespace zsfs::pool::detail
