// Filesystem: creation, life cycle, the helpers every family of operations shares, and the
// public methods, which forward to Impl. Mutating methods hold the quiesce lock shared, so that
// check() can see the filesystem at rest.
#include "fs/filesystem.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/check.h"
#include "fs/file_account.h"
#include "fs/filesystem_impl.h"

namespace zsfs::fs {
namespace {

// What every public method that changes the filesystem holds: the quiesce lock, shared (so that
// check() and an image save's walk see the filesystem at rest), and one count of changes (so
// that a save can tell whether there is anything new to save).
class Mutation {
 public:
  explicit Mutation(Filesystem::Impl& impl) : lock_(impl.quiesce_mu()) { impl.note_change(); }

 private:
  ReaderLock<RwLock> lock_;
};

// The largest dictionary: as asked, or by default the largest zstd takes, at most a 1024th of the
// budget: its compression form, about 16 times its size at level 15, is charged to the budget
// while the recompressor works (1.6% of it at most).
size_t dict_size_for(const Config& config) {
  if (config.dict_size_bytes != 0) return config.dict_size_bytes;
  return static_cast<size_t>(std::clamp<uint64_t>(
      config.size_bytes / 1024, codec::kMinDictionaryBytes, codec::kMaxDictionaryBytes));
}

}  // namespace

Result<std::unique_ptr<Filesystem>> Filesystem::create(const Config& asked) {
  Config config = asked;
  config.dict_size_bytes = dict_size_for(asked);
  if (config.size_bytes < kBlockSize || config.nr_inodes == 0 ||
      config.nr_inodes > InodeTable::kMaxInodes || (config.root_mode & ~07777u) != 0) {
    return Errno{EINVAL};
  }
  if (config.chain_pages < pool::kMinChainPages || config.chain_pages > pool::kMaxChainPages) {
    return Errno{EINVAL};
  }
  pool::PoolConfig pool_config;
  pool_config.max_pages_per_zspage = config.chain_pages;
  // A block that would not compress below the huge-class size takes a page of its own anyway:
  // keep it raw and save the decompression.
  codec::CodecConfig codec_config;
  codec_config.algorithm = config.algorithm;
  codec_config.level = config.level;
  codec_config.raw_threshold_bytes = pool::SizeClassTable(config.chain_pages).huge_class_size();
  Result<codec::Compressor> compressor = codec::Compressor::create(codec_config);
  if (!compressor.ok()) return Errno{compressor.error()};
  codec::CodecConfig background_config = codec_config;
  // No compression means none at all, in the background too.
  background_config.algorithm = config.algorithm == codec::Algorithm::kNone
                                    ? codec::Algorithm::kNone
                                    : config.background_algorithm;
  Result<codec::Compressor> background = codec::Compressor::create(background_config);
  if (!background.ok()) return Errno{background.error()};

  RecompressConfig recompress;
  recompress.enabled = config.recompress;
  recompress.level = config.recompress_level;
  if (config.recompress_after_seconds >= 0) {
    recompress.after = std::chrono::seconds(config.recompress_after_seconds);
  } else {
    recompress.after.reset();
  }
  recompress.dict = config.dict;
  recompress.dict_size_bytes = config.dict_size_bytes;
  recompress.raw_threshold_bytes = codec_config.raw_threshold_bytes;
  if (config.recompress_level < codec::min_level() ||
      config.recompress_level > codec::max_level() ||
      config.dict_size_bytes < codec::kMinDictionaryBytes ||
      config.dict_size_bytes > codec::kMaxDictionaryBytes) {
    return Errno{EINVAL};
  }

  auto impl = std::make_unique<Impl>(config, pool_config, *compressor, *background, recompress);
  return std::unique_ptr<Filesystem>(new Filesystem(std::move(impl)));
}

Filesystem::Filesystem(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Filesystem::~Filesystem() = default;

// --- Impl life cycle -----------------------------------------------------------------------

namespace {

// The levels every dictionary is digested for: the recompressor's, and the primary's when writes
// or the background store zstd (which then compresses against the current dictionary too).
std::vector<int> dictionary_levels(const Config& config) {
  std::vector<int> levels{config.recompress_level};
  const bool zstd_writes =
      config.algorithm == codec::Algorithm::kZstd ||
      (config.encode_threads > 0 && config.background_algorithm == codec::Algorithm::kZstd);
  if (zstd_writes && config.level != config.recompress_level) levels.push_back(config.level);
  return levels;
}

// The budget's reserve for direct recompression (see MemoryBudget): room for the new copies of the
// blocks one reclaim re-encodes before compaction frees the old ones, a 32nd of the budget at
// most.
uint64_t reclaim_reserve_for(const Config& config) {
  return std::min<uint64_t>(1 << 20, config.size_bytes / 32);
}

// Blocks waiting raw for the background take 4 KiB each: at most a 32nd of the budget, so that a
// small mount does not fill with them and refuse writes that compressed would have fitted.
size_t staged_blocks_for(const Config& config) {
  return static_cast<size_t>(
      std::min<uint64_t>(config.max_staged_blocks, config.size_bytes / 32 / kBlockSize));
}

std::unique_ptr<pool::Pool> make_pool(const pool::PoolConfig& config, MemoryBudget* budget) {
  Result<std::unique_ptr<pool::Pool>> pool = pool::Pool::create(config, budget);
  ZSFS_CHECK_MSG(pool.ok(), "pool config was validated");
  return std::move(*pool);
}

}  // namespace

Filesystem::Impl::Impl(const Config& config, const pool::PoolConfig& pool_config,
                       const codec::Compressor& compressor,
                       const codec::Compressor& background_compressor,
                       const RecompressConfig& recompress)
    : config_(config),
      budget_(config.size_bytes, config.recompress ? reclaim_reserve_for(config) : 0),
      pool_(make_pool(pool_config, &budget_)),
      dicts_(&budget_, dictionary_levels(config)),
      store_(pool_.get(), compressor, config.dedup, &budget_, &dicts_,
             BackgroundConfig{config.encode_threads, staged_blocks_for(config),
                              background_compressor}),
      inodes_(config.nr_inodes, &budget_) {
  Result<Inode*> root = inodes_.allocate();
  ZSFS_CHECK_MSG(root.ok() && (*root)->ino == kRootIno, "cannot create the root directory");
  Inode& r = **root;
  const bool charged = budget_.try_charge(sizeof(Directory));
  ZSFS_CHECK_MSG(charged, "the budget cannot hold the root directory");
  extra_bytes_ += sizeof(Directory);
  WriterLock lock(r.mu);
  r.mode = S_IFDIR | config.root_mode;
  r.uid = config.root_uid;
  r.gid = config.root_gid;
  r.nlink = 2;
  r.size = 2 * kBogoDirentBytes;
  r.atime = r.mtime = r.ctime = now();
  r.nlookup = 1;  // the kernel's reference to the root is never forgotten
  r.dir = std::make_unique<Directory>(&budget_);
  r.dir->parent = kRootIno;
  if (config.recompress || config.dict) {
    // A pass that kept smaller encodings left holes all over the zspages, too few for the
    // background compactor's threshold (after settling the Linux tree: 13.7 MB of 279 MB, 4.9%
    // where it waits for 12.5%): compacting then gave back 1,570 pages (6.1 MiB). With
    // auto_compact off (tests), compaction stays the caller's.
    // Smaller payloads are a change for the image too: without it, a mount settled after its
    // last save would unmount without saving, and the next would start from the larger image
    // and recompress it all again.
    std::function<void()> after_pass = [this, compact_too = config.auto_compact] {
      note_change();
      if (compact_too) compact();
    };
    recompressor_ = std::make_unique<Recompressor>(&store_, &dicts_, &budget_, &quiesce_mu_,
                                                   recompress, std::move(after_pass), &foreground_);
  }
  if (config.auto_compact) compactor_ = std::thread([this] { compactor_loop(); });
}

Filesystem::Impl::~Impl() {
  image_saver_.reset();
  writeback_.reset();
  recompressor_.reset();
  {
    std::lock_guard lock(compactor_mu_);
    stopping_ = true;
  }
  compactor_cv_.notify_all();
  if (compactor_.joinable()) compactor_.join();
  // Drop every block reference so that the store and the pool end empty (they check it).
  inodes_.for_each([&](Inode& inode) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    inode.blocks.erase_range(0, kMaxBlocks, budget_,
                             [&](uint64_t, BlockRef ref) { store_.unref(ref); });
    if (inode.dir != nullptr) {
      inode.dir.reset();
      budget_.uncharge(sizeof(Directory));
    }
  });
}

timespec Filesystem::Impl::now() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

Attr Filesystem::Impl::attr_of(const Inode& inode) const {
  Attr a;
  a.ino = inode.ino;
  a.generation = inodes_.generation(inode);
  a.mode = inode.mode;
  a.nlink = inode.nlink;
  a.uid = inode.uid;
  a.gid = inode.gid;
  a.rdev = inode.extras != nullptr ? inode.extras->rdev : 0;
  a.size = inode.size;
  a.blocks = inode.blocks.count() * (kBlockSize / 512);
  a.atime = inode.atime;
  a.mtime = inode.mtime;
  a.ctime = inode.ctime;
  return a;
}

bool Filesystem::Impl::doom_if_unreferenced(Inode& inode) {
  if (inode.doomed || inode.ino == kRootIno || !inode.unreferenced()) return false;
  inode.doomed = true;
  return true;
}

void Filesystem::Impl::destroy(Inode* inode) {
  {
    WriterLock lock(inode->mu);
    ZSFS_CHECK(inode->doomed);
    {
      FileAccount account(*this, *inode);
      inode->blocks.erase_range(0, kMaxBlocks, budget_,
                                [&](uint64_t, BlockRef ref) { store_.unref(ref); });
      inode->size = 0;
    }
    uint64_t extra = 0;
    extra += extras_bytes(inode->extras.get());
    if (inode->dir != nullptr) {
      ZSFS_CHECK_MSG(inode->dir->empty(), "destroying a directory that has entries");
      inode->dir.reset();
      extra += sizeof(Directory);
    }
    inode->extras.reset();
    budget_.uncharge(extra);
    extra_bytes_ -= extra;
  }
  inodes_.release(inode);
}

bool Filesystem::Impl::atime_needs_update(const Inode& inode, const timespec& t) const {
  auto before_or_equal = [](const timespec& a, const timespec& b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec);
  };
  // As the kernel's atime_needs_update(): nodiratime spares directories.
  if (!config_.dir_atime && S_ISDIR(inode.mode)) return false;
  switch (config_.atime) {
    case AtimePolicy::kNoatime:
      return false;
    case AtimePolicy::kStrictatime:
      return true;
    case AtimePolicy::kRelatime:
      // As the kernel's relatime: when atime is not newer than mtime or ctime, or a day old.
      return before_or_equal(inode.atime, inode.mtime) ||
             before_or_equal(inode.atime, inode.ctime) ||
             t.tv_sec - inode.atime.sec >= 24 * 60 * 60;
  }
  return false;
}

// --- public methods ------------------------------------------------------------------------

Result<Attr> Filesystem::lookup(Ino parent, std::string_view name) {
  return impl_->lookup(parent, name);
}

void Filesystem::forget(Ino ino, uint64_t nlookup) {
  // Frees at most an inode no name reaches: nothing an image holds changes.
  ReaderLock quiesce(impl_->quiesce_mu());
  impl_->forget(ino, nlookup);
}

Result<Attr> Filesystem::getattr(Ino ino) {
  return impl_->getattr(ino);
}

Result<Attr> Filesystem::setattr(Ino ino, const SetAttr& change, const Caller& caller) {
  Mutation mutation(*impl_);
  return impl_->setattr(ino, change, caller);
}

Result<std::string> Filesystem::readlink(Ino ino) {
  return impl_->readlink(ino);
}

Result<Attr> Filesystem::mknod(Ino parent, std::string_view name, uint32_t mode, uint64_t rdev,
                               const Caller& caller) {
  // mknod(2) with no file type makes a regular file.
  if ((mode & S_IFMT) == 0) mode |= S_IFREG;
  const uint32_t type = mode & S_IFMT;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
      type != S_IFBLK) {
    return Errno{EINVAL};
  }
  Mutation mutation(*impl_);
  return impl_->with_room(
      [&] { return impl_->make_node(parent, name, mode, rdev, {}, caller, false); });
}

Result<Attr> Filesystem::mkdir(Ino parent, std::string_view name, uint32_t mode,
                               const Caller& caller) {
  Mutation mutation(*impl_);
  return impl_->with_room([&] {
    return impl_->make_node(parent, name, S_IFDIR | (mode & 07777), 0, {}, caller, false);
  });
}

Result<Attr> Filesystem::symlink(Ino parent, std::string_view name, std::string_view target,
                                 const Caller& caller) {
  if (target.empty()) return Errno{ENOENT};
  if (target.size() > kSymlinkMax) return Errno{ENAMETOOLONG};
  Mutation mutation(*impl_);
  return impl_->with_room(
      [&] { return impl_->make_node(parent, name, S_IFLNK | 0777, 0, target, caller, false); });
}

Result<Attr> Filesystem::link(Ino ino, Ino new_parent, std::string_view new_name) {
  Mutation mutation(*impl_);
  return impl_->with_room([&] { return impl_->link(ino, new_parent, new_name); });
}

Status Filesystem::unlink(Ino parent, std::string_view name) {
  Mutation mutation(*impl_);
  return impl_->remove(parent, name, false);
}

Status Filesystem::rmdir(Ino parent, std::string_view name) {
  Mutation mutation(*impl_);
  return impl_->remove(parent, name, true);
}

Status Filesystem::rename(Ino parent, std::string_view name, Ino new_parent,
                          std::string_view new_name, unsigned flags, const Caller& caller) {
  Mutation mutation(*impl_);
  return impl_->with_room(
      [&] { return impl_->rename(parent, name, new_parent, new_name, flags, caller); });
}

Status Filesystem::open(Ino ino, int flags) {
  Mutation mutation(*impl_);
  return impl_->open(ino, flags);
}

Result<Attr> Filesystem::create(Ino parent, std::string_view name, uint32_t mode, int flags,
                                const Caller& caller) {
  (void)flags;  // a new file is empty: O_TRUNC has nothing to do, O_EXCL is the kernel's
  Mutation mutation(*impl_);
  return impl_->with_room([&] {
    return impl_->make_node(parent, name, S_IFREG | (mode & 07777), 0, {}, caller, true);
  });
}

Result<Attr> Filesystem::tmpfile(Ino parent, uint32_t mode, int flags, const Caller& caller) {
  ReaderLock quiesce(impl_->quiesce_mu());
  return impl_->with_room(
      [&] { return impl_->tmpfile(parent, mode, (flags & O_EXCL) == 0, caller); });
}

void Filesystem::release(Ino ino) {
  ReaderLock quiesce(impl_->quiesce_mu());
  impl_->release(ino);
}

Result<size_t> Filesystem::read(Ino ino, uint64_t offset, std::span<std::byte> dst) {
  return impl_->read(ino, offset, dst);
}

Result<size_t> Filesystem::write(Ino ino, uint64_t offset, std::span<const std::byte> src,
                                 bool append) {
  Mutation mutation(*impl_);
  return impl_->write(ino, offset, src, append);
}

Status Filesystem::fallocate(Ino ino, int mode, uint64_t offset, uint64_t length) {
  Mutation mutation(*impl_);
  return impl_->fallocate(ino, mode, offset, length);
}

Result<uint64_t> Filesystem::lseek(Ino ino, uint64_t offset, int whence) {
  return impl_->lseek(ino, offset, whence);
}

Result<size_t> Filesystem::copy_file_range(Ino ino_in, uint64_t offset_in, Ino ino_out,
                                           uint64_t offset_out, uint64_t length, unsigned flags) {
  Mutation mutation(*impl_);
  return impl_->copy_file_range(ino_in, offset_in, ino_out, offset_out, length, flags);
}

Status Filesystem::fsync(Ino ino) {
  // Data lives in memory only: there is nothing to flush, but the inode must exist.
  return impl_->getattr(ino).ok() ? Status{} : Status(Errno{ESTALE});
}

Result<bool> Filesystem::kill_suidgid(Ino ino, const Caller& caller) {
  ReaderLock quiesce(impl_->quiesce_mu());
  return impl_->kill_suidgid(ino, caller);
}

Status Filesystem::opendir(Ino ino) {
  return impl_->opendir(ino);
}

Status Filesystem::readdir(Ino dir, uint64_t offset,
                           const std::function<bool(const DirEntry&)>& emit) {
  return impl_->readdir(dir, offset, false,
                        [&](const DirEntry& entry, const Attr*) { return emit(entry); });
}

Status Filesystem::readdirplus(Ino dir, uint64_t offset,
                               const std::function<bool(const DirEntry&, const Attr&)>& emit) {
  return impl_->readdir(dir, offset, true, [&](const DirEntry& entry, const Attr* attr) {
    return emit(entry, *attr);
  });
}

Status Filesystem::setxattr(Ino ino, std::string_view name, std::string_view value, int flags,
                            const Caller& caller) {
  // Setting an action attribute (user.zsfs.save, ...) asks for work; it changes no file.
  if (name.starts_with(kXattrActionPrefix)) {
    ReaderLock quiesce(impl_->quiesce_mu());
    return impl_->setxattr(ino, name, value, flags, caller);
  }
  Mutation mutation(*impl_);
  return impl_->with_room([&] { return impl_->setxattr(ino, name, value, flags, caller); });
}

Result<std::string> Filesystem::getxattr(Ino ino, std::string_view name, const Caller& caller) {
  return impl_->getxattr(ino, name, caller);
}

Result<size_t> Filesystem::getxattr_size(Ino ino, std::string_view name, const Caller& caller) {
  return impl_->getxattr_size(ino, name, caller);
}

Result<std::string> Filesystem::listxattr(Ino ino, const Caller& caller) {
  return impl_->listxattr(ino, caller);
}

Status Filesystem::removexattr(Ino ino, std::string_view name, const Caller& caller) {
  Mutation mutation(*impl_);
  return impl_->removexattr(ino, name, caller);
}

StatFs Filesystem::statfs() {
  return impl_->statfs();
}

void Filesystem::add_stats_section(StatsSection section) {
  impl_->add_stats_section(std::move(section));
}

Stats Filesystem::stats() {
  return impl_->stats();
}
Result<FileStats> Filesystem::file_stats(Ino ino) {
  return impl_->file_stats(ino);
}
std::string Filesystem::classes_text() {
  return impl_->classes_text();
}
uint64_t Filesystem::compact() {
  return impl_->compact();
}
std::string Filesystem::check() {
  return impl_->check();
}
void Filesystem::settle() {
  impl_->settle();
}
Status Filesystem::recompress(uint64_t idle_seconds, bool huge_only) {
  return impl_->recompress(idle_seconds, huge_only);
}
bool Filesystem::recompress_idle() {
  return impl_->recompress_idle();
}
void Filesystem::note_request() {
  impl_->foreground_.note();
}
disk::Problem Filesystem::load_image(const std::string& path, ImageLoadStats* stats) {
  return impl_->load_image(path, stats);
}
disk::Problem Filesystem::save_image(const std::string& path, ImageSaveStats* stats) {
  return impl_->save_image(path, stats);
}
bool Filesystem::changed_since_saved() {
  return impl_->changed_since_saved();
}
disk::Problem Filesystem::open_backing() {
  return impl_->open_backing();
}
Status Filesystem::writeback(uint64_t idle_seconds, bool huge_only) {
  return impl_->writeback(idle_seconds, huge_only);
}
bool Filesystem::writeback_idle() {
  return impl_->writeback_idle();
}
disk::Problem Filesystem::open_image(bool* loaded) {
  return impl_->open_image(loaded);
}
disk::Problem Filesystem::close_image(ImageSaveStats* stats, bool* skipped) {
  return impl_->close_image(stats, skipped);
}

}  // namespace zsfs::fs
