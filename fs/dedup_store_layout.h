// DedupStore's private layout: an entry and how it packs into 20 bytes, the chunks and shards
// that hold entries, the snapshot a reader decodes from, and the limits they keep. Shared by the
// store's source files and included by nothing else: dedup_store.cc (entries, the index, payload
// swaps, images), dedup_backing.cc (payloads moved to and from the backing file) and
// dedup_recompress.cc (due blocks and their re-encoding).
//
// Locks: an Entry, its Chunk and every member of a Shard are guarded by that shard's mu (see
// dedup_store.h for where it sits in the hierarchy). A Snapshot belongs to the reader that took
// it and needs no lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/sync.h"
#include "codec/codec.h"
#include "fs/dedup_store.h"
#include "fs/dictionary_set.h"
#include "fs/id_index.h"
#include "pool/pool.h"

namespace zsfs::fs {

// 512 entries of 20 bytes: a 10 KiB chunk, small enough that a nearly empty filesystem costs
// little and a chunk empties (and is given back) soon after its files are deleted.
inline constexpr uint32_t kChunkEntries = 512;
// Local indices must leave room for the shard bits in a 32-bit BlockRef, and the largest ref
// must stay below kUnwritten.
inline constexpr uint32_t kMaxLocalEntries = (1u << (32 - 4)) - 2;
// An entry's reference count has 24 bits (the other 8 hold half of its clock); it is kept below
// this, so that pinning a candidate can never overflow it. A block shared more often than this
// (16.7 million times: 64 GiB of one block's copies) is stored again, as a second entry.
inline constexpr uint32_t kRefBits = 24;
inline constexpr uint32_t kMaxRefs = (1u << kRefBits) - 64;
inline constexpr uint32_t kNoSlot = UINT32_MAX;
// How many candidates (entries with the block's 32-bit index tag) one put() compares at most.
// More than one is already a rare tag collision in a shard; four is plenty and bounds the work.
inline constexpr size_t kMaxCandidates = 4;

// Entry flags (3 bits).
// In the shard's index: a dedup candidate, or a same-filled word.
inline constexpr uint8_t kIndexed = 1;
// Kept raw for now and queued for compression in the background; the queue holds a reference.
inline constexpr uint8_t kStaged = 2;
// The recompressor has been through it (recompressed, or found not worth it): never again.
inline constexpr uint8_t kSettled = 4;

// An entry's value with this bit set is its payload's location in the backing file, not a pool
// handle (handles stay below 2^pool::kHandleBits).
inline constexpr uint64_t kBackedBit = uint64_t{1} << 63;
static_assert(pool::kHandleBits < 63);
// A read that finds a backed record failing its check while the entry has moved on tries again
// this often before it reports EIO.
inline constexpr int kBackedReadTries = 4;

// A block's format: its encoding and, for zstd, its dictionary's slot; one byte in an entry.
struct DedupStore::Format {
  codec::Encoding encoding = codec::Encoding::kRaw;
  DictSlot dict = kNoDict;

  uint8_t packed() const {
    return static_cast<uint8_t>(static_cast<unsigned>(encoding) | unsigned{dict}
                                                                      << codec::kEncodingBits);
  }
  static Format unpack(uint8_t byte) {
    return Format{static_cast<codec::Encoding>(byte & ((1u << codec::kEncodingBits) - 1)),
                  static_cast<DictSlot>(byte >> codec::kEncodingBits)};
  }
  friend bool operator==(const Format&, const Format&) = default;
};
static_assert(codec::kEncodingBits + kDictSlotBits == 8);

struct DedupStore::Entry {
  // index_tag() of the entry's index hash (the fingerprint's low half, or mix64 of the
  // same-filled word). Only candidates whose tag matches are compared byte by byte, so 32 bits
  // are enough: two different blocks share a tag once in 4 billion, and then cost one compare.
  // For a free entry: the next free slot of its chunk (kNoSlot ends the list).
  uint32_t tag = 0;
  uint32_t refs : kRefBits = 0;  // 0 for a free entry
  uint32_t born_high : 8 = 0;    // the high half of the 16-bit clock when it was stored
  // The pool handle of the encoded bytes, or a same-filled entry's word: in two halves, so that
  // the entry needs 4-byte alignment only and packs into 20 bytes.
  uint32_t value_low = 0;
  uint32_t value_high = 0;
  uint16_t stored_bytes : 13 = 0;  // 0..4096
  uint16_t flags : 3 = 0;          // kIndexed, kStaged, kSettled
  uint8_t format_byte = 0;         // Format::packed()
  uint8_t born_low = 0;

  bool indexed() const { return (flags & kIndexed) != 0; }
  bool staged() const { return (flags & kStaged) != 0; }
  bool settled() const { return (flags & kSettled) != 0; }
  // Compressed, or to be: not raw once settled, not same-filled.
  bool compressible() const {
    return !same_filled() && !(settled() && encoding() == codec::Encoding::kRaw);
  }
  // Settled, compressed with another dictionary than slot's, or none: a sweep's to redo.
  bool redoable_for(DictSlot slot) const { return settled() && compressible() && dict() != slot; }
  void set_flag(uint8_t flag) { flags = static_cast<uint16_t>(flags | flag) & 7u; }
  void clear_flag(uint8_t flag) { flags = static_cast<uint16_t>(flags & ~flag) & 7u; }
  Format format() const { return Format::unpack(format_byte); }
  void set_format(Format f) { format_byte = f.packed(); }
  codec::Encoding encoding() const { return format().encoding; }
  DictSlot dict() const { return format().dict; }
  bool same_filled() const { return encoding() == codec::Encoding::kSameFilled; }
  uint16_t born() const { return static_cast<uint16_t>(born_high << 8 | born_low); }
  void set_born(uint16_t clock) {
    born_high = static_cast<uint8_t>(clock >> 8) & 0xffu;
    born_low = static_cast<uint8_t>(clock);
  }
  uint64_t value() const { return uint64_t{value_high} << 32 | value_low; }
  void set_value(uint64_t v) {
    value_low = static_cast<uint32_t>(v);
    value_high = static_cast<uint32_t>(v >> 32);
  }
  // The payload is in the backing file, at location().
  bool backed() const { return !same_filled() && (value() & kBackedBit) != 0; }
  uint64_t location() const { return value() & ~kBackedBit; }
  // Null for same-filled, backed and free entries.
  pool::Handle handle() const { return same_filled() || backed() ? pool::kNullHandle : value(); }
  uint64_t word() const { return value(); }
  BlockInfo info() const {
    return BlockInfo{encoding(), dict(),  stored_bytes, refs - (staged() ? 1u : 0u),
                     handle(),   backed()};
  }
};

// A copy of an entry's payload and its dictionary, pinned: taken under the shard lock, decoded
// outside it, safe from a concurrent payload swap.
struct DedupStore::Snapshot {
  Format format;
  uint32_t size = 0;
  DictionarySet::Pin dict;
  // The payload is in the backing file at location (not yet in payload: fetch_backed()).
  bool backed = false;
  uint64_t location = 0;
  alignas(64) std::array<std::byte, codec::kBlockSize> payload;

  std::span<const std::byte> bytes() const { return std::span(payload.data(), size); }
  Status decode(codec::MutableBlock out) const {
    return codec::decompress(format.encoding, bytes(), out, dict.get());
  }
};

struct DedupStore::Chunk {
  // 20 bytes an entry: the dedup store's share of the per-block metadata.
  static_assert(sizeof(Entry) == 20);
  static_assert(codec::kBlockSize < (1u << 13));  // stored_bytes
  std::array<Entry, kChunkEntries> entries;
  uint32_t live = 0;
  uint32_t free_head = kNoSlot;    // free slots handed back, chained through Entry::tag
  uint32_t fresh = 0;              // slots [fresh, kChunkEntries) were never used
  uint32_t partial_pos = kNoSlot;  // position in Shard::partial, kNoSlot when full
};

struct DedupStore::Shard {
  explicit Shard(MemoryBudget* budget) : index(budget) {}

  mutable Mutex mu;
  // Chunks by number; a freed chunk leaves a null whose number is reused.
  std::vector<std::unique_ptr<Chunk>> chunks ZSFS_GUARDED_BY(mu);
  std::vector<uint32_t> free_chunk_numbers ZSFS_GUARDED_BY(mu);
  // Numbers of the chunks that have a free slot.
  std::vector<uint32_t> partial ZSFS_GUARDED_BY(mu);
  IdIndex index ZSFS_GUARDED_BY(mu);
  StoreStats stats ZSFS_GUARDED_BY(mu);
  // Bytes charged for the chunks. The three vectors above (4 to 8 bytes per 12 KiB chunk) are
  // left out of the budget: too small to matter, and not worth failing an allocation over.
  uint64_t charged_bytes ZSFS_GUARDED_BY(mu) = 0;
};

// The entry number within its shard of a BlockRef (see dedup_store.cc).
inline uint32_t local_index_of(BlockRef ref, unsigned shard_bits) {
  return (ref >> shard_bits) - 1;
}

template <class Wants>
bool DedupStore::collect(unsigned shard_index, uint32_t* cursor, std::vector<BlockRef>* out,
                         Wants&& wants) {
  Shard& shard = *shards_[shard_index];
  MutexLock lock(shard.mu);
  const uint32_t end = static_cast<uint32_t>(shard.chunks.size()) * kChunkEntries;
  uint32_t pos = *cursor;
  for (; pos < end && out->size() < out->capacity(); ++pos) {
    Chunk* chunk = shard.chunks[pos / kChunkEntries].get();
    if (chunk == nullptr) {
      pos = (pos / kChunkEntries + 1) * kChunkEntries - 1;  // the next chunk
      continue;
    }
    Entry& e = chunk->entries[pos % kChunkEntries];
    if (e.refs == 0 || e.same_filled() || e.staged() || e.backed() || !wants(e)) continue;
    ++e.refs;
    ++shard.stats.stored_refs;
    out->push_back(((pos + 1) << kShardBits) | shard_index);
  }
  *cursor = pos;
  return pos < end;
}

}  // namespace zsfs::fs
