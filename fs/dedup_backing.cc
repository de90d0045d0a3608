// The dedup store's cold blocks: payloads moved out of the pool into the backing file
// (disk/backing_file.h), read back from it, and brought back into the pool by a read (promote).
// The entries, their locks and the rest of the store are dedup_store.cc's; see dedup_store.h for
// the contract and dedup_store_layout.h for the entry layout both files share.
#include <algorithm>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/log.h"
#include "fs/dedup_store.h"
#include "fs/dedup_store_layout.h"

namespace zsfs::fs {

void DedupStore::attach_backing(disk::BackingFile* backing, std::function<bool()> relieve,
                                bool promote, uint64_t promote_headroom_bytes) {
  backing_ = backing;
  relieve_ = std::move(relieve);
  promote_ = promote;
  promote_headroom_bytes_ = promote_headroom_bytes;
}

bool DedupStore::collect_resident(unsigned shard_index, uint32_t* cursor, const DueFilter& filter,
                                  std::vector<BlockRef>* out) {
  const uint16_t now = clock_now();
  const auto max_age = static_cast<uint16_t>(kMaxAge.count());
  const uint64_t idle = std::min<uint64_t>(static_cast<uint64_t>(filter.idle.count()), max_age);
  return collect(shard_index, cursor, out, [&](const Entry& e) {
    if (e.refs >= kMaxRefs) return false;
    if (std::min(static_cast<uint16_t>(now - e.born()), max_age) < idle) return false;
    return !filter.huge_only || e.encoding() == codec::Encoding::kRaw;
  });
}

MovedToBacking DedupStore::move_to_backing(std::span<const BlockRef> refs) {
  ZSFS_CHECK_MSG(backing_ != nullptr, "no backing file");
  MovedToBacking result;
  // The payloads, copied out under their shard locks, go out in one write...
  struct Moving {
    BlockRef ref;
    pool::Handle handle;
  };
  std::vector<Moving> moving;
  std::vector<disk::BackingFile::Record> records;
  auto payloads = std::make_unique_for_overwrite<std::byte[]>(refs.size() * codec::kBlockSize);
  moving.reserve(refs.size());
  records.reserve(refs.size());
  for (BlockRef ref : refs) {
    Shard& shard = *shards_[shard_of_ref(ref)];
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    if (e.same_filled() || e.backed() || e.staged()) continue;
    std::byte* at = payloads.get() + moving.size() * codec::kBlockSize;
    pool_->read_bytes(e.handle(), std::span(at, e.stored_bytes));
    records.push_back(disk::BackingFile::Record{std::span(at, e.stored_bytes), ref, 0});
    moving.push_back(Moving{ref, e.handle()});
  }
  if (records.empty()) return result;
  result.problem = backing_->write(records);
  if (result.problem) return result;
  // ...then each entry that still holds the payload copied names its record instead.
  std::vector<pool::Handle> to_free;
  to_free.reserve(moving.size());
  for (size_t i = 0; i < moving.size(); ++i) {
    Shard& shard = *shards_[shard_of_ref(moving[i].ref)];
    MutexLock lock(shard.mu);
    Entry& e = entry(shard, moving[i].ref);
    if (e.handle() != moving[i].handle) {
      backing_->free(records[i].location, static_cast<uint32_t>(records[i].payload.size()));
      continue;
    }
    e.set_value(kBackedBit | records[i].location);
    ++shard.stats.backed_blocks;
    shard.stats.backed_bytes += e.stored_bytes;
    to_free.push_back(moving[i].handle);
    ++result.blocks;
    result.bytes += e.stored_bytes;
  }
  for (pool::Handle handle : to_free)
    pool_->free(handle);
  return result;
}

Status DedupStore::fetch_backed(BlockRef ref, Snapshot* snapshot) const {
  const Shard& shard = *shards_[shard_of_ref(ref)];
  for (int attempt = 1; snapshot->backed; ++attempt) {
    disk::Problem p = backing_->read(snapshot->location, snapshot->size, ref,
                                     std::span(snapshot->payload.data(), snapshot->size));
    if (!p) return {};
    MutexLock lock(shard.mu);
    const Entry& e = entry(shard, ref);
    const bool moved = !e.backed() || e.location() != snapshot->location;
    if (!moved || attempt == kBackedReadTries) {
      log(LogLevel::kError, "corrupt block: ref %u: %s", ref, p.message.c_str());
      return Errno{p.error};
    }
    snapshot_locked(e, snapshot);  // moved meanwhile (promoted, or moved again): read it anew
  }
  return {};
}

void DedupStore::promote(BlockRef ref, const Snapshot& snapshot) const {
  if (budget_->available_bytes() < promote_headroom_bytes_ + codec::kBlockSize) return;
  Result<pool::Handle> handle = pool_->store(snapshot.bytes());
  if (!handle.ok()) return;
  Shard& shard = *shards_[shard_of_ref(ref)];
  bool promoted = false;
  {
    MutexLock lock(shard.mu);
    Entry& e = entry(shard, ref);
    if (e.backed() && e.location() == snapshot.location) {
      backing_->free(e.location(), e.stored_bytes);
      e.set_value(*handle);
      --shard.stats.backed_blocks;
      shard.stats.backed_bytes -= e.stored_bytes;
      ++shard.stats.promoted_blocks;
      promoted = true;
    }
  }
  if (!promoted) pool_->free(*handle);
}

}  // namespace zsfs::fs
