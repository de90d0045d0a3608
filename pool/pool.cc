// Pool: the public face of the allocator. Routes each call to its size class under that class's
// lock, implements the scoped access guards, and runs compaction class by class.
//
// Owns the class table, the page source and one ClassState per merged class (destroyed before the
// page source, to which they return their pages). Locking is described at the top of pool.h; in
// short: one class lock at a time, exclusive to change a class, shared to look up and for a
// guard's whole life; pages of freed zspages are released only after the class lock is dropped.
//
// Per-thread state: t_in_access (this thread holds a guard) and t_bounce, the buffer through which
// an object that straddles two pages is served. Invariants: t_in_access is true exactly while
// this thread holds a guard, and then it holds that guard's class lock shared; one guard per
// thread at a time keeps t_bounce unshared.
#include "pool/pool.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "base/check.h"
#include "base/sync.h"
#include "pool/class_state.h"
#include "pool/handle.h"
#include "pool/page_source.h"

namespace zsfs::pool {

using detail::ClassState;
using detail::Extent;
using detail::PageRelease;

namespace {

thread_local bool t_in_access = false;
alignas(64) thread_local std::array<std::byte, kMaxObjectSize> t_bounce;

void check_not_in_access() {
  ZSFS_CHECK_MSG(!t_in_access, "pool call while this thread holds a ReadGuard or WriteGuard");
}

}  // namespace

struct Pool::Impl {
  Impl(const PoolConfig& config, MemoryBudget* budget_in)
      : budget(budget_in), table(config.max_pages_per_zspage), source(budget_in) {
    classes.reserve(table.classes().size());
    for (const SizeClass& c : table.classes()) {
      classes.push_back(
          std::make_unique<ClassState>(c, &source, budget, &metadata_bytes, &changes));
    }
  }

  ClassState& class_of(Handle handle) const {
    ZSFS_CHECK_MSG(handle != kNullHandle, "null handle");
    ZSFS_CHECK_MSG(detail::handle_well_formed(handle), "malformed handle: never allocated");
    const uint32_t index = detail::handle_class(handle);
    ZSFS_CHECK_MSG(index < classes.size(), "handle names no size class: never allocated");
    return *classes[index];
  }

  // Gives a freed zspage's pages back to the operating system, which completes the change the
  // freeing began. Called without a class lock.
  void release(const PageRelease& release) {
    if (release.count == 0) return;
    source.release(std::span(release.pages).first(release.count));
    changes.end();
  }

  MemoryBudget* const budget;
  const SizeClassTable table;
  std::atomic<uint64_t> metadata_bytes{0};
  detail::ChangeTracker changes;
  PageSource source;
  std::vector<std::unique_ptr<ClassState>> classes;  // after source: destroyed before it
};

// --- creation ------------------------------------------------------------------------------

Result<std::unique_ptr<Pool>> Pool::create(const PoolConfig& config, MemoryBudget* budget) {
  if (budget == nullptr || config.max_pages_per_zspage < kMinChainPages ||
      config.max_pages_per_zspage > kMaxChainPages) {
    return Errno{EINVAL};
  }
  try {
    return std::unique_ptr<Pool>(new Pool(std::make_unique<Impl>(config, budget)));
  } catch (const std::bad_alloc&) {
    return Errno{ENOMEM};
  }
}

Pool::Pool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pool::~Pool() {
  check_not_in_access();
}

// --- allocation ----------------------------------------------------------------------------

Result<Handle> Pool::allocate(size_t size_bytes) {
  check_not_in_access();
  if (size_bytes == 0 || size_bytes > kMaxObjectSize) return Errno{EINVAL};
  ClassState& cls = *impl_->classes[impl_->table.class_for_size(size_bytes).index];
  WriterLock lock(cls.mu);
  return cls.allocate(static_cast<uint32_t>(size_bytes));
}

Result<Handle> Pool::store(std::span<const std::byte> bytes) {
  check_not_in_access();
  if (bytes.empty() || bytes.size() > kMaxObjectSize) return Errno{EINVAL};
  ClassState& cls = *impl_->classes[impl_->table.class_for_size(bytes.size()).index];
  WriterLock lock(cls.mu);
  Result<Handle> handle = cls.allocate(static_cast<uint32_t>(bytes.size()));
  if (handle.ok()) cls.locate(*handle).copy_in(bytes.data());
  return handle;
}

void Pool::free(Handle handle) {
  check_not_in_access();
  ClassState& cls = impl_->class_of(handle);
  PageRelease release;
  {
    WriterLock lock(cls.mu);
    cls.free(handle, &release);
  }
  impl_->release(release);
}

size_t Pool::object_size(Handle handle) const {
  check_not_in_access();
  const ClassState& cls = impl_->class_of(handle);
  ReaderLock lock(cls.mu);
  return cls.object_size(handle);
}

// --- access --------------------------------------------------------------------------------

// The class lock is taken here and released by the guard (end_access), which the analysis cannot
// follow across functions.
ReadGuard Pool::read(Handle handle) const ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  check_not_in_access();
  const ClassState& cls = impl_->class_of(handle);
  cls.mu.lock_shared();
  t_in_access = true;
  const Extent extent = cls.locate(handle);
  if (!extent.straddles())
    return ReadGuard(this, cls.info().index, {extent.first, extent.size_bytes});
  extent.copy_out(t_bounce.data());
  return ReadGuard(this, cls.info().index, {t_bounce.data(), extent.size_bytes});
}

WriteGuard Pool::write(Handle handle) {
  return write_access(handle, /*fill_buffer=*/true);
}

WriteGuard Pool::write_access(Handle handle, bool fill_buffer) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  check_not_in_access();
  const ClassState& cls = impl_->class_of(handle);
  cls.mu.lock_shared();
  t_in_access = true;
  const Extent extent = cls.locate(handle);
  if (!extent.straddles()) {
    return WriteGuard(this, cls.info().index, {extent.first, extent.size_bytes}, nullptr, 0,
                      nullptr);
  }
  if (fill_buffer) extent.copy_out(t_bounce.data());
  return WriteGuard(this, cls.info().index, {t_bounce.data(), extent.size_bytes}, extent.first,
                    extent.first_bytes, extent.second);
}

void Pool::end_access(unsigned class_index) const ZSFS_NO_THREAD_SAFETY_ANALYSIS {
  ZSFS_CHECK_MSG(t_in_access, "guard ended on a thread that holds none");
  t_in_access = false;
  impl_->classes[class_index]->mu.unlock_shared();
}

void Pool::read_bytes(Handle handle, std::span<std::byte> dst) const {
  const ReadGuard guard = read(handle);
  ZSFS_CHECK_MSG(dst.size() == guard.bytes().size(), "read_bytes: size differs from the object's");
  std::memcpy(dst.data(), guard.bytes().data(), dst.size());
}

void Pool::write_bytes(Handle handle, std::span<const std::byte> src) {
  const WriteGuard guard = write_access(handle, /*fill_buffer=*/false);
  ZSFS_CHECK_MSG(src.size() == guard.bytes().size(), "write_bytes: size differs from the object's");
  std::memcpy(guard.bytes().data(), src.data(), src.size());
}

ReadGuard::ReadGuard(const Pool* pool, unsigned class_index, std::span<const std::byte> bytes)
    : pool_(pool), class_index_(class_index), bytes_(bytes) {}

ReadGuard::ReadGuard(ReadGuard&& other) noexcept
    : pool_(other.pool_), class_index_(other.class_index_), bytes_(other.bytes_) {
  other.pool_ = nullptr;
  other.bytes_ = {};
}

ReadGuard::~ReadGuard() {
  if (pool_ != nullptr) pool_->end_access(class_index_);
}

WriteGuard::WriteGuard(Pool* pool, unsigned class_index, std::span<std::byte> bytes,
                       std::byte* first_piece, size_t first_piece_bytes, std::byte* second_piece)
    : pool_(pool),
      class_index_(class_index),
      bytes_(bytes),
      first_piece_(first_piece),
      first_piece_bytes_(first_piece_bytes),
      second_piece_(second_piece) {}

WriteGuard::WriteGuard(WriteGuard&& other) noexcept
    : pool_(other.pool_),
      class_index_(other.class_index_),
      bytes_(other.bytes_),
      first_piece_(other.first_piece_),
      first_piece_bytes_(other.first_piece_bytes_),
      second_piece_(other.second_piece_) {
  other.pool_ = nullptr;
  other.bytes_ = {};
  other.first_piece_ = other.second_piece_ = nullptr;
}

WriteGuard::~WriteGuard() {
  if (pool_ == nullptr) return;
  if (second_piece_ != nullptr) {
    std::memcpy(first_piece_, bytes_.data(), first_piece_bytes_);
    std::memcpy(second_piece_, bytes_.data() + first_piece_bytes_,
                bytes_.size() - first_piece_bytes_);
  }
  pool_->end_access(class_index_);
}

// --- compaction ----------------------------------------------------------------------------

uint64_t Pool::compact() {
  check_not_in_access();
  uint64_t pages_freed = 0;
  // Largest class first, as zs_compact() does.
  for (auto it = impl_->classes.rbegin(); it != impl_->classes.rend(); ++it) {
    ClassState& cls = **it;
    // Without concurrent frees every step takes a zspage out of the partial ones (the source
    // empties or the destination fills), so this bounds the work of one call.
    uint64_t steps_left;
    {
      ReaderLock lock(cls.mu);
      steps_left = cls.nr_zspages();
    }
    for (; steps_left > 0; --steps_left) {
      PageRelease release;
      bool progressed;
      {
        WriterLock lock(cls.mu);
        progressed = cls.compact_step(&release);
      }
      pages_freed += release.count;
      impl_->release(release);
      if (!progressed) break;
    }
  }
  // Compaction is when memory should go back: the page source's cache of free pages too.
  impl_->source.purge();
  return pages_freed;
}

void Pool::trim() {
  impl_->source.purge();
}

size_t Pool::populate_ahead(size_t pages) {
  return impl_->source.populate_ahead(pages);
}

// --- introspection -------------------------------------------------------------------------

size_t Pool::huge_class_size() const {
  return impl_->table.huge_class_size();
}

const SizeClassTable& Pool::class_table() const {
  return impl_->table;
}

uint64_t Pool::metadata_bytes() const {
  return impl_->metadata_bytes.load(std::memory_order_relaxed);
}

PoolStats Pool::stats() const {
  check_not_in_access();
  PoolStats s;
  s.classes.reserve(impl_->classes.size());
  for (const auto& cls : impl_->classes) {
    ReaderLock lock(cls->mu);
    s.classes.push_back(cls->stats());
  }
  for (const ClassStats& c : s.classes) {
    s.objects += c.objects_in_use;
    s.bytes_stored += c.bytes_in_use;
    if (c.size_class.huge) s.huge_objects += c.objects_in_use;
    s.pages_compacted += c.pages_compacted;
  }
  s.pages_held = impl_->source.pages_held();
  s.metadata_bytes = metadata_bytes();
  s.huge_class_size = impl_->table.huge_class_size();
  return s;
}

void Pool::check_invariants() const {
  check_not_in_access();
  // Each class is checked under its own lock, one at a time. The pool-wide sums are compared
  // only when no structural change overlapped the whole pass (see ChangeTracker); while the pool
  // keeps changing, a few passes are tried, and then only the classes count as checked.
  // A quiescent pool passes the first time; a busy one may not stay quiet for a whole pass, and
  // more passes mostly cost time: its classes are checked exactly on every pass anyway.
  constexpr int kPasses = 4;
  for (int pass = 0; pass < kPasses; ++pass) {
    const detail::ChangeTracker::Mark mark = impl_->changes.mark();
    detail::ClassTotals totals;
    for (const auto& cls : impl_->classes) {
      ReaderLock lock(cls->mu);
      const detail::ClassTotals t = cls->check_invariants(impl_->table);
      totals.pages += t.pages;
      totals.metadata_bytes += t.metadata_bytes;
    }
    const uint64_t held = impl_->source.pages_held();
    const uint64_t metadata = metadata_bytes();
    const uint64_t budget_used = impl_->budget->used_bytes();
    if (!impl_->changes.quiet_since(mark)) continue;
    ZSFS_CHECK_MSG(held == totals.pages,
                   "pages held by the page source differ from the pages of the classes' zspages");
    ZSFS_CHECK_MSG(metadata == totals.metadata_bytes,
                   "pool metadata total differs from the classes' charges");
    // The budget may carry other users' charges (the filesystem's), never less than the pool's.
    ZSFS_CHECK_MSG(budget_used >= held * kPageSize + metadata,
                   "budget holds less than the pool's pages and metadata");
    return;
  }
}

}  // namespace zsfs::pool
