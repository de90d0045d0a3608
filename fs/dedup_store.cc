// The dedup store: see dedup_store.h for what it owns and how it locks.
//
// A BlockRef is ((local_index + 1) << kShardBits) | shard, where local_index numbers the entries
// of one shard: chunk * kChunkEntries + slot. It is never 0 (the hole).
#include "fs/dedup_store.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/check.h"
#include "base/log.h"
#include "fs/dedup_store_layout.h"

namespace zsfs::fs {
namespace {

// A 64-bit mixer (the finalizer of MurmurHash3) for same-filled words, whose raw values (0,
// 0xffffffffffffffff, ...) would all land in one shard.
uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// The 32 bits of an index hash that an entry keeps, folded as IdIndex folds hashes into its tags.
// The store hands IdIndex this tag, zero-extended, in place of the hash: IdIndex folds it to
// itself, so insert, find, erase and the check all meet the same slots from the entry alone.
uint32_t index_tag(uint64_t hash) {
  return static_cast<uint32_t>(hash ^ (hash >> 32));
}

}  // namespace

DedupStore::DedupStore(pool::Pool* pool, const codec::Compressor& compressor, bool dedup,
                       MemoryBudget* budget, DictionarySet* dicts,
                       const BackgroundConfig& background, FingerprintFn fingerprint_fn)
    : pool_(pool),
      compressor_(compressor),
      background_compressor_(background.compressor.value_or(compressor)),
      dedup_(dedup),
      budget_(budget),
      dicts_(dicts),
      fingerprint_fn_(fingerprint_fn),
      max_staged_(background.max_staged_blocks),
      epoch_(coarse_nanoseconds()) {
  for (auto& shard : shards_)
    shard = std::make_unique<Shard>(budget);
  if (background.threads > 0 && background.max_staged_blocks > 0 &&
      background_compressor_.config().algorithm != codec::Algorithm::kNone) {
    // A worker going to sleep frees its zstd contexts: an idle mount holds none.
    queue_ = std::make_unique<WorkQueue>(
        background.threads, background.max_staged_blocks,
        [this](BlockRef ref) { encode_staged(ref); }, [] { codec::release_thread_contexts(); });
  }
}

DedupStore::~DedupStore() {
  queue_.reset();  // finishes the background work, which drops the queue's references
  for (auto& shard : shards_) {
    MutexLock lock(shard->mu);
    ZSFS_CHECK_MSG(shard->stats.stored_refs == 0 && shard->stats.same_refs == 0,
                   "dedup store destroyed while blocks are still referenced");
    for (auto& chunk : shard->chunks)
      ZSFS_CHECK(chunk == nullptr);
    budget_->uncharge(shard->charged_bytes);
  }
}

DedupStore::Entry& DedupStore::entry(const Shard& shard,
                                     BlockRef ref) const ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  const uint32_t local = local_index_of(ref, kShardBits);
  const uint32_t chunk_number = local / kChunkEntries;
  ZSFS_CHECK_MSG(
      ref != kHole && chunk_number < shard.chunks.size() && shard.chunks[chunk_number] != nullptr,
      "BlockRef names no entry");
  Entry& e = shard.chunks[chunk_number]->entries[local % kChunkEntries];
  ZSFS_CHECK_MSG(e.refs > 0, "BlockRef names a free entry");
  return e;
}

int64_t DedupStore::coarse_nanoseconds() {
  // The coarse clock is a read of the vDSO's data page; the precise one reads the TSC, which
  // costs more than the rest of storing a loaded block. Whole seconds need no more than a tick.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

uint16_t DedupStore::clock_now() const {
  return static_cast<uint16_t>((coarse_nanoseconds() - epoch_) / 1'000'000'000);
}

namespace {

// A stored entry's payload enters (sign +1) or leaves (-1) a shard's statistics.
void count_payload(StoreStats& st, codec::Encoding encoding, uint32_t bytes, int sign) {
  EncodingStats& by = st.by_encoding[static_cast<unsigned>(encoding)];
  if (sign > 0) {
    st.stored_bytes += bytes;
    ++by.blocks;
    by.stored_bytes += bytes;
    if (encoding == codec::Encoding::kRaw) ++st.raw_blocks;
  } else {
    st.stored_bytes -= bytes;
    --by.blocks;
    by.stored_bytes -= bytes;
    if (encoding == codec::Encoding::kRaw) --st.raw_blocks;
  }
}

}  // namespace

void DedupStore::snapshot_locked(const Entry& e, Snapshot* out) const {
  out->format = e.format();
  out->size = e.stored_bytes;
  out->dict = dicts_->pin(e.dict());
  out->backed = e.backed();
  out->location = e.location();
  if (!out->backed) pool_->read_bytes(e.handle(), std::span(out->payload.data(), e.stored_bytes));
}

bool DedupStore::holds_locked(const Entry& e, codec::Block data, std::span<const std::byte> payload,
                              Format format) const {
  // A twin in the backing file is not read under the lock: the block is stored again instead
  // (this race between two writers of one block is rare).
  if (e.backed()) return false;
  pool::ReadGuard guard = pool_->read(e.handle());
  const std::span<const std::byte> stored = guard.bytes();
  // The compressors are deterministic and decoding is a function of payload and dictionary:
  // equal payloads in one format mean equal blocks. Unequal ones prove nothing unless both are
  // raw (the same block may have been compressed at another level, or recompressed).
  if (e.format() == format && stored.size() == payload.size() &&
      std::memcmp(stored.data(), payload.data(), payload.size()) == 0) {
    return true;
  }
  if (e.encoding() == codec::Encoding::kRaw) {
    return stored.size() == codec::kBlockSize &&
           std::memcmp(stored.data(), data.data(), codec::kBlockSize) == 0;
  }
  alignas(64) std::array<std::byte, codec::kBlockSize> decoded;
  // The entry holds a reference on its dictionary for as long as the lock is held.
  const codec::Dictionary* dict = e.dict() == kNoDict ? nullptr : dicts_->get(e.dict());
  return codec::decompress(e.encoding(), stored, decoded, dict).ok() &&
         std::memcmp(decoded.data(), data.data(), codec::kBlockSize) == 0;
}

Result<BlockRef> DedupStore::put(codec::Block data) {
  // With a backing file, a full budget moves cold blocks out and the block is tried again.
  return with_relief([&] { return put_once(data); });
}

Result<BlockRef> DedupStore::put_once(codec::Block data) {
  if (auto word = codec::same_filled_word(data)) return put_word(*word);
  codec::Fingerprint fp{};
  unsigned shard_index;
  if (dedup_) {
    fp = fingerprint_fn_(data);
    shard_index = static_cast<unsigned>(fp.high >> (64 - kShardBits));
    if (const BlockRef hit = find_equal(shard_index, fp.low, data); hit != kHole) return hit;
  } else {
    // Without dedup, spread entries over the shards by the calling thread.
    static std::atomic<unsigned> next_shard{0};
    thread_local unsigned my_shard = next_shard.fetch_add(1, std::memory_order_relaxed);
    shard_index = my_shard % kShards;
  }
  if (queue_ != nullptr && queue_->queued() < max_staged_) {
    // Keep the block raw and compress it in the background. If that cannot be had (the budget
    // has no page for the raw block), compress it here, which needs less.
    Result<BlockRef> staged = stage(shard_index, fp.low, data);
    if (staged.ok()) return staged;
  }
  return store_encoded(shard_index, fp.low, data);
}

BlockRef DedupStore::find_equal(unsigned shard_index, uint64_t key, codec::Block data) {
  Shard& shard = *shards_[shard_index];
  // Under the lock: pin the candidates (so that a hit stays valid) and copy their payloads
  // (which a background compression may replace once the lock is dropped). Outside it: compare.
  std::array<BlockRef, kMaxCandidates> refs;
  std::array<Snapshot, kMaxCandidates> snapshots;
  size_t count = 0;
  {
    MutexLock lock(shard.mu);
    shard.index.find(index_tag(key), [&](uint32_t id) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
      Entry& e = entry(shard, id);
      if (!e.same_filled() && e.refs < kMaxRefs) {
        ++e.refs;
        ++shard.stats.stored_refs;
        snapshot_locked(e, &snapshots[count]);
        refs[count++] = id;
      }
      return count == kMaxCandidates;
    });
  }
  BlockRef hit = kHole;
  for (size_t i = 0; i < count; ++i) {
    Snapshot& c = snapshots[i];
    if (hit == kHole && c.backed && !fetch_backed(refs[i], &c).ok()) {
      unref(refs[i]);
      continue;
    }
    if (hit == kHole) {
      bool equal;
      if (c.format.encoding == codec::Encoding::kRaw) {
        equal = std::memcmp(c.payload.data(), data.data(), codec::kBlockSize) == 0;
      } else {
        alignas(64) std::array<std::byte, codec::kBlockSize> decoded;
        equal = c.decode(decoded).ok() &&
                std::memcmp(decoded.data(), data.data(), codec::kBlockSize) == 0;
      }
      if (equal) {
        hit = refs[i];
        continue;
      }
    }
    unref(refs[i]);
  }
  return hit;
}

codec::Compressed DedupStore::compress(const codec::Compressor& compressor, codec::Block block,
                                       codec::MutableBlock out, DictionarySet::Pin* dict) const {
  if (compressor.config().algorithm == codec::Algorithm::kZstd) *dict = dicts_->current();
  codec::Compressed compressed = compressor.compress(block, out, dict->get());
  if (compressed.encoding != codec::Encoding::kZstd) dict->reset();
  return compressed;
}

Result<BlockRef> DedupStore::store_encoded(unsigned shard_index, uint64_t key, codec::Block data) {
  alignas(64) std::array<std::byte, codec::kBlockSize> encoded;
  DictionarySet::Pin dict;
  const codec::Compressed compressed = compress(compressor_, data, encoded, &dict);
  const std::span<const std::byte> payload(encoded.data(), compressed.size_bytes);
  bool fresh = false;
  return insert_payload(shard_index, key, data, payload, Format{compressed.encoding, dict.slot()},
                        false, &fresh);
}

Result<BlockRef> DedupStore::stage(unsigned shard_index, uint64_t key, codec::Block data) {
  bool fresh = false;
  Result<BlockRef> ref = insert_payload(shard_index, key, data, data,
                                        Format{codec::Encoding::kRaw, kNoDict}, true, &fresh);
  // A fresh entry holds a second reference, for the queue; a twin found instead is shared as
  // it is.
  if (ref.ok() && fresh && !queue_->try_push(*ref)) {
    encode_staged(*ref);  // full after all: compress it now
  }
  return ref;
}

Result<BlockRef> DedupStore::insert_payload(unsigned shard_index, uint64_t key, codec::Block data,
                                            std::span<const std::byte> payload, Format format,
                                            bool staged, bool* fresh) {
  Result<pool::Handle> handle = pool_->store(payload);
  if (!handle.ok()) return Errno{handle.error()};

  Shard& shard = *shards_[shard_index];
  Result<BlockRef> result = Errno{EIO};
  bool keep_handle = false;
  {
    MutexLock lock(shard.mu);
    BlockRef twin = kHole;
    if (dedup_) {
      // Another thread may have stored the same block since find_equal(), raw or compressed.
      twin = shard.index.find(index_tag(key), [&](uint32_t id) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
        const Entry& e = entry(shard, id);
        return !e.same_filled() && e.refs < kMaxRefs && holds_locked(e, data, payload, format);
      });
    }
    if (twin != kHole) {
      ++entry(shard, twin).refs;
      ++shard.stats.stored_refs;
      result = twin;
    } else {
      result = insert_locked(shard, shard_index, index_tag(key), dedup_, *handle, format,
                             static_cast<uint32_t>(payload.size()));
      keep_handle = result.ok();
      *fresh = keep_handle;
      if (keep_handle && staged) {
        Entry& e = entry(shard, *result);
        e.set_flag(kStaged);
        ++e.refs;  // the queue's
        ++shard.stats.stored_refs;
        ++shard.stats.staged_blocks;
      }
    }
  }
  if (!keep_handle) pool_->free(*handle);
  return result;
}

bool DedupStore::swap_payload(BlockRef ref, pool::Handle old_handle, pool::Handle new_handle,
                              Format format, uint32_t new_bytes) {
  Shard& shard = *shards_[shard_of_ref(ref)];
  MutexLock lock(shard.mu);
  Entry& e = entry(shard, ref);
  if (e.handle() != old_handle) return false;
  const Format old = e.format();
  count_payload(shard.stats, old.encoding, e.stored_bytes, -1);
  count_payload(shard.stats, format.encoding, new_bytes, +1);
  // The new dictionary first: the caller pins it, and the old one may be freed by the drop.
  dicts_->add_block(format.dict, new_bytes);
  dicts_->drop_block(old.dict, e.stored_bytes);
  e.set_value(new_handle);
  e.set_format(format);
  e.stored_bytes = static_cast<uint16_t>(new_bytes) & 0x1fffu;
  return true;
}

void DedupStore::encode_staged(BlockRef ref) {
  Shard& shard = *shards_[shard_of_ref(ref)];
  pool::Handle raw;
  {
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    ZSFS_CHECK_MSG(e.staged(), "compressing a block that is not staged");
    // When the queue's reference is the last one, the block is gone already: skip the work.
    raw = e.refs > 1 ? e.handle() : pool::kNullHandle;
  }
  pool::Handle compressed = pool::kNullHandle;
  if (raw != pool::kNullHandle) {
    // Reading outside the lock is safe: only this function replaces a staged entry's payload
    // (the recompressor leaves staged entries alone), once, and the queue's reference keeps the
    // entry.
    alignas(64) std::array<std::byte, codec::kBlockSize> block;
    alignas(64) std::array<std::byte, codec::kBlockSize> encoded;
    pool_->read_bytes(raw, block);
    DictionarySet::Pin dict;
    const codec::Compressed result = compress(background_compressor_, block, encoded, &dict);
    if (result.encoding != codec::Encoding::kRaw) {
      // Failing to get memory for the smaller copy only leaves the block raw.
      Result<pool::Handle> handle = pool_->store(std::span(encoded.data(), result.size_bytes));
      if (handle.ok()) {
        const bool swapped = swap_payload(ref, raw, *handle, Format{result.encoding, dict.slot()},
                                          static_cast<uint32_t>(result.size_bytes));
        ZSFS_CHECK_MSG(swapped, "a staged block's payload changed under the background");
        compressed = *handle;
      }
    }
  }
  {
    MutexLock lock(shard.mu);
    entry(shard, ref).clear_flag(kStaged);
    --shard.stats.staged_blocks;
  }
  if (compressed != pool::kNullHandle) pool_->free(raw);
  unref(ref);  // the queue's reference
}

Result<BlockRef> DedupStore::put_word(uint64_t word) {
  const uint64_t hash = mix64(word);
  const unsigned shard_index = static_cast<unsigned>(hash >> (64 - kShardBits));
  Shard& shard = *shards_[shard_index];
  MutexLock lock(shard.mu);
  const BlockRef found =
      shard.index.find(index_tag(hash), [&](uint32_t id) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
        const Entry& e = entry(shard, id);
        return e.same_filled() && e.word() == word && e.refs < kMaxRefs;
      });
  if (found != kHole) {
    ++entry(shard, found).refs;
    ++shard.stats.same_refs;
    return found;
  }
  return insert_locked(shard, shard_index, index_tag(hash), true, word,
                       Format{codec::Encoding::kSameFilled, kNoDict}, 0);
}

Result<BlockRef> DedupStore::insert_locked(Shard& shard, unsigned shard_index, uint32_t tag,
                                           bool indexed, uint64_t value, Format format,
                                           uint32_t stored_bytes) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  // Find a chunk with a free slot, or make one.
  uint32_t chunk_number;
  if (!shard.partial.empty()) {
    chunk_number = shard.partial.back();
  } else {
    const bool reuse_number = !shard.free_chunk_numbers.empty();
    chunk_number =
        reuse_number ? shard.free_chunk_numbers.back() : static_cast<uint32_t>(shard.chunks.size());
    if ((uint64_t{chunk_number} + 1) * kChunkEntries > kMaxLocalEntries) return Errno{ENOSPC};
    if (!budget_->try_charge(sizeof(Chunk))) return Errno{ENOSPC};
    auto chunk = std::unique_ptr<Chunk>(new (std::nothrow) Chunk);
    if (!chunk) {
      budget_->uncharge(sizeof(Chunk));
      return Errno{ENOMEM};
    }
    shard.charged_bytes += sizeof(Chunk);
    if (reuse_number) {
      shard.free_chunk_numbers.pop_back();
      shard.chunks[chunk_number] = std::move(chunk);
    } else {
      shard.chunks.push_back(std::move(chunk));
    }
    Chunk& c = *shard.chunks[chunk_number];
    c.partial_pos = static_cast<uint32_t>(shard.partial.size());
    shard.partial.push_back(chunk_number);
  }
  Chunk& chunk = *shard.chunks[chunk_number];
  uint32_t slot;
  if (chunk.free_head != kNoSlot) {
    slot = chunk.free_head;
    chunk.free_head = chunk.entries[slot].tag;
  } else {
    slot = chunk.fresh++;
  }
  ++chunk.live;
  if (chunk.live == kChunkEntries) {
    // Full: leave the partial list (swap-remove).
    const uint32_t pos = chunk.partial_pos;
    const uint32_t last = shard.partial.back();
    shard.partial[pos] = last;
    shard.chunks[last]->partial_pos = pos;
    shard.partial.pop_back();
    chunk.partial_pos = kNoSlot;
  }
  const BlockRef ref = ((chunk_number * kChunkEntries + slot + 1) << kShardBits) |
                       static_cast<BlockRef>(shard_index);
  Entry& e = chunk.entries[slot];
  e = Entry{};
  e.tag = tag;
  e.refs = 1;
  e.set_value(value);
  e.stored_bytes = static_cast<uint16_t>(stored_bytes) & 0x1fffu;
  e.set_format(format);
  e.set_born(clock_now());
  if (indexed) e.set_flag(kIndexed);

  if (indexed) {
    Status inserted = shard.index.insert(tag, ref);
    if (!inserted.ok()) {
      e.flags = 0;
      free_entry_locked(shard, ref);
      return Errno{inserted.error()};
    }
  }
  if (format.encoding == codec::Encoding::kSameFilled) {
    ++shard.stats.same_entries;
    ++shard.stats.same_refs;
  } else {
    ++shard.stats.stored_blocks;
    ++shard.stats.stored_refs;
    ++shard.stats.unsettled_blocks;
    count_payload(shard.stats, format.encoding, stored_bytes, +1);
    dicts_->add_block(format.dict, stored_bytes);
  }
  return ref;
}

void DedupStore::free_entry_locked(Shard& shard, BlockRef ref) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  const uint32_t local = local_index_of(ref, kShardBits);
  const uint32_t chunk_number = local / kChunkEntries;
  const uint32_t slot = local % kChunkEntries;
  Chunk& chunk = *shard.chunks[chunk_number];
  Entry& e = chunk.entries[slot];
  e = Entry{};
  e.tag = chunk.free_head;
  chunk.free_head = slot;
  if (chunk.partial_pos == kNoSlot) {
    chunk.partial_pos = static_cast<uint32_t>(shard.partial.size());
    shard.partial.push_back(chunk_number);
  }
  if (--chunk.live == 0) {
    // Give the empty chunk back.
    const uint32_t pos = chunk.partial_pos;
    const uint32_t last = shard.partial.back();
    shard.partial[pos] = last;
    shard.chunks[last]->partial_pos = pos;
    shard.partial.pop_back();
    shard.chunks[chunk_number].reset();
    budget_->uncharge(sizeof(Chunk));
    shard.charged_bytes -= sizeof(Chunk);
    if (chunk_number + 1 == shard.chunks.size()) {
      shard.chunks.pop_back();
      // Trailing freed numbers need no reuse list entry.
      while (!shard.chunks.empty() && shard.chunks.back() == nullptr)
        shard.chunks.pop_back();
      std::erase_if(shard.free_chunk_numbers, [&](uint32_t n) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
        return n >= shard.chunks.size();
      });
    } else {
      shard.free_chunk_numbers.push_back(chunk_number);
    }
  }
}

void DedupStore::settle() {
  if (queue_ != nullptr) queue_->drain();
}

bool DedupStore::try_ref(BlockRef ref) {
  if (ref == kUnwritten) return true;
  Shard& shard = *shards_[shard_of_ref(ref)];
  MutexLock lock(shard.mu);
  Entry& e = entry(shard, ref);
  if (e.refs >= kMaxRefs) return false;
  ++e.refs;
  if (e.same_filled()) {
    ++shard.stats.same_refs;
  } else {
    ++shard.stats.stored_refs;
  }
  return true;
}

void DedupStore::unref(BlockRef ref) {
  if (ref == kUnwritten) return;
  Shard& shard = *shards_[shard_of_ref(ref)];
  pool::Handle to_free = pool::kNullHandle;
  {
    MutexLock lock(shard.mu);
    Entry& e = entry(shard, ref);
    const bool same = e.same_filled();
    --(same ? shard.stats.same_refs : shard.stats.stored_refs);
    if (--e.refs > 0) return;
    if (e.indexed()) shard.index.erase(e.tag, ref);
    if (same) {
      --shard.stats.same_entries;
    } else {
      --shard.stats.stored_blocks;
      if (!e.settled()) --shard.stats.unsettled_blocks;
      count_payload(shard.stats, e.encoding(), e.stored_bytes, -1);
      dicts_->drop_block(e.dict(), e.stored_bytes);
      if (e.backed()) {
        backing_->free(e.location(), e.stored_bytes);
        --shard.stats.backed_blocks;
        shard.stats.backed_bytes -= e.stored_bytes;
      }
    }
    to_free = e.handle();
    free_entry_locked(shard, ref);
  }
  if (to_free != pool::kNullHandle) pool_->free(to_free);
}

Status DedupStore::read(BlockRef ref, codec::MutableBlock out) const {
  if (ref == kUnwritten) {
    codec::fill_block(0, out);
    return {};
  }
  const Shard& shard = *shards_[shard_of_ref(ref)];
  // The payload is copied under the lock, since a background compression may replace it as
  // soon as the lock is dropped; a raw block is copied straight into out.
  Snapshot snapshot;
  {
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    if (e.same_filled()) {
      codec::fill_block(e.word(), out);
      return {};
    }
    if (e.backed()) {
      snapshot_locked(e, &snapshot);
    } else if (pool_->object_size(e.handle()) != e.stored_bytes) {
      log(LogLevel::kError, "corrupt block: ref %u has %u stored bytes, its pool object %zu", ref,
          unsigned{e.stored_bytes}, pool_->object_size(e.handle()));
      return Errno{EIO};
    } else if (e.encoding() == codec::Encoding::kRaw) {
      if (e.stored_bytes != codec::kBlockSize) return Errno{EIO};
      pool_->read_bytes(e.handle(), out);
      return {};
    } else {
      snapshot_locked(e, &snapshot);
    }
  }
  if (snapshot.backed) {
    // Read from the backing file (and checked there), outside the lock.
    const uint64_t location = snapshot.location;
    ZSFS_TRY_STATUS(fetch_backed(ref, &snapshot));
    if (promote_ && snapshot.backed && snapshot.location == location) promote(ref, snapshot);
  }
  Status decoded = snapshot.decode(out);
  if (!decoded.ok()) {
    log(LogLevel::kError, "corrupt block: ref %u, %s, dictionary slot %u, %u stored bytes", ref,
        std::string(codec::to_string(snapshot.format.encoding)).c_str(),
        unsigned{snapshot.format.dict}, snapshot.size);
    return Errno{EIO};
  }
  return {};
}

BlockInfo DedupStore::info(BlockRef ref) const {
  if (ref == kUnwritten) {
    return BlockInfo{codec::Encoding::kSameFilled, kNoDict, 0, 0, pool::kNullHandle, false};
  }
  const Shard& shard = *shards_[shard_of_ref(ref)];
  MutexLock lock(shard.mu);
  return entry(shard, ref).info();
}

StoreStats DedupStore::stats() const {
  StoreStats total;
  for (const auto& shard_ptr : shards_) {
    const Shard& shard = *shard_ptr;
    MutexLock lock(shard.mu);
    const StoreStats& s = shard.stats;
    total.stored_blocks += s.stored_blocks;
    total.stored_bytes += s.stored_bytes;
    total.raw_blocks += s.raw_blocks;
    total.stored_refs += s.stored_refs - s.staged_blocks;  // the queue's references left out
    total.same_entries += s.same_entries;
    total.same_refs += s.same_refs;
    total.staged_blocks += s.staged_blocks;
    total.unsettled_blocks += s.unsettled_blocks;
    total.backed_blocks += s.backed_blocks;
    total.backed_bytes += s.backed_bytes;
    total.promoted_blocks += s.promoted_blocks;
    for (size_t i = 0; i < total.by_encoding.size(); ++i) {
      total.by_encoding[i].blocks += s.by_encoding[i].blocks;
      total.by_encoding[i].stored_bytes += s.by_encoding[i].stored_bytes;
    }
  }
  return total;
}

uint64_t DedupStore::memory_bytes() const {
  uint64_t bytes = 0;
  for (const auto& shard : shards_) {
    MutexLock lock(shard->mu);
    bytes += shard->charged_bytes + shard->index.memory_bytes();
  }
  return bytes;
}

void DedupStore::for_each(const std::function<void(BlockRef, const BlockInfo&)>& fn) const {
  for (unsigned s = 0; s < kShards; ++s) {
    const Shard& shard = *shards_[s];
    MutexLock lock(shard.mu);
    for (uint32_t n = 0; n < shard.chunks.size(); ++n) {
      const Chunk* chunk = shard.chunks[n].get();
      if (chunk == nullptr) continue;
      for (uint32_t slot = 0; slot < chunk->fresh; ++slot) {
        const Entry& e = chunk->entries[slot];
        if (e.refs == 0) continue;
        const BlockRef ref = ((n * kChunkEntries + slot + 1) << kShardBits) | s;
        fn(ref, e.info());
      }
    }
  }
}

std::string DedupStore::check() const {
  std::array<uint64_t, kMaxDictSlots + 1> dict_blocks{};
  for (unsigned s = 0; s < kShards; ++s) {
    const Shard& shard = *shards_[s];
    MutexLock lock(shard.mu);
    StoreStats counted;
    size_t indexed = 0;
    uint64_t chunk_bytes = 0;
    std::string problem;
    auto fail = [&](const std::string& what) {
      if (problem.empty()) problem = "dedup shard " + std::to_string(s) + ": " + what;
    };
    for (uint32_t n = 0; n < shard.chunks.size(); ++n) {
      const Chunk* chunk = shard.chunks[n].get();
      if (chunk == nullptr) continue;
      chunk_bytes += sizeof(Chunk);
      uint32_t live = 0;
      for (uint32_t slot = 0; slot < chunk->fresh; ++slot) {
        const Entry& e = chunk->entries[slot];
        if (e.refs == 0) continue;
        ++live;
        const BlockRef ref = ((n * kChunkEntries + slot + 1) << kShardBits) | s;
        const Format format = e.format();
        if (format.encoding == codec::Encoding::kSameFilled) {
          ++counted.same_entries;
          counted.same_refs += e.refs;
          if (format.dict != kNoDict) fail("same-filled entry names a dictionary");
        } else {
          ++counted.stored_blocks;
          counted.stored_refs += e.refs;
          if (!e.settled()) ++counted.unsettled_blocks;
          count_payload(counted, format.encoding, e.stored_bytes, +1);
          if (format.dict != kNoDict) {
            if (format.encoding != codec::Encoding::kZstd)
              fail("non-zstd entry names a dictionary");
            ++dict_blocks[format.dict];
          }
          if (e.backed()) {
            ++counted.backed_blocks;
            counted.backed_bytes += e.stored_bytes;
            if (backing_ == nullptr || !backing_->allocated(e.location(), e.stored_bytes)) {
              fail("backed entry whose record is not allocated in the backing file");
            }
            if (e.staged()) fail("staged entry in the backing file");
          } else if (e.handle() == pool::kNullHandle) {
            fail("stored entry without a pool object");
          } else if (pool_->object_size(e.handle()) != e.stored_bytes) {
            fail("entry size differs from its pool object's size");
          }
        }
        if (e.staged()) ++counted.staged_blocks;
        if (e.indexed()) {
          ++indexed;
          if (shard.index.find(e.tag, [&](uint32_t id) { return id == ref; }) != ref) {
            fail("indexed entry missing from the index");
          }
        }
      }
      if (live != chunk->live) fail("chunk live count wrong");
      if (live == 0) fail("empty chunk kept");
      if ((chunk->partial_pos == kNoSlot) != (live == kChunkEntries)) {
        fail("chunk's place on the partial list wrong");
      }
    }
    if (indexed != shard.index.size()) fail("index holds entries that are not live");
    if (chunk_bytes != shard.charged_bytes) fail("charged bytes differ from the chunks held");
    const StoreStats& st = shard.stats;
    if (counted.staged_blocks != st.staged_blocks) fail("staged counter differs from the entries");
    bool by_encoding_equal = true;
    for (size_t i = 0; i < st.by_encoding.size(); ++i) {
      by_encoding_equal = by_encoding_equal &&
                          counted.by_encoding[i].blocks == st.by_encoding[i].blocks &&
                          counted.by_encoding[i].stored_bytes == st.by_encoding[i].stored_bytes;
    }
    if (counted.stored_blocks != st.stored_blocks || counted.stored_bytes != st.stored_bytes ||
        counted.raw_blocks != st.raw_blocks || counted.stored_refs != st.stored_refs ||
        counted.same_entries != st.same_entries || counted.same_refs != st.same_refs ||
        counted.unsettled_blocks != st.unsettled_blocks || !by_encoding_equal ||
        counted.backed_blocks != st.backed_blocks || counted.backed_bytes != st.backed_bytes) {
      fail("counters differ from the entries");
    }
    if (!problem.empty()) return problem;
  }
  return dicts_->check(dict_blocks);
}

}  // namespace zsfs::fs
