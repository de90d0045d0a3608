// The dedup store's side of images (fs/image_save.cc, fs/image_load.cc): pinning the blocks a
// save will write, copying each one out as it is stored (compressed, with its format and index
// tag), and storing it back as it was at the next load, in the shard its id names. The entries,
// their locks and the rest of the store are dedup_store.cc's; see dedup_store.h for the contract
// and dedup_store_layout.h for the entry layout the files share.
#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "fs/dedup_store.h"
#include "fs/dedup_store_layout.h"

namespace zsfs::fs {

void DedupStore::pin(BlockRef ref) {
  Shard& shard = *shards_[shard_of_ref(ref)];
  MutexLock lock(shard.mu);
  Entry& e = entry(shard, ref);
  ZSFS_CHECK_MSG(e.refs < (1u << kRefBits) - 1, "too many pins on one block");
  ++e.refs;
  ++(e.same_filled() ? shard.stats.same_refs : shard.stats.stored_refs);
}

Status DedupStore::export_block(BlockRef ref, StoredBlock* out, codec::MutableBlock payload,
                                DictionarySet::Pin* dict) const {
  const Shard& shard = *shards_[shard_of_ref(ref)];
  Snapshot snapshot;  // a backed block's only
  {
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    out->settled = e.settled();
    out->indexed = e.indexed();
    out->index_tag = e.tag;
    out->encoding = e.encoding();
    out->dict = e.dict();
    out->word = e.same_filled() ? e.word() : 0;
    out->size = e.same_filled() ? 0 : e.stored_bytes;
    if (!e.backed()) {
      // In the pool: straight into the caller's buffer.
      *dict = dicts_->pin(e.dict());
      if (!e.same_filled()) pool_->read_bytes(e.handle(), payload.first(out->size));
      return {};
    }
    snapshot_locked(e, &snapshot);
  }
  ZSFS_TRY_STATUS(fetch_backed(ref, &snapshot));
  // Fetching may have found the block moved back into the pool: its format may differ.
  out->encoding = snapshot.format.encoding;
  out->dict = snapshot.format.dict;
  out->size = snapshot.size;
  std::memcpy(payload.data(), snapshot.payload.data(), snapshot.size);
  *dict = std::move(snapshot.dict);
  return {};
}

Result<BlockRef> DedupStore::import_block(unsigned shard_index, const StoredBlock& block,
                                          std::span<const std::byte> payload) {
  // With a backing file, an image larger than the budget goes on into the file. As for put(),
  // whichever part ran out (the pool object, or the entry's chunk or the index growing) is tried
  // again.
  return with_relief([&] { return import_once(shard_index, block, payload); });
}

Result<BlockRef> DedupStore::import_once(unsigned shard_index, const StoredBlock& block,
                                         std::span<const std::byte> payload) {
  ZSFS_CHECK(shard_index < kShards);
  if (block.encoding == codec::Encoding::kSameFilled) return put_word(block.word);
  ZSFS_CHECK(block.size >= 1 && block.size <= codec::kBlockSize && payload.size() == block.size);
  Result<pool::Handle> handle = pool_->store(payload);
  if (!handle.ok()) return Errno{handle.error()};
  Shard& shard = *shards_[shard_index];
  Result<BlockRef> ref = Errno{EIO};
  {
    MutexLock lock(shard.mu);
    ref = insert_locked(shard, shard_index, block.index_tag, block.indexed, *handle,
                        Format{block.encoding, block.dict}, block.size);
    if (ref.ok() && block.settled) {
      entry(shard, *ref).set_flag(kSettled);
      --shard.stats.unsettled_blocks;
    }
  }
  if (!ref.ok()) pool_->free(*handle);
  return ref;
}

BlockRef DedupStore::ref_limit() const {
  uint64_t limit = 1;
  for (const auto& shard : shards_) {
    MutexLock lock(shard->mu);
    limit = std::max<uint64_t>(limit, (uint64_t{shard->chunks.size()} * kChunkEntries + 1)
                                          << kShardBits);
  }
  return static_cast<BlockRef>(std::min<uint64_t>(limit, kUnwritten));
}

}  // namespace zsfs::fs
