// Loading an image into a new, empty filesystem, before it is mounted.
//
// The reader (disk/image_reader.h) checks the file's structure and every frame's checksum before
// it hands a record out; this side checks what the records say, trusting nothing: dictionaries
// go back into the slots their blocks name (so no block needs re-encoding, and blocks the
// recompressor had settled stay settled), blocks into the dedup store as they were stored
// (compressed, with their index tags, so dedup finds them again without decoding them), and the
// metadata through the same operations as a user's requests (make_node, link, setxattr,
// setattr), which check names, types, duplicates, limits and the budget as they always do. The
// image's order makes one pass enough: an inode record comes right before the entry that first
// names it (the root's has none, and comes first), then its xattrs and block runs; an entry's
// directory is always created before the entry. A directory named twice, an entry in something
// that is not a directory, a run over a block already set, an id no record defined: each is
// refused as corrupt, with where it is. Times are put back last, since creating entries and
// links changes them; directories' default ACLs just before them, so that no inode the image
// creates inherits an ACL it did not have (each one's own ACLs come with its xattrs).
//
// Two threads load: after the dictionaries, a second thread reads the blocks section (through
// its own reader of the same file) into the dedup store while the calling thread makes the tree
// from the metadata section. The blocks thread publishes each image id with the BlockRef it now
// has (LoadedBlocks); the section is in id order, so an id the thread has passed is either loaded
// or not in the image. A block run whose ids are all passed is installed at once; the others wait
// in a list (the tree never waits for the blocks: the save walks the namespace in an order of its
// own, often the newest blocks first). Once the tree and its times are made, the calling thread
// installs the waiting runs in the order of their highest id as the blocks thread passes it, so
// that little is left for after the join, and between runs faults in the pool pages the blocks
// thread is about to fill. A failure of the tree stops the blocks thread; the blocks thread's
// failure is reported first, since the tree's then follows from it.
//
// Memory while loading, besides what the filesystem keeps: 8 bytes per block (image id to
// BlockRef, in id order), about 50 per inode (image id to inode number, and its times), 4 per
// block of the runs that wait, and each of the two readers' buffers (about 14 MiB each: its own
// and its section's BackgroundReader's, disk/background_reader.h).
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "disk/image_reader.h"
#include "fs/file_account.h"
#include "fs/filesystem_impl.h"
#include "fs/posix_acl.h"

namespace zsfs::fs {
namespace {

disk::Problem corrupt(const std::string& what) {
  return disk::problem(EIO, "corrupt: " + what);
}

Timestamp timestamp(const disk::ImageTime& t) {
  return Timestamp(timespec{static_cast<time_t>(t.sec), static_cast<long>(t.nsec)});
}

bool known_type(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      return true;
    default:
      return false;
  }
}

disk::Problem refused_as(const std::string& what, int error) {
  if (error == ENOSPC) {
    return disk::problem(ENOSPC, "does not fit: " + what + ": " + std::strerror(error) +
                                     " (a larger size= or nr_inodes= holds it)");
  }
  if (error == ENOMEM) return disk::problem(ENOMEM, what + ": out of memory");
  if (error == EOPNOTSUPP && what.starts_with("xattr 'system.posix_acl_")) {
    return disk::problem(EOPNOTSUPP, what + ": the image holds POSIX ACLs, which noacl turns off");
  }
  return corrupt(what + ": " + std::strerror(error));
}

}  // namespace

// The blocks loaded so far, by image id (ascending), each with the BlockRef it has now. The
// blocks thread appends and publishes; the tree's thread looks up what has been published
// (release/acquire on published_: an entry below it never changes), and never waits.
class LoadedBlocks {
 public:
  // capacity: the most blocks the image can hold (its trailer's count, bounded by its size).
  explicit LoadedBlocks(size_t capacity)
      : capacity_(capacity), blocks_(std::make_unique_for_overwrite<Entry[]>(capacity)) {}

  // Blocks thread: records the next block. Corrupt when ids do not ascend or exceed the count.
  disk::Problem add(uint32_t id, BlockRef ref) {
    const size_t n = size_;  // only this thread writes size_ and the entries past published_
    if (n > 0 && id <= blocks_[n - 1].id) {
      return corrupt("block " + std::to_string(id) + " after block " +
                     std::to_string(blocks_[n - 1].id) + " (ids must ascend)");
    }
    if (n == capacity_) return corrupt("more blocks than the trailer counts");
    blocks_[n] = Entry{id, ref};
    size_ = n + 1;
    published_.store(n + 1, std::memory_order_release);
    return {};
  }
  // Tree's thread: whether every block of the image with an id up to id is loaded (once the
  // blocks thread is joined: always).
  bool passed(uint32_t id) {
    if (seen_ == 0 || blocks_[seen_ - 1].id < id) {
      seen_ = published_.load(std::memory_order_acquire);
    }
    return joined_ || (seen_ > 0 && blocks_[seen_ - 1].id >= id);
  }
  // Tree's thread, for an id passed(): the BlockRef loaded for it, or kHole when the image has
  // no such block.
  BlockRef ref_of(uint32_t id) const {
    const Entry* end = blocks_.get() + seen_;
    const Entry* it = std::lower_bound(static_cast<const Entry*>(blocks_.get()), end, id,
                                       [](const Entry& e, uint32_t want) { return e.id < want; });
    return it != end && it->id == id ? it->ref : kHole;
  }
  // Tree's thread: the blocks thread should stop.
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Blocks thread, as it ends (whatever its outcome): nothing more will be published.
  void done() { done_.store(true, std::memory_order_release); }
  // Tree's thread: whether the blocks thread has ended.
  bool ended() const { return done_.load(std::memory_order_acquire); }
  // Tree's thread, once the blocks thread is joined: every block it loaded is final.
  void joined() {
    joined_ = true;
    seen_ = size_;
  }

  size_t size() const { return size_; }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i < size_; ++i)
      fn(blocks_[i].ref);
  }
  void clear() {
    size_ = seen_ = 0;
    published_.store(0, std::memory_order_relaxed);
  }

 private:
  struct Entry {
    uint32_t id;
    BlockRef ref;
  };
  const size_t capacity_;
  std::unique_ptr<Entry[]> blocks_;
  size_t size_ = 0;  // the blocks thread's count
  std::atomic<size_t> published_{0};
  size_t seen_ = 0;  // the tree's thread's last look at published_
  bool joined_ = false;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> done_{false};
};

// The blocks section's visitor, run by the blocks thread.
class BlockLoader final : public disk::ImageVisitor {
 public:
  BlockLoader(Filesystem::Impl& fs, const std::array<DictionarySet::Pin, kMaxDictSlots + 1>& dicts,
              LoadedBlocks& loaded)
      : fs_(fs), dicts_(dicts), loaded_(loaded) {}
  disk::Problem block(const disk::BlockRecord& r) override;

 private:
  Filesystem::Impl& fs_;
  const std::array<DictionarySet::Pin, kMaxDictSlots + 1>& dicts_;
  LoadedBlocks& loaded_;
};

disk::Problem BlockLoader::block(const disk::BlockRecord& r) {
  if (loaded_.cancelled()) return disk::problem(ECANCELED, "stopped");
  if (r.id == kUnwritten) return corrupt("block id " + std::to_string(r.id));
  if (r.dict_slot != kNoDict && dicts_[r.dict_slot].slot() == kNoDict) {
    return corrupt("block " + std::to_string(r.id) + " names dictionary " +
                   std::to_string(r.dict_slot) + ", which the image does not hold");
  }
  DedupStore::StoredBlock b;
  b.encoding = r.encoding;
  b.dict = r.dict_slot;
  b.settled = (r.flags & disk::kBlockSettled) != 0;
  b.indexed = (r.flags & disk::kBlockIndexed) != 0;
  b.index_tag = r.index_tag;
  b.word = r.word;
  b.size = static_cast<uint32_t>(r.payload.size());
  // The block goes back to the shard it was in: its id is the BlockRef it had, whose low bits
  // name the shard its fingerprint chose.
  Result<BlockRef> ref = fs_.store_.import_block(r.id % DedupStore::shards(), b, r.payload);
  if (!ref.ok()) return refused_as("block " + std::to_string(r.id), ref.error());
  if (disk::Problem p = loaded_.add(r.id, *ref)) {
    fs_.store_.unref(*ref);
    return p;
  }
  return {};
}

class ImageLoader final : public disk::ImageVisitor {
 public:
  // The most records of a kind an image can hold: the trailer's count, bounded by what the file
  // could hold.
  static size_t most(uint64_t count, const disk::ImageSummary& summary) {
    return static_cast<size_t>(std::min(count, summary.file_bytes / 8));
  }
  ImageLoader(Filesystem::Impl& fs, const disk::ImageSummary& summary)
      : fs_(fs), blocks_(most(summary.blocks, summary)) {
    inodes_.reserve(most(summary.inodes, summary));
    times_.reserve(most(summary.inodes, summary));
  }
  ~ImageLoader() override { release(); }
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  disk::Problem dictionary(const disk::DictionaryRecord& r) override;
  disk::Problem inode(const disk::InodeRecord& r) override;
  disk::Problem entry(const disk::EntryRecord& r) override;
  disk::Problem xattr(const disk::XattrRecord& r) override;
  disk::Problem block_run(const disk::BlockRunRecord& r) override;
  // After the metadata section: what is left to check, default ACLs, and the times.
  disk::Problem finish_tree();

  // Reads the blocks section through reader on a thread of its own, while the caller goes on.
  // Refused (EAGAIN) when the thread cannot start.
  disk::Problem start_blocks(std::unique_ptr<disk::ImageReader> reader);
  // Waits for the blocks thread; its outcome. stop: tell it to stop first (the tree failed).
  disk::Problem join_blocks(bool stop);
  // While the blocks thread runs: the waiting block runs whose blocks it has passed, in the
  // order of their highest id, until it ends.
  disk::Problem install_deferred_as_loaded();
  // Once the blocks thread is joined without failing: the waiting block runs left.
  disk::Problem install_deferred();
  // The loader's own references: blocks no file names go.
  void release();
  double blocks_seconds() const { return blocks_seconds_; }

  uint64_t blocks() const { return blocks_.size(); }
  uint64_t dictionaries() const { return dictionaries_; }

 private:
  struct Times {
    Ino ino;
    Timestamp atime, mtime, ctime;
  };

  // The inode created for image id, or 0.
  Ino ino_of(uint64_t id) const {
    const auto it = inodes_.find(id);
    return it == inodes_.end() ? 0 : it->second;
  }
  struct DeferredRun {
    Inode* inode;
    uint64_t image_inode;
    uint64_t first_index;
    size_t ids_at;     // where its ids start in deferred_ids_
    uint32_t ids;      // how many
    uint32_t last_id;  // the highest block id among them
  };

  disk::Problem refused(const std::string& what, int error) { return refused_as(what, error); }
  // Installs blocks first_index.. of inode (image id image_inode), whose ids are all passed().
  disk::Problem install_run(Inode& inode, uint64_t image_inode, uint64_t first_index,
                            std::span<const uint32_t> ids);
  // Puts loaded (a block the loader holds, or kUnwritten) at index of inode, with a reference of
  // the file's own (install_block() takes it, and drops it when it fails).
  Status install_block(Inode& inode, uint64_t index, BlockRef loaded) ZSFS_REQUIRES(inode.mu);
  disk::Problem create_pending(Ino parent, std::string_view name);
  // Sets mode, owner and size as the record has them.
  disk::Problem restore_attributes(Ino ino, const disk::InodeRecord& r);
  disk::Problem install_deferred_run(const DeferredRun& run);

  Filesystem::Impl& fs_;
  std::array<DictionarySet::Pin, kMaxDictSlots + 1> dicts_;
  uint64_t dictionaries_ = 0;
  LoadedBlocks blocks_;
  std::vector<DeferredRun> deferred_;
  size_t deferred_done_ = 0;  // deferred_[0, deferred_done_) are installed
  std::vector<uint32_t> deferred_ids_;
  std::thread blocks_thread_;
  disk::Problem blocks_problem_;  // the blocks thread's outcome, once joined
  double blocks_seconds_ = 0;
  std::unordered_map<uint64_t, Ino> inodes_;  // image id -> inode number
  std::vector<Times> times_;
  std::vector<std::pair<Ino, std::string>> default_acls_;  // set by finish()
  bool root_seen_ = false;
  std::optional<disk::InodeRecord> pending_;  // an inode waiting for the entry that creates it
  std::string pending_symlink_;
  alignas(64) std::array<std::byte, kBlockSize> scratch_;
};

disk::Problem ImageLoader::dictionary(const disk::DictionaryRecord& r) {
  Result<DictionarySet::Pin> pin = fs_.dicts_.install_in_slot(r.slot, r.bytes, r.current);
  if (!pin.ok()) {
    if (pin.error() == EEXIST)
      return corrupt("dictionary slot " + std::to_string(r.slot) + " twice");
    return refused("dictionary " + std::to_string(r.slot), pin.error());
  }
  dicts_[r.slot] = std::move(*pin);
  ++dictionaries_;
  return {};
}

disk::Problem ImageLoader::inode(const disk::InodeRecord& r) {
  if (!known_type(r.mode)) {
    return corrupt("inode " + std::to_string(r.id) + " has mode " + std::to_string(r.mode) +
                   ", of no file type");
  }
  if (!root_seen_) {
    if (r.id != kRootIno || !S_ISDIR(r.mode)) {
      return corrupt("the first inode is not the root directory (inode 1)");
    }
    root_seen_ = true;
    inodes_[kRootIno] = kRootIno;
    times_.push_back(Times{kRootIno, timestamp(r.atime), timestamp(r.mtime), timestamp(r.ctime)});
    return restore_attributes(kRootIno, r);
  }
  if (pending_) {
    return corrupt("inode " + std::to_string(pending_->id) +
                   " is not followed by the entry that names it");
  }
  if (inodes_.contains(r.id)) return corrupt("inode " + std::to_string(r.id) + " twice");
  pending_ = r;
  pending_symlink_ = r.symlink;
  pending_->symlink = pending_symlink_;
  return {};
}

disk::Problem ImageLoader::restore_attributes(Ino ino, const disk::InodeRecord& r) {
  SetAttr change;
  change.mode = r.mode & 07777;
  change.uid = r.uid;
  change.gid = r.gid;
  if (S_ISREG(r.mode)) change.size = r.size;
  Result<Attr> set = fs_.setattr(ino, change, Caller{});
  if (!set.ok()) return refused("the attributes of inode " + std::to_string(r.id), set.error());
  return {};
}

disk::Problem ImageLoader::create_pending(Ino parent, std::string_view name) {
  const disk::InodeRecord& r = *pending_;
  const uint32_t type = r.mode & S_IFMT;
  if (type == S_IFLNK && (r.symlink.empty() || r.symlink.size() > kSymlinkMax)) {
    return corrupt("symbolic link " + std::to_string(r.id) + " has a target of " +
                   std::to_string(r.symlink.size()) + " bytes");
  }
  const uint64_t rdev = type == S_IFCHR || type == S_IFBLK ? r.rdev : 0;
  const uint32_t mode = type == S_IFLNK ? S_IFLNK | 0777 : r.mode;
  Result<Attr> made =
      fs_.make_node(parent, name, mode, rdev, r.symlink, Caller{r.uid, r.gid, 0}, false);
  if (!made.ok()) {
    return refused("entry '" + std::string(name) + "' in directory inode " + std::to_string(parent),
                   made.error());
  }
  fs_.forget(made->ino, 1);  // make_node counts a lookup, as for the kernel
  inodes_[r.id] = made->ino;
  times_.push_back(Times{made->ino, timestamp(r.atime), timestamp(r.mtime), timestamp(r.ctime)});
  disk::Problem problem = restore_attributes(made->ino, r);
  pending_.reset();
  return problem;
}

disk::Problem ImageLoader::entry(const disk::EntryRecord& r) {
  const Ino parent = ino_of(r.directory);
  if (parent == 0) {
    return corrupt("an entry in directory " + std::to_string(r.directory) +
                   ", which no earlier record defines");
  }
  if (pending_ && pending_->id == r.child) return create_pending(parent, r.name);
  if (pending_) {
    return corrupt("inode " + std::to_string(pending_->id) +
                   " is not followed by the entry that names it");
  }
  const Ino child = ino_of(r.child);
  if (child == 0) {
    return corrupt("entry '" + std::string(r.name) + "' names inode " + std::to_string(r.child) +
                   ", which no earlier record defines");
  }
  Result<Attr> linked = fs_.link(child, parent, r.name);
  if (!linked.ok()) {
    if (linked.error() == EPERM) {
      return corrupt("a second entry ('" + std::string(r.name) + "') for directory " +
                     std::to_string(r.child));
    }
    return refused(
        "entry '" + std::string(r.name) + "' in directory " + std::to_string(r.directory),
        linked.error());
  }
  fs_.forget(child, 1);
  return {};
}

disk::Problem ImageLoader::xattr(const disk::XattrRecord& r) {
  const Ino ino = ino_of(r.inode);
  if (ino == 0 || pending_) {
    return corrupt("xattr '" + std::string(r.name) + "' of inode " + std::to_string(r.inode) +
                   ", which no earlier entry created");
  }
  // The statistics' and actions' names are not attributes (setxattr would act on some).
  if (r.name.starts_with("user.zsfs.")) return corrupt("xattr '" + std::string(r.name) + "'");
  if (r.name == acl::kDefaultXattr && fs_.config_.posix_acl) {
    try {
      default_acls_.emplace_back(ino, std::string(r.value));
    } catch (const std::bad_alloc&) {
      return refused("xattr '" + std::string(r.name) + "'", ENOMEM);
    }
    return {};
  }
  Status set = fs_.setxattr(ino, r.name, r.value, XATTR_CREATE, Caller{});
  if (!set.ok()) return refused("xattr '" + std::string(r.name) + "'", set.error());
  return {};
}

disk::Problem ImageLoader::block_run(const disk::BlockRunRecord& r) {
  const Ino ino = ino_of(r.inode);
  Inode* inode = ino == 0 || pending_ ? nullptr : fs_.get(ino);
  if (inode == nullptr) {
    return corrupt("blocks of inode " + std::to_string(r.inode) +
                   ", which no earlier entry created");
  }
  if (r.first_index >= kMaxBlocks || r.blocks.size() > kMaxBlocks - r.first_index) {
    return corrupt("blocks at index " + std::to_string(r.first_index) + " beyond any file's end");
  }
  uint32_t last = 0;  // the highest block id the run names
  for (const uint32_t id : r.blocks) {
    if (id != disk::kPreallocatedBlockId) last = std::max(last, id);
  }
  if (blocks_.passed(last)) return install_run(*inode, r.inode, r.first_index, r.blocks);
  // Not loaded yet: the run is installed once the blocks thread is done.
  try {
    deferred_.push_back(DeferredRun{inode, r.inode, r.first_index, deferred_ids_.size(),
                                    static_cast<uint32_t>(r.blocks.size()), last});
    deferred_ids_.insert(deferred_ids_.end(), r.blocks.begin(), r.blocks.end());
  } catch (const std::bad_alloc&) {
    return refused("blocks of inode " + std::to_string(r.inode), ENOMEM);
  }
  return {};
}

disk::Problem ImageLoader::install_deferred_run(const DeferredRun& run) {
  const std::span<const uint32_t> ids(deferred_ids_.data() + run.ids_at, run.ids);
  return install_run(*run.inode, run.image_inode, run.first_index, ids);
}

disk::Problem ImageLoader::install_deferred_as_loaded() {
  // About 4 ms of the blocks thread's pages (4 MiB), faulted in a few hundred microseconds.
  constexpr size_t kPagesAhead = 1024;
  std::sort(deferred_.begin(), deferred_.end(),
            [](const DeferredRun& a, const DeferredRun& b) { return a.last_id < b.last_id; });
  while (deferred_done_ < deferred_.size()) {
    const DeferredRun& run = deferred_[deferred_done_];
    if (!blocks_.passed(run.last_id)) {
      if (blocks_.ended()) return {};  // the rest after the join
      // Meanwhile this core faults in the pages the blocks thread will fill next (a third of its
      // time went to that); with enough ahead, a short nap.
      if (fs_.pool_->populate_ahead(kPagesAhead) == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      continue;
    }
    if (disk::Problem p = install_deferred_run(run)) return p;
    ++deferred_done_;
  }
  return {};
}

disk::Problem ImageLoader::install_deferred() {
  blocks_.joined();
  for (; deferred_done_ < deferred_.size(); ++deferred_done_) {
    if (disk::Problem p = install_deferred_run(deferred_[deferred_done_])) return p;
  }
  deferred_.clear();
  deferred_ids_.clear();
  deferred_done_ = 0;
  return {};
}

disk::Problem ImageLoader::install_run(Inode& inode, uint64_t image_inode, uint64_t first_index,
                                       std::span<const uint32_t> ids) {
  WriterLock lock(inode.mu);
  if (!inode.is_reg())
    return corrupt("blocks of inode " + std::to_string(image_inode) + ", not a file");
  const uint64_t data_end = inode.size / kBlockSize + (inode.size % kBlockSize != 0);
  FileAccount account(fs_, inode);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint64_t index = first_index + i;
    const uint32_t id = ids[i];
    if (inode.blocks.get(index) != kHole) {
      return corrupt("block " + std::to_string(index) + " of inode " + std::to_string(image_inode) +
                     " twice");
    }
    BlockRef loaded = kUnwritten;
    if (id != disk::kPreallocatedBlockId) {
      if (index >= data_end) {
        return corrupt("data at block " + std::to_string(index) + " of inode " +
                       std::to_string(image_inode) + ", past its size");
      }
      loaded = blocks_.ref_of(id);
      if (loaded == kHole) {
        return corrupt("inode " + std::to_string(image_inode) + " names block " +
                       std::to_string(id) + ", which the image does not hold");
      }
    }
    // With a backing file the blocks may have taken the whole budget: install_block() makes
    // room for the block map by moving some out, as for a writer.
    Status installed = install_block(inode, index, loaded);
    if (!installed.ok()) {
      return refused("block " + std::to_string(index) + " of inode " + std::to_string(image_inode),
                     installed.error());
    }
  }
  return {};
}

Status ImageLoader::install_block(Inode& inode, uint64_t index, BlockRef loaded) {
  BlockRef ref = loaded;
  if (ref != kUnwritten && !fs_.store_.try_ref(ref)) {
    // Shared more often than an entry counts: the block is stored once more.
    ZSFS_TRY_STATUS(fs_.store_.read(ref, scratch_));
    Result<BlockRef> copy = fs_.store_.put(scratch_);
    if (!copy.ok()) return Errno{copy.error()};
    ref = *copy;
  }
  return fs_.install_block(inode, index, ref);
}

disk::Problem ImageLoader::finish_tree() {
  if (!root_seen_) return corrupt("the image has no root directory");
  if (pending_) {
    return corrupt("inode " + std::to_string(pending_->id) + " is named by no entry");
  }
  for (const auto& [ino, value] : default_acls_) {
    Status set = fs_.setxattr(ino, acl::kDefaultXattr, value, XATTR_CREATE, Caller{});
    if (!set.ok()) return refused("xattr '" + std::string(acl::kDefaultXattr) + "'", set.error());
  }
  for (const Times& t : times_) {
    SetAttr change;
    change.atime = TimeChange::at(t.atime);
    change.mtime = TimeChange::at(t.mtime);
    change.ctime = t.ctime;
    Result<Attr> set = fs_.setattr(t.ino, change, Caller{});
    if (!set.ok()) return refused("the times of inode " + std::to_string(t.ino), set.error());
  }
  return {};
}

disk::Problem ImageLoader::start_blocks(std::unique_ptr<disk::ImageReader> reader) {
  try {
    blocks_thread_ = std::thread([this, reader = std::move(reader)] {
      const auto start = std::chrono::steady_clock::now();
      BlockLoader visitor(fs_, dicts_, blocks_);
      blocks_problem_ = reader->read(disk::Section::kBlocks, visitor);
      blocks_seconds_ =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      blocks_.done();
    });
  } catch (const std::system_error& e) {
    return disk::problem(EAGAIN,
                         std::string("cannot start the thread that loads blocks: ") + e.what());
  }
  return {};
}

disk::Problem ImageLoader::join_blocks(bool stop) {
  if (!blocks_thread_.joinable()) return blocks_problem_;
  if (stop) blocks_.cancel();
  blocks_thread_.join();
  return blocks_problem_;
}

void ImageLoader::release() {
  // The loader's own references: blocks no file names go now.
  (void)join_blocks(true);  // its outcome was taken, or no longer matters
  blocks_.for_each([&](BlockRef ref) { fs_.store_.unref(ref); });
  blocks_.clear();
  for (DictionarySet::Pin& pin : dicts_)
    pin.reset();
}

disk::Problem Filesystem::Impl::load_image(const std::string& path, ImageLoadStats* stats) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<disk::ImageReader> reader;
  if (disk::Problem p = disk::ImageReader::open(path, &reader)) return p;
  {
    Inode* root = get(kRootIno);
    ReaderLock ns(ns_mu_);
    ZSFS_CHECK_MSG(inodes_.live() == 1 && root->dir->empty() && store_.stats().stored_blocks == 0,
                   "an image loads into an empty filesystem only");
  }
  ImageLoader loader(*this, reader->summary());
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  ImageLoadStats s;
  // The dictionaries first (blocks name them), then the blocks on a thread of their own while
  // this one makes the tree.
  if (disk::Problem p = reader->read(disk::Section::kDictionaries, loader)) return p;
  std::unique_ptr<disk::ImageReader> blocks_reader;
  if (disk::Problem p = reader->open_another(&blocks_reader)) return p;
  if (disk::Problem p = loader.start_blocks(std::move(blocks_reader))) return p;
  const auto metadata_start = Clock::now();
  // Problems found after the records (what they leave unchecked, the waiting runs) are the whole
  // image's: named by its path, as the reader names a record's by path and offset.
  auto of_image = [&](disk::Problem p) {
    if (p) p.message = path + ": " + p.message;
    return p;
  };
  disk::Problem tree = reader->read(disk::Section::kMetadata, loader);
  // A record the tree refused stops the blocks thread; what is found after the records lets it
  // finish, so that a problem of its own is still the one reported.
  const bool stop_blocks = static_cast<bool>(tree);
  if (!tree) tree = of_image(loader.finish_tree());
  if (!tree) tree = of_image(loader.install_deferred_as_loaded());
  // The blocks thread's failure comes first: the tree's follows from it (a block it never
  // loaded).
  if (disk::Problem p = loader.join_blocks(stop_blocks)) {
    if (p.error != ECANCELED || !tree) return p;
  }
  if (tree) return tree;
  if (disk::Problem p = loader.install_deferred()) return of_image(std::move(p));
  const uint64_t blocks = loader.blocks();
  loader.release();
  s.metadata_seconds = seconds_since(metadata_start);
  s.blocks_seconds = loader.blocks_seconds();
  saved_changes_.store(changes_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.bytes = reader->summary().file_bytes;
  s.inodes = reader->summary().inodes;
  s.blocks = blocks;
  s.dictionaries = loader.dictionaries();
  s.seconds = seconds_since(start);
  if (stats != nullptr) *stats = s;
  return {};
}

}  // namespace zsfs::fs
