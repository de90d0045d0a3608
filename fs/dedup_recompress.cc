// The dedup store's side of recompression (fs/recompressor.h): which stored blocks are due (by
// age, kind, and a sampling stride for training; those settled without the newest dictionary,
// for a sweep; every stored one, for training samples), keeping the entries' 16-bit clocks from
// wrapping, and re-encoding one block, kept only when the pool holds it in a smaller object.
// The entries, their locks and the rest of the store are dedup_store.cc's; see dedup_store.h for
// the contract and dedup_store_layout.h for the entry layout the files share.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "base/check.h"
#include "base/log.h"
#include "fs/dedup_store.h"
#include "fs/dedup_store_layout.h"

namespace zsfs::fs {

bool DedupStore::due(const Entry& e, const DueFilter& filter, uint16_t age) {
  if (e.refs >= kMaxRefs) return false;
  if (filter.stored) return e.compressible();
  if (e.settled()) return filter.redo_for != kNoDict && e.redoable_for(filter.redo_for);
  const auto idle = std::min<uint64_t>(static_cast<uint64_t>(filter.idle.count()),
                                       static_cast<uint64_t>(kMaxAge.count()));
  if (age < idle) return false;
  return !filter.huge_only || e.encoding() == codec::Encoding::kRaw;
}

bool DedupStore::collect_due(unsigned shard_index, uint32_t* cursor, const DueFilter& filter,
                             std::vector<BlockRef>* out) {
  const uint16_t now = clock_now();
  const auto max_age = static_cast<uint16_t>(kMaxAge.count());
  const uint32_t every = std::max<uint32_t>(filter.every, 1);
  uint32_t skipped = 0;
  return collect(shard_index, cursor, out, [&](Entry& e) {
    // Ages are differences of the 16-bit clock, exact while below 2^16 seconds; an unsettled
    // entry found older than kMaxAge is restamped at exactly kMaxAge, so that it never wraps to
    // young.
    uint16_t age = static_cast<uint16_t>(now - e.born());
    if (!e.settled() && age > max_age) {
      e.set_born(static_cast<uint16_t>(now - max_age));
      age = max_age;
    }
    if (!due(e, filter, age) || ++skipped < every) return false;
    skipped = 0;
    return true;
  });
}

void DedupStore::clamp_clocks() {
  const uint16_t now = clock_now();
  const auto max_age = static_cast<uint16_t>(kMaxAge.count());
  for (auto& shard_ptr : shards_) {
    Shard& shard = *shard_ptr;
    MutexLock lock(shard.mu);
    for (auto& chunk : shard.chunks) {
      if (chunk == nullptr) continue;
      for (uint32_t slot = 0; slot < chunk->fresh; ++slot) {
        Entry& e = chunk->entries[slot];
        if (e.refs == 0 || e.same_filled() || e.settled()) continue;
        if (static_cast<uint16_t>(now - e.born()) > max_age) {
          e.set_born(static_cast<uint16_t>(now - max_age));
        }
      }
    }
  }
}

uint64_t DedupStore::count_due(const DueFilter& filter) const {
  const uint16_t now = clock_now();
  const auto max_age = static_cast<uint16_t>(kMaxAge.count());
  uint64_t count = 0;
  for (const auto& shard_ptr : shards_) {
    const Shard& shard = *shard_ptr;
    MutexLock lock(shard.mu);
    for (const auto& chunk : shard.chunks) {
      if (chunk == nullptr) continue;
      for (uint32_t slot = 0; slot < chunk->fresh; ++slot) {
        const Entry& e = chunk->entries[slot];
        if (e.refs == 0 || e.same_filled() || e.staged() || e.backed()) continue;
        count += due(e, filter, std::min(static_cast<uint16_t>(now - e.born()), max_age));
      }
    }
  }
  return count;
}

Reencoded DedupStore::reencode(BlockRef ref, const codec::Compressor& compressor,
                               const DictionarySet::Pin& dict, bool measure_without_dict) {
  Shard& shard = *shards_[shard_of_ref(ref)];
  Reencoded result;
  Snapshot snapshot;
  pool::Handle old_handle;
  bool drains = false;
  {
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    ZSFS_CHECK_MSG(!e.staged() && !e.same_filled(), "re-encoding a block that is not stored");
    // The background pass and a writer that needs room (direct recompression) may both have
    // picked this entry: the first to get here does the work. A settled entry is done again
    // only to give it a newer dictionary.
    if (e.settled() && !(dict.slot() != kNoDict && e.redoable_for(dict.slot()))) return result;
    result.redone = e.settled();
    // Moving it lets a replaced dictionary go: a form no larger will do.
    drains = e.settled() && e.dict() != kNoDict;
    // Moved to the backing file since it was collected: cold blocks stay as they are there.
    if (e.backed()) return result;
    old_handle = e.handle();
    snapshot_locked(e, &snapshot);
  }
  result.old_encoding = snapshot.format.encoding;
  result.old_bytes = snapshot.size;
  auto settle_entry = [&] {
    MutexLock lock(shard.mu);
    Entry& e = entry(shard, ref);
    if (!e.settled()) {
      e.set_flag(kSettled);
      --shard.stats.unsettled_blocks;
    }
  };

  alignas(64) std::array<std::byte, codec::kBlockSize> block;
  alignas(64) std::array<std::byte, codec::kBlockSize> encoded;
  if (snapshot.format.encoding == codec::Encoding::kRaw) {
    std::memcpy(block.data(), snapshot.payload.data(), codec::kBlockSize);
  } else if (Status decoded = snapshot.decode(block); !decoded.ok()) {
    log(LogLevel::kError, "corrupt block: ref %u, %s, %u stored bytes: not recompressed", ref,
        std::string(codec::to_string(snapshot.format.encoding)).c_str(), snapshot.size);
    result.outcome = Reencoded::Outcome::kFailed;
    settle_entry();
    return result;
  }
  if (measure_without_dict) {
    result.bytes_without_dict =
        static_cast<uint32_t>(compressor.compress(block, encoded).size_bytes);
  }
  const codec::Compressed compressed = compressor.compress(block, encoded, dict.get());
  result.new_encoding = compressed.encoding;
  result.new_bytes = static_cast<uint32_t>(compressed.size_bytes);
  // Worth it only when the pool keeps the new payload in a smaller object: a payload a few bytes
  // shorter in the same size class saves nothing and decodes more slowly.
  const Format format{compressed.encoding,
                      compressed.encoding == codec::Encoding::kZstd ? dict.slot() : kNoDict};
  const pool::SizeClassTable& classes = pool_->class_table();
  const size_t new_class = classes.class_for_size(compressed.size_bytes).size_bytes;
  const size_t old_class = classes.class_for_size(snapshot.size).size_bytes;
  if (new_class > old_class || (new_class == old_class && !(drains && format.dict != kNoDict))) {
    settle_entry();
    return result;
  }
  Result<pool::Handle> handle = pool_->store(std::span(encoded.data(), compressed.size_bytes));
  if (!handle.ok()) {
    result.outcome = Reencoded::Outcome::kFailed;
    return result;  // left unsettled: tried again later, when memory may be there
  }
  if (!swap_payload(ref, old_handle, *handle, format, result.new_bytes)) {
    // Another re-encoding of the same entry got there first, or writeback moved the payload to
    // the backing file meanwhile (and it stays there).
    pool_->free(*handle);
    return result;
  }
  settle_entry();
  pool_->free(old_handle);
  result.outcome = Reencoded::Outcome::kSmaller;
  return result;
}

}  // namespace zsfs::fs
