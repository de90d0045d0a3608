// The whole-filesystem family: statfs, statistics, compaction (on demand and in the
// background) and the consistency check.
#include <malloc.h>
#include <sys/stat.h>

#include <chrono>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/json.h"
#include "base/log.h"
#include "base/threads.h"
#include "fs/file_account.h"
#include "fs/filesystem_impl.h"
#include "fs/heap_trimmer.h"

namespace zsfs::fs {
namespace {

// The background compactor looks at the pool this often.
constexpr auto kCompactorPeriod = std::chrono::seconds(1);
// It compacts when the pool's unused bytes exceed both of these: an absolute floor, so a small
// pool is left alone, and a share of the pool, as fragmentation that is worth a pass.
constexpr uint64_t kCompactMinWasteBytes = 4 << 20;
constexpr uint64_t kCompactWasteShareDen = 8;  // 1/8 = 12.5% of the pool's pages

}  // namespace

double Stats::compression_ratio() const {
  return compr_data_size == 0 ? 0.0
                              : static_cast<double>(unique_blocks * kBlockSize) /
                                    static_cast<double>(compr_data_size);
}

Json Stats::encodings_json() const {
  Json json = Json::object();
  for (codec::Encoding encoding :
       {codec::Encoding::kRaw, codec::Encoding::kLz4, codec::Encoding::kZstd}) {
    const EncodingStats& e = encodings[static_cast<unsigned>(encoding)];
    json[std::string(codec::to_string(encoding))] = {
        {"blocks", e.blocks},
        {"stored_bytes", e.stored_bytes},
        {"data_bytes", e.blocks * kBlockSize},
    };
  }
  return json;
}

Json Stats::dictionaries_json() const {
  Json list = Json::array();
  uint64_t memory = 0;
  for (const DictionaryStats& d : dictionaries) {
    memory += d.memory_bytes;
    list.push_back({
        {"slot", d.slot},
        {"id", d.dict_id},
        {"size_bytes", d.size_bytes},
        {"memory_bytes", d.memory_bytes},
        {"blocks", d.blocks},
        {"stored_bytes", d.stored_bytes},
        {"data_bytes", d.blocks * kBlockSize},
        {"current", d.current},
    });
  }
  return {
      {"live", dictionaries.size()},
      {"installed", dictionaries_installed},
      {"memory_bytes", memory},
      {"list", list},
  };
}

Json Stats::recompressor_json() const {
  const RecompressorStats& r = recompressor;
  return {
      {"busy", r.busy},
      {"passes", r.passes},
      {"requests", r.requests},
      {"requests_done", r.requests_done},
      {"tried", r.tried},
      {"kept", r.kept},
      {"failed", r.failed},
      {"bytes_before", r.bytes_before},
      {"bytes_after", r.bytes_after},
      {"trainings", r.trainings},
      {"training_failures", r.training_failures},
      {"trainings_discarded", r.trainings_discarded},
      {"reclaims", r.reclaims},
      {"reclaimed_bytes", r.reclaimed_bytes},
      {"dict_gain", r.dict_gain},
      {"dict_gain_new", r.dict_gain_new},
      {"last_training_seconds", r.last_training_seconds},
      {"paced_waits", r.paced_waits},
      {"paced_seconds", r.paced_seconds},
  };
}

std::string Stats::to_json(std::span<const StatsSection> sections) const {
  Json json = {
      {"orig_data_size", orig_data_size},
      {"compr_data_size", compr_data_size},
      {"mem_used_total", mem_used_total},
      {"mem_limit", mem_limit},
      {"mem_used_max", mem_used_max},
      {"same_pages", same_pages},
      {"pages_compacted", pages_compacted},
      {"huge_pages", huge_pages},
      {"staged_blocks", staged_blocks},
      {"logical_bytes", logical_bytes},
      {"hole_bytes", hole_bytes},
      {"data_blocks", data_blocks},
      {"unique_blocks", unique_blocks},
      {"shared_refs", shared_refs},
      {"dedup_saved_bytes", dedup_saved_bytes},
      {"compression_ratio", compression_ratio()},
      {"inodes", inodes},
      {"inode_limit", inode_limit},
      {"pool_pages", pool_pages},
      {"pool_efficiency", pool_efficiency},
      {"metadata_bytes", metadata_bytes},
      {"inode_bytes", inode_bytes},
      {"block_map_bytes", block_map_bytes},
      {"dedup_bytes", dedup_bytes},
      {"pool_metadata_bytes", pool_metadata_bytes},
      {"dictionary_bytes", dictionary_bytes},
      {"compactions", compactions},
      {"algorithm", algorithm},
      {"background_algorithm", background_algorithm},
      {"level", level},
      {"dedup", dedup},
      {"recompress", recompress},
      {"recompress_level", recompress_level},
      {"recompress_after", recompress_after},
      {"dict", dict},
      {"dict_size", dict_size},
      {"unsettled_blocks", unsettled_blocks},
      {"encodings", encodings_json()},
      {"dictionaries", dictionaries_json()},
      {"recompressor", recompressor_json()},
      {"pool", pool.to_json(false)},
  };
  for (const StatsSection& section : sections)
    json[section.key] = section.value();
  return to_json_text(json);
}

std::string FileStats::to_json() const {
  return to_json_text({
      {"ino", ino},
      {"directory", directory},
      {"files", files},
      {"logical_bytes", logical_bytes},
      {"data_blocks", data_blocks},
      {"same_blocks", same_blocks},
      {"stored_blocks", stored_blocks},
      {"stored_bytes", stored_bytes},
      {"shared_blocks", shared_blocks},
      {"hole_bytes", hole_bytes},
  });
}

StatFs Filesystem::Impl::statfs() {
  StatFs s;
  s.blocks = budget_.limit_bytes() / kBlockSize;
  // As ext4 counts its reserved blocks: free includes the budget's reserve (which only direct
  // recompression may use), available does not.
  const uint64_t used = budget_.used_bytes();
  const uint64_t limit = budget_.limit_bytes();
  s.blocks_free = (used >= limit ? 0 : limit - used) / kBlockSize;
  s.blocks_available = budget_.available_bytes() / kBlockSize;
  s.files = inodes_.limit();
  s.files_free = inodes_.limit() - std::min(inodes_.limit(), inodes_.used());
  s.files_available = s.files_free;
  if (backing_ != nullptr) {
    // Blocks go on into the backing file once the budget is full: its room counts too.
    const disk::BackingRoom room = backing_->room();
    s.blocks += room.capacity_bytes / kBlockSize;
    s.blocks_free += room.free_bytes / kBlockSize;
    s.blocks_available = s.blocks_free;
  }
  return s;
}

Stats Filesystem::Impl::stats() {
  Stats s;
  const StoreStats store = store_.stats();
  s.pool = pool_->stats();
  s.same_pages = store.same_refs;
  s.data_blocks = data_blocks_.load(std::memory_order_relaxed);
  // Preallocated blocks hold no data: they are neither original data nor same-filled pages.
  s.orig_data_size = (store.stored_refs + store.same_refs) * kBlockSize;
  s.compr_data_size = store.stored_bytes;
  s.mem_used_total = budget_.used_bytes();
  s.mem_limit = budget_.limit_bytes();
  s.mem_used_max = budget_.peak_bytes();
  s.pages_compacted = s.pool.pages_compacted;
  s.huge_pages = store.raw_blocks - store.staged_blocks;
  s.staged_blocks = store.staged_blocks;
  s.logical_bytes = logical_bytes_.load(std::memory_order_relaxed);
  s.hole_bytes = hole_bytes_.load(std::memory_order_relaxed);
  s.unique_blocks = store.stored_blocks;
  s.shared_refs = store.stored_refs - store.stored_blocks;
  s.dedup_saved_bytes = s.shared_refs * kBlockSize;
  s.inodes = inodes_.live();
  s.inode_limit = inodes_.limit();
  s.pool_pages = s.pool.pages_held;
  s.pool_efficiency = s.pool.efficiency();
  s.pool_metadata_bytes = s.pool.metadata_bytes;
  s.block_map_bytes = block_map_bytes_.load(std::memory_order_relaxed);
  s.dedup_bytes = store_.memory_bytes();
  s.dictionary_bytes = dicts_.memory_bytes();
  // Everything else charged to the budget is the inodes' own: the inodes, directories, symlink
  // targets and xattrs (and, while it trains a dictionary, the recompressor's samples).
  // (The backing file's allocator is the backing section's; it is no inode's.)
  const uint64_t accounted = s.pool.pages_held * pool::kPageSize + s.pool_metadata_bytes +
                             s.block_map_bytes + s.dedup_bytes + s.dictionary_bytes +
                             backing_bitmap_bytes();
  s.inode_bytes = s.mem_used_total > accounted ? s.mem_used_total - accounted : 0;
  s.metadata_bytes = s.inode_bytes + s.block_map_bytes + s.dedup_bytes + s.pool_metadata_bytes +
                     s.dictionary_bytes;
  s.compactions = compactions_.load(std::memory_order_relaxed);
  s.algorithm = std::string(codec::to_string(config_.algorithm));
  if (config_.encode_threads > 0) {
    s.background_algorithm = std::string(codec::to_string(config_.background_algorithm));
  }
  s.level = config_.level;
  s.dedup = config_.dedup;
  s.encodings = store.by_encoding;
  s.unsettled_blocks = store.unsettled_blocks;
  s.dictionaries = dicts_.stats();
  s.dictionaries_installed = dicts_.installed_total();
  if (recompressor_ != nullptr) s.recompressor = recompressor_->stats();
  s.recompress = config_.recompress ? "zstd" : "off";
  s.recompress_level = config_.recompress_level;
  s.recompress_after = config_.recompress_after_seconds;
  s.dict = config_.dict;
  s.dict_size = config_.dict_size_bytes;
  return s;
}

Result<FileStats> Filesystem::Impl::file_stats(Ino ino) {
  FileStats fs;
  fs.ino = ino;
  // Walks the subtree under the namespace lock: every inode reachable from it stays alive.
  ReaderLock ns(ns_mu_);
  Inode* top = get(ino);
  if (top == nullptr) return Errno{ESTALE};
  fs.directory = top->dir != nullptr;
  std::unordered_set<Ino> seen;  // hard links are counted once
  std::vector<Inode*> pending{top};
  while (!pending.empty()) {
    Inode* inode = pending.back();
    pending.pop_back();
    if (!seen.insert(inode->ino).second) continue;
    if (inode->dir != nullptr) {
      inode->dir->list_from(0, [&](uint64_t, const Directory::Entry& e) {
        pending.push_back(get(e.ino));
        return true;
      });
      continue;
    }
    ReaderLock lock(inode->mu);
    if (!inode->is_reg()) continue;
    ++fs.files;
    fs.logical_bytes += inode->size;
    fs.hole_bytes += FileAccount::figures(*inode).holes;
    inode->blocks.for_each(0, kMaxBlocks, [&](uint64_t, BlockRef ref) {
      ++fs.data_blocks;
      const BlockInfo info = store_.info(ref);
      if (info.encoding == codec::Encoding::kSameFilled) {
        ++fs.same_blocks;
      } else {
        ++fs.stored_blocks;
        fs.stored_bytes += info.stored_bytes;
        if (info.refs > 1) ++fs.shared_blocks;
      }
      return true;
    });
  }
  return fs;
}

std::string Filesystem::Impl::classes_text() {
  return pool_->stats().classes_text();
}

uint64_t Filesystem::Impl::compact() {
  compactions_.fetch_add(1, std::memory_order_relaxed);
  return pool_->compact();
}

void Filesystem::Impl::compactor_loop() {
  name_this_thread("zsfs-compact");
  // "Nothing changed" is judged by the clock (StillSince), not by counting passes of this loop.
  // Freed heap memory goes back to the system when HeapTrimmer says so.
  using Clock = std::chrono::steady_clock;
  StillSince pages_held(0, Clock::now());
  HeapTrimmer trimmer(0, kCompactorPeriod, Clock::now());
  std::unique_lock lock(compactor_mu_);
  while (!stopping_) {
    compactor_cv_.wait_for(lock, kCompactorPeriod);
    if (stopping_) break;
    lock.unlock();
    const Clock::time_point now = Clock::now();
    const pool::PoolStats ps = pool_->stats();
    const uint64_t pool_bytes = ps.pages_held * pool::kPageSize;
    const uint64_t waste = pool_bytes - std::min(pool_bytes, ps.bytes_stored);
    const bool pool_idle = pages_held.update(ps.pages_held, now) >= kCompactorPeriod;
    if (waste > kCompactMinWasteBytes && waste > pool_bytes / kCompactWasteShareDen) {
      // Which also returns the pool's cached free pages. In a thread of its own, which takes
      // the chunks the compaction freed into its malloc cache away with it (base/threads.h).
      run_in_own_thread([this] { compact(); });
    } else if (pool_idle) {
      // Idle: the free pages the pool keeps for quick reuse go back to the system.
      pool_->trim();
    }
    // The heap's share of the budget, from its owners' own figures (directories aside). Not the
    // budget less the pool's pages: a page being released is uncharged before the pool stops
    // counting it (its madvise runs in between), so during a large deletion or a compaction
    // that difference reads near 0, and the trimmer, taking it for the heap at its last trim,
    // never saw the heap shrink below it again (W5 left 44 MiB resident, 9 MiB after a trim).
    const uint64_t heap = inodes_.memory_bytes() +
                          block_map_bytes_.load(std::memory_order_relaxed) +
                          extra_bytes_.load(std::memory_order_relaxed) + store_.memory_bytes() +
                          dicts_.memory_bytes() + ps.metadata_bytes;
    if (trimmer.should_trim(heap, now, thread_ends())) malloc_trim(0);
    lock.lock();
  }
}

std::string Filesystem::Impl::check() {
  // With the quiesce lock held exclusively no operation changes anything: every count below is
  // exact. An image save's pins are references no block map holds: wait for it to end first.
  std::lock_guard save_lock(save_mu_);
  WriterLock quiesce(quiesce_mu_);
  ReaderLock ns(ns_mu_);
  // The background holds references to the blocks it has yet to compress: let it finish.
  store_.settle();
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    if (problems.size() < 20) problems.push_back(std::move(what));
  };

  std::unordered_map<BlockRef, uint64_t> refs_held;
  std::unordered_map<Ino, uint64_t> links;    // directory entries naming each inode
  std::unordered_map<Ino, uint64_t> subdirs;  // subdirectories of each directory
  uint64_t inodes = 0;
  uint64_t map_bytes = 0;
  uint64_t dir_bytes = 0;
  uint64_t extra = 0;
  FileAccount::Figures totals;
  inodes_.for_each([&](Inode& inode) {
    ++inodes;
    ReaderLock lock(inode.mu);
    const FileAccount::Figures f = FileAccount::figures(inode);
    totals.size += f.size;
    totals.blocks += f.blocks;
    totals.holes += f.holes;
    totals.map_bytes += f.map_bytes;
    map_bytes += inode.blocks.memory_bytes();
    inode.blocks.for_each(0, kMaxBlocks, [&](uint64_t, BlockRef ref) {
      if (ref != kUnwritten) ++refs_held[ref];
      return true;
    });
    if (!inode.is_reg() && !inode.blocks.empty()) {
      problem("inode " + std::to_string(inode.ino) + " is not a regular file but has blocks");
    }
    extra += extras_bytes(inode.extras.get());
    if (inode.dir != nullptr) {
      extra += sizeof(Directory);
      dir_bytes += inode.dir->memory_bytes();
      inode.dir->list_from(0, [&](uint64_t, const Directory::Entry& e) {
        ++links[e.ino];
        Inode* child = get(e.ino);
        if (child == nullptr) {
          problem("directory " + std::to_string(inode.ino) + " names freed inode " +
                  std::to_string(e.ino));
        } else if (child->dir != nullptr) {
          ++subdirs[inode.ino];
          if (child->dir->parent != inode.ino) {
            problem("directory " + std::to_string(e.ino) + " has the wrong parent");
          }
        }
        return true;
      });
    }
    if (inode.doomed) problem("inode " + std::to_string(inode.ino) + " doomed but alive");
    if (inode.unreferenced() && inode.ino != kRootIno) {
      problem("inode " + std::to_string(inode.ino) + " has no reference but is alive");
    }
  });
  // Link counts, and the names beyond each inode's first, which count against the limit.
  uint64_t extra_names = 0;
  inodes_.for_each([&](Inode& inode) {
    ReaderLock lock(inode.mu);
    uint64_t expected;
    if (inode.dir != nullptr) {
      expected = inode.nlink == 0 ? 0 : 2 + subdirs[inode.ino];
    } else {
      expected = links[inode.ino];
      if (inode.nlink > 1) extra_names += inode.nlink - 1;
    }
    if (inode.nlink != expected) {
      problem("inode " + std::to_string(inode.ino) + " has nlink " + std::to_string(inode.nlink) +
              ", expected " + std::to_string(expected));
    }
  });
  // Reference counts of stored blocks against the references block maps hold.
  uint64_t entries = 0;
  store_.for_each([&](BlockRef ref, const BlockInfo& info) {
    ++entries;
    auto it = refs_held.find(ref);
    const uint64_t held = it == refs_held.end() ? 0 : it->second;
    if (held != info.refs) {
      problem("block " + std::to_string(ref) + " has " + std::to_string(info.refs) +
              " references, block maps hold " + std::to_string(held));
    }
    if (it != refs_held.end()) refs_held.erase(it);
  });
  for (const auto& [ref, count] : refs_held) {
    problem("block maps hold " + std::to_string(count) + " references to missing block " +
            std::to_string(ref));
  }
  if (std::string store_problem = store_.check(); !store_problem.empty()) problem(store_problem);
  pool_->check_invariants();  // aborts on a broken pool invariant, naming it

  // Running totals and the budget.
  if (totals.size != logical_bytes_ || totals.blocks != data_blocks_ ||
      totals.holes != hole_bytes_ || totals.map_bytes != block_map_bytes_) {
    problem("running file totals differ from the files");
  }
  if (extra != extra_bytes_) problem("extra bytes differ from what inodes own");
  const pool::PoolStats ps = pool_->stats();
  const uint64_t expected_used =
      ps.pages_held * pool::kPageSize + ps.metadata_bytes + store_.memory_bytes() +
      inodes_.memory_bytes() + map_bytes + dir_bytes + extra + dicts_.memory_bytes() +
      (recompressor_ != nullptr ? recompressor_->charged_bytes() : 0) + backing_bitmap_bytes();
  if (expected_used != budget_.used_bytes()) {
    problem("budget holds " + std::to_string(budget_.used_bytes()) + " bytes, owners " +
            std::to_string(expected_used));
  }
  if (inodes != inodes_.live()) problem("inode count differs from the table's");
  if (inodes_.used() - inodes_.live() != extra_names) {
    problem("names reserved against the inode limit differ from the hard links");
  }

  if (!problems.empty()) log(LogLevel::kError, "consistency check failed: %s", problems[0].c_str());
  return to_json_text({
      {"ok", problems.empty()},
      {"inodes", inodes},
      {"stored_entries", entries},
      {"mem_used_total", budget_.used_bytes()},
      {"problems", problems},
  });
}

}  // namespace zsfs::fs
