// Saving an image: the whole filesystem, as it was at one point in time, written while it stays
// in use.
//
// The point in time: the save holds the quiesce lock exclusively (every operation that changes
// anything holds it shared; reads do not need it) while it walks the namespace and writes the
// metadata section: every inode reachable from the root, its xattrs and block map, every
// directory entry. Blocks are not written then; each block a block map names is pinned instead
// (one more reference on its dedup entry, marked in a bitmap of refs so that a shared block is
// pinned once). Then writes resume, and the blocks are written from the pins: an entry's bytes
// never change (a payload may be swapped for an equivalent one, which is as good), and a pinned
// entry stays even when every file that used it is deleted or overwritten meanwhile. This is
// copy-on-write of block references: writes wait only for the metadata walk (a few tens of
// milliseconds per 100,000 files), and a save needs a bit per entry and a frame buffer of about
// 2 MiB besides what it pins.
//
// One save at a time (save_mu_); the consistency check takes save_mu_ too, so that it never sees
// a save's pins.
#include <sys/stat.h>

#include <bit>
#include <chrono>
#include <optional>
#include <vector>

#include "disk/image_writer.h"
#include "fs/filesystem_impl.h"

namespace zsfs::fs {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

disk::ImageTime image_time(const Timestamp& t) {
  return disk::ImageTime{t.sec, t.nsec};
}

// The blocks a save pinned, as a bitmap of refs; whatever is still pinned when it goes is
// released (a save that fails part way).
class PinnedBlocks {
 public:
  PinnedBlocks(DedupStore* store, BlockRef limit) : store_(store), bits_((limit + 63) / 64) {}
  ~PinnedBlocks() {
    for (BlockRef ref = next(0); ref != kHole; ref = next(ref + 1))
      release(ref);
  }
  PinnedBlocks(const PinnedBlocks&) = delete;
  PinnedBlocks& operator=(const PinnedBlocks&) = delete;

  // Pins ref unless it is pinned already (kUnwritten is no entry).
  void pin(BlockRef ref) {
    if (ref == kUnwritten) return;
    uint64_t& word = bits_[ref / 64];
    const uint64_t bit = uint64_t{1} << (ref % 64);
    if ((word & bit) != 0) return;
    word |= bit;
    store_->pin(ref);
  }
  // The first pinned ref at or after from, or kHole.
  BlockRef next(BlockRef from) const {
    for (uint64_t w = from / 64; w < bits_.size(); ++w) {
      uint64_t word = bits_[w];
      if (w == from / 64) word &= ~uint64_t{0} << (from % 64);
      if (word != 0) {
        return static_cast<BlockRef>(w * 64 + static_cast<unsigned>(std::countr_zero(word)));
      }
    }
    return kHole;
  }
  void release(BlockRef ref) {
    bits_[ref / 64] &= ~(uint64_t{1} << (ref % 64));
    store_->unref(ref);
  }

 private:
  DedupStore* store_;
  std::vector<uint64_t> bits_;
};

// Writes one inode's record, then (unless it is the root) the entry that first names it, then
// its xattrs and its block map as runs of consecutive blocks, pinning each block: records that
// name an inode come after the entry that creates it (see image_load.cc).
disk::Problem save_inode(disk::ImageWriter& writer, const Inode& inode,
                         const disk::EntryRecord* entry, PinnedBlocks& pins,
                         std::vector<uint32_t>& run) {
  ReaderLock lock(inode.mu);
  disk::InodeRecord r;
  r.id = inode.ino;
  r.mode = inode.mode;
  r.uid = inode.uid;
  r.gid = inode.gid;
  r.size = inode.size;
  r.rdev = inode.extras != nullptr ? inode.extras->rdev : 0;
  r.atime = image_time(inode.atime);
  r.mtime = image_time(inode.mtime);
  r.ctime = image_time(inode.ctime);
  if (S_ISLNK(inode.mode) && inode.extras != nullptr) r.symlink = inode.extras->symlink;
  if (disk::Problem p = writer.add(r)) return p;
  if (entry != nullptr) {
    if (disk::Problem p = writer.add(*entry)) return p;
  }
  if (inode.extras != nullptr) {
    for (const auto& [name, value] : inode.extras->xattrs.items) {
      if (disk::Problem p = writer.add(disk::XattrRecord{inode.ino, name, value})) return p;
    }
  }
  uint64_t run_first = 0;
  disk::Problem problem;
  auto flush = [&]() {
    if (!run.empty() && !problem) {
      problem = writer.add(disk::BlockRunRecord{inode.ino, run_first, run});
    }
    run.clear();
  };
  inode.blocks.for_each(0, kMaxBlocks, [&](uint64_t index, BlockRef ref) {
    if (!run.empty() && (index != run_first + run.size() || run.size() == disk::kMaxRunBlocks)) {
      flush();
    }
    if (run.empty()) run_first = index;
    pins.pin(ref);
    run.push_back(ref == kUnwritten ? disk::kPreallocatedBlockId : ref);
    return !problem;
  });
  flush();
  return problem;
}

}  // namespace

disk::Problem Filesystem::Impl::save_image(const std::string& path, ImageSaveStats* stats) {
  const auto start = Clock::now();
  std::lock_guard save_lock(save_mu_);
  timespec saved_at;
  clock_gettime(CLOCK_REALTIME, &saved_at);
  std::unique_ptr<disk::ImageWriter> writer;
  if (disk::Problem p = disk::ImageWriter::create(
          path, disk::ImageTime{saved_at.tv_sec, static_cast<uint32_t>(saved_at.tv_nsec)},
          &writer)) {
    return p;
  }
  ImageSaveStats s;
  std::optional<PinnedBlocks> pins;
  DictionarySet::Pin current_dict;
  DictSlot current_slot = kNoDict;
  std::vector<uint32_t> run;
  const uint64_t changes_before = changes_.load(std::memory_order_relaxed);

  // The point in time: nothing changes while the metadata is written.
  {
    const auto pause_start = Clock::now();
    WriterLock quiesce(quiesce_mu_);
    ReaderLock ns(ns_mu_);
    pins.emplace(&store_, store_.ref_limit());
    current_dict = dicts_.pin_current();
    current_slot = current_dict.slot();
    if (disk::Problem p = writer->begin(disk::Section::kMetadata)) return p;
    std::vector<uint64_t> seen((inodes_.ino_limit() + 63) / 64);
    auto mark = [&](Ino ino) {
      const bool was = (seen[ino / 64] >> (ino % 64) & 1) != 0;
      seen[ino / 64] |= uint64_t{1} << (ino % 64);
      return !was;
    };
    mark(kRootIno);
    if (disk::Problem p = save_inode(*writer, *get(kRootIno), nullptr, *pins, run)) return p;
    ++s.inodes;
    std::vector<Ino> directories{kRootIno};
    disk::Problem problem;
    while (!directories.empty() && !problem) {
      const Ino dir_ino = directories.back();
      directories.pop_back();
      get(dir_ino)->dir->list_from(0, [&](uint64_t, const Directory::Entry& e) {
        const Inode* child = get(e.ino);
        const disk::EntryRecord entry{dir_ino, e.ino, e.name};
        if (mark(e.ino)) {
          problem = save_inode(*writer, *child, &entry, *pins, run);
          ++s.inodes;
          if (child->dir != nullptr) directories.push_back(e.ino);
        } else {
          problem = writer->add(entry);
        }
        return !problem;
      });
    }
    if (problem) return problem;
    s.pause_seconds = seconds_since(pause_start);
  }

  // The blocks, from the pins, while the filesystem is in use again.
  if (disk::Problem p = writer->begin(disk::Section::kBlocks)) return p;
  std::array<DictionarySet::Pin, kMaxDictSlots + 1> dicts;
  DedupStore::StoredBlock block;
  alignas(64) std::array<std::byte, kBlockSize> payload;
  for (BlockRef ref = pins->next(0); ref != kHole; ref = pins->next(ref + 1)) {
    DictionarySet::Pin dict;
    if (Status exported = store_.export_block(ref, &block, payload, &dict); !exported.ok()) {
      return disk::system_problem(exported.error(),
                                  "cannot save " + path + ": block " + std::to_string(ref));
    }
    disk::BlockRecord r;
    r.id = ref;
    r.index_tag = block.index_tag;
    r.encoding = block.encoding;
    r.dict_slot = block.dict;
    r.flags = static_cast<uint8_t>((block.settled ? disk::kBlockSettled : 0) |
                                   (block.indexed ? disk::kBlockIndexed : 0));
    r.word = block.word;
    r.payload = std::span(payload.data(), block.size);
    if (disk::Problem p = writer->add(r)) return p;
    if (dict.slot() != kNoDict && dicts[dict.slot()].slot() == kNoDict) {
      dicts[dict.slot()] = std::move(dict);
    }
    pins->release(ref);
    ++s.blocks;
  }

  // The dictionaries the blocks name, and the current one.
  if (disk::Problem p = writer->begin(disk::Section::kDictionaries)) return p;
  if (current_dict.slot() != kNoDict && dicts[current_dict.slot()].slot() == kNoDict) {
    dicts[current_dict.slot()] = std::move(current_dict);
  }
  for (DictSlot slot = 1; slot <= kMaxDictSlots; ++slot) {
    if (dicts[slot].slot() == kNoDict) continue;
    const std::span<const std::byte> bytes = dicts[slot].get()->bytes();
    const bool current = slot == current_slot;
    if (disk::Problem p = writer->add(disk::DictionaryRecord{slot, current, bytes})) return p;
    ++s.dictionaries;
  }
  const auto sync_start = Clock::now();
  if (disk::Problem p = writer->commit()) return p;
  s.sync_seconds = seconds_since(sync_start);
  s.bytes = writer->bytes_written();
  s.seconds = seconds_since(start);
  saved_changes_.store(changes_before, std::memory_order_relaxed);
  if (stats != nullptr) *stats = s;
  return {};
}

}  // namespace zsfs::fs
