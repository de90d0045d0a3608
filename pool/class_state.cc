// ClassState: allocation, free, lookup, compaction and checks of one size class (class_state.h).
//
// The functions keep mm/zsmalloc.c's shape and names: find_get_zspage, alloc_zspage, obj_malloc
// (take_slot), obj_free (put_slot), fix_fullness_group, isolate_src/dst_zspage, migrate_zspage,
// putback_zspage, free_zspage, zs_can_compact.
#include "pool/class_state.h"

#include <cerrno>
#include <vector>

#include "base/check.h"

namespace zsfs::pool::detail {

namespace {

constexpr int kFirstPartialGroup = 1;                        // ZS_INUSE_RATIO_10
constexpr int kLastPartialGroup = int{kFullnessGroups} - 2;  // ZS_INUSE_RATIO_99

}  // namespace

ClassState::ClassState(const SizeClass& info, PageSource* source, MemoryBudget* budget,
                       std::atomic<uint64_t>* pool_metadata_bytes, ChangeTracker* changes)
    : info_(info),
      source_(source),
      changes_(changes),
      account_(budget, pool_metadata_bytes),
      handles_(&account_) {}

ClassState::~ClassState() {
  WriterLock lock(mu);
  for (uint32_t id = 0; id < zspages_.size(); ++id) {
    if (!zspages_.holds(id)) continue;
    Zspage* zspage = zspages_.at(id);
    source_->release(std::span<std::byte* const>(zspage->pages(), zspage->nr_pages));
    account_.uncharge(Zspage::bytes_for(info_));
    Zspage::destroy(zspage);
  }
  zspages_.release(account_);
  handles_.release();
}

// --- allocation and free -------------------------------------------------------------------

Result<Handle> ClassState::allocate(uint32_t size_bytes) {
  ZSFS_DCHECK(size_bytes >= 1 && size_bytes <= info_.size_bytes);
  // find_get_zspage(): the fullest non-full zspage.
  Zspage* zspage = nullptr;
  for (int group = kLastPartialGroup; group >= 0 && zspage == nullptr; --group) {
    zspage = group_head_[static_cast<size_t>(group)];
  }
  const bool need_zspage = zspage == nullptr;
  const bool need_entries = !handles_.has_free();
  if ((need_entries && !handles_.can_grow()) || (need_zspage && !zspages_.can_insert())) {
    return Errno{ENOMEM};
  }

  // A new zspage or table chunk is a structural change (see ChangeTracker); nothing else is.
  std::optional<ChangeScope> change;
  if (need_entries || need_zspage) change.emplace(changes_);
  // 1. All the heap metadata this allocation may add, charged at once.
  const uint64_t metadata =
      (need_entries ? handles_.grow_bytes() : 0) + (need_zspage ? zspage_metadata_bytes() : 0);
  if (!account_.try_charge(metadata)) return Errno{ENOSPC};
  Precharge charge(&account_, metadata);
  // 2. The pages, which the source charges one by one. Up to here a refusal changes nothing.
  std::array<std::byte*, kMaxChainPages> pages{};
  const auto chain = std::span(pages).first(need_zspage ? info_.pages_per_zspage : 0);
  ZSFS_TRY_STATUS(take_pages(chain));
  // 3. The heap, last: only the host can refuse now, and what it granted stays, paid for.
  if (need_entries && !handles_.grow(charge)) {
    source_->release(chain);
    return Errno{ENOMEM};
  }
  if (need_zspage) {
    zspage = install_zspage(chain, charge);
    if (zspage == nullptr) {
      source_->release(chain);
      return Errno{ENOMEM};
    }
  }

  // obj_malloc(), then fix_fullness_group() (insert_zspage() for a new zspage).
  const uint32_t index = handles_.take_free();
  const uint32_t generation = next_generation(entry_generation(handles_[index]));
  const uint32_t slot = zspage->take_slot(index);
  handles_[index] = live_entry(generation, ObjectPlace{zspage->id, slot, size_bytes});
  if (need_zspage) {
    insert_zspage(zspage);
  } else {
    fix_fullness_group(zspage);
  }
  ++objects_in_use_;
  bytes_in_use_ += size_bytes;
  return make_handle(generation, info_.index, index);
}

void ClassState::free(Handle handle, PageRelease* release) {
  const uint32_t index = checked_entry_index(handle);
  const ObjectPlace place = entry_place(handles_[index]);
  Zspage* zspage = zspages_.at(place.zspage_id);
  ZSFS_CHECK_MSG(zspage->slots()[place.slot] == index, "handle entry and slot disagree");
  zspage->put_slot(place.slot);
  handles_.put_free(index);
  --objects_in_use_;
  bytes_in_use_ -= place.size_bytes;
  if (zspage->empty()) {
    remove_zspage(zspage);
    free_zspage(zspage, release);
  } else {
    fix_fullness_group(zspage);
  }
  if (objects_in_use_ == 0) {
    // The class is empty (so is its zspage directory): give its tables back, so that memory
    // returns to what an unused class costs when every file is deleted.
    ZSFS_CHECK_MSG(zspages_.nr_free() == zspages_.size(), "an empty class holds a zspage");
    handles_.release_empty();
    zspages_.release(account_);
  }
}

uint64_t ClassState::zspage_metadata_bytes() const {
  return Zspage::bytes_for(info_) + zspages_.insert_growth_bytes();
}

Status ClassState::take_pages(std::span<std::byte*> chain) {
  // One page at a time: the chain need not be contiguous.
  for (size_t i = 0; i < chain.size(); ++i) {
    Result<std::byte*> page = source_->allocate();
    if (!page.ok()) {
      source_->release(chain.first(i));
      return Errno{page.error()};
    }
    chain[i] = *page;
  }
  return ok_status();
}

Zspage* ClassState::install_zspage(std::span<std::byte* const> chain, Precharge& charge) {
  if (!zspages_.reserve_for_insert(charge)) return nullptr;
  Zspage* zspage = Zspage::create(info_, chain);
  if (zspage == nullptr) return nullptr;
  charge.use(Zspage::bytes_for(info_));
  zspages_.insert(zspage);
  ++nr_zspages_;
  return zspage;
}

void ClassState::free_zspage(Zspage* zspage, PageRelease* release) {
  ZSFS_CHECK(zspage->empty() && release->count == 0);
  changes_->begin();  // ended by whoever releases the pages
  zspages_.erase(zspage->id);
  release->count = zspage->nr_pages;
  std::copy_n(zspage->pages(), zspage->nr_pages, release->pages.begin());
  --nr_zspages_;
  account_.uncharge(Zspage::bytes_for(info_));
  Zspage::destroy(zspage);
}

// --- lookup --------------------------------------------------------------------------------

uint32_t ClassState::checked_entry_index(Handle handle) const {
  const uint32_t index = handle_entry_index(handle);
  if (index >= handles_.capacity()) {
    // Past the table: never allocated, or freed with every other object of its class, after
    // which the table was given back (its generations are then at or below the floor).
    ZSFS_CHECK_MSG(handle_generation(handle) > handles_.generation_floor(),
                   "handle is not live: already freed (its class has emptied since)");
    ZSFS_CHECK_MSG(false, "handle names no entry: never allocated");
  }
  const uint64_t entry = handles_[index];
  ZSFS_CHECK_MSG(entry_live(entry), "handle is not live: never allocated, or already freed");
  ZSFS_CHECK_MSG(entry_generation(entry) == handle_generation(handle),
                 "stale handle: its object was freed and the entry reused");
  return index;
}

Extent ClassState::locate(Handle handle) const {
  const ObjectPlace place = entry_place(handles_[checked_entry_index(handle)]);
  return zspages_.at(place.zspage_id)->extent(place.slot, info_.size_bytes, place.size_bytes);
}

uint32_t ClassState::object_size(Handle handle) const {
  return entry_place(handles_[checked_entry_index(handle)]).size_bytes;
}

// --- fullness groups -----------------------------------------------------------------------

void ClassState::insert_zspage(Zspage* zspage) {
  const unsigned group = fullness_group(zspage->inuse, info_.objects_per_zspage);
  zspage->fullness = static_cast<uint8_t>(group);
  zspage->prev = nullptr;
  zspage->next = group_head_[group];
  if (zspage->next != nullptr) zspage->next->prev = zspage;
  group_head_[group] = zspage;
  ++group_count_[group];
}

void ClassState::remove_zspage(Zspage* zspage) {
  const unsigned group = zspage->fullness;
  if (zspage->prev != nullptr) {
    zspage->prev->next = zspage->next;
  } else {
    ZSFS_CHECK(group_head_[group] == zspage);
    group_head_[group] = zspage->next;
  }
  if (zspage->next != nullptr) zspage->next->prev = zspage->prev;
  zspage->prev = zspage->next = nullptr;
  --group_count_[group];
}

void ClassState::fix_fullness_group(Zspage* zspage) {
  if (fullness_group(zspage->inuse, info_.objects_per_zspage) == zspage->fullness) return;
  remove_zspage(zspage);
  insert_zspage(zspage);
}

Zspage* ClassState::isolate_first(int from, int to, int step) {
  for (int group = from; group != to + step; group += step) {
    Zspage* zspage = group_head_[static_cast<size_t>(group)];
    if (zspage != nullptr) {
      remove_zspage(zspage);
      return zspage;
    }
  }
  return nullptr;
}

// --- compaction ----------------------------------------------------------------------------

uint64_t ClassState::freeable_pages() const {
  const uint64_t allocated = nr_zspages_ * info_.objects_per_zspage;
  if (allocated <= objects_in_use_) return 0;
  return (allocated - objects_in_use_) / info_.objects_per_zspage * info_.pages_per_zspage;
}

bool ClassState::compact_step(PageRelease* release) {
  if (freeable_pages() == 0) return false;
  // isolate_dst_zspage(): the fullest partial zspage; isolate_src_zspage(): the emptiest.
  Zspage* dst = isolate_first(kLastPartialGroup, kFirstPartialGroup, -1);
  if (dst == nullptr) return false;
  Zspage* src = isolate_first(kFirstPartialGroup, kLastPartialGroup, +1);
  if (src == nullptr) {
    insert_zspage(dst);
    return false;
  }
  migrate(src, dst);
  // putback_zspage(), source first, as __zs_compact() does.
  if (src->empty()) {
    pages_compacted_ += src->nr_pages;
    free_zspage(src, release);
  } else {
    insert_zspage(src);
  }
  insert_zspage(dst);
  return true;
}

void ClassState::migrate(Zspage* src, Zspage* dst) {
  // migrate_zspage(): the source's objects in slot order, until it empties or dst fills.
  for (uint32_t slot = 0; slot < src->nr_slots && !src->empty() && !dst->full(); ++slot) {
    const uint32_t word = src->slots()[slot];
    if (slot_free(word)) continue;
    uint64_t& entry = handles_[word];
    const ObjectPlace from = entry_place(entry);
    ZSFS_CHECK_MSG(from.zspage_id == src->id && from.slot == slot,
                   "slot names an entry that does not name it back");
    const uint32_t to_slot = dst->take_slot(word);
    copy_object(src->extent(slot, info_.size_bytes, from.size_bytes),
                dst->extent(to_slot, info_.size_bytes, from.size_bytes));
    entry = live_entry(entry_generation(entry), ObjectPlace{dst->id, to_slot, from.size_bytes});
    src->put_slot(slot);
  }
}

// --- statistics and checks -----------------------------------------------------------------

ClassStats ClassState::stats() const {
  ClassStats s;
  s.size_class = info_;
  s.zspages = nr_zspages_;
  s.pages = nr_zspages_ * info_.pages_per_zspage;
  s.objects_allocated = nr_zspages_ * info_.objects_per_zspage;
  s.objects_in_use = objects_in_use_;
  s.bytes_in_use = bytes_in_use_;
  s.fullness = group_count_;
  s.pages_compacted = pages_compacted_;
  s.freeable_pages = freeable_pages();
  s.metadata_bytes = account_.bytes();
  return s;
}

ClassTotals ClassState::check_invariants(const SizeClassTable& table) const {
  // Fullness lists: every zspage in the group its inuse maps to, counted, linked both ways.
  // listed[id]: the zspage with that id was seen in a list (ids index the directory).
  std::vector<bool> listed(zspages_.size());
  uint64_t nr_listed = 0;
  uint64_t inuse_total = 0;
  for (unsigned group = 0; group < kFullnessGroups; ++group) {
    uint64_t count = 0;
    const Zspage* prev = nullptr;
    for (const Zspage* z = group_head_[group]; z != nullptr; prev = z, z = z->next) {
      ZSFS_CHECK_MSG(zspages_.holds(z->id) && zspages_.at(z->id) == z,
                     "listed zspage not in the directory at its id");
      ZSFS_CHECK_MSG(!listed[z->id], "zspage in two fullness lists (or a list cycle)");
      listed[z->id] = true;
      ++nr_listed;
      ZSFS_CHECK_MSG(z->prev == prev, "fullness list back link broken");
      ZSFS_CHECK_MSG(z->fullness == group, "zspage records a group other than its list's");
      ZSFS_CHECK_MSG(fullness_group(z->inuse, info_.objects_per_zspage) == group,
                     "zspage in the wrong fullness group for its inuse count");
      inuse_total += z->inuse;
      ++count;
    }
    ZSFS_CHECK_MSG(count == group_count_[group], "fullness group count wrong");
  }
  ZSFS_CHECK_MSG(group_count_[0] == 0, "an empty zspage was not freed");
  ZSFS_CHECK_MSG(nr_listed == nr_zspages_, "zspage count differs from the fullness lists");
  ZSFS_CHECK_MSG(inuse_total == objects_in_use_, "objects in use differ from the zspages' sum");

  // Directory and per-zspage slots: free lists exact, allocated slots named back by their entry.
  zspages_.check_free_chain();
  ZSFS_CHECK_MSG(zspages_.size() - zspages_.nr_free() == nr_zspages_,
                 "directory holds a different number of zspages");
  for (uint32_t id = 0; id < zspages_.size(); ++id) {
    if (!zspages_.holds(id)) continue;
    const Zspage* z = zspages_.at(id);
    ZSFS_CHECK_MSG(z->id == id, "zspage id differs from its directory index");
    ZSFS_CHECK_MSG(listed[id], "zspage in the directory but in no fullness list");
    ZSFS_CHECK_MSG(z->nr_pages == info_.pages_per_zspage && z->nr_slots == info_.objects_per_zspage,
                   "zspage shape differs from its class");
    for (unsigned p = 0; p < z->nr_pages; ++p)
      ZSFS_CHECK_MSG(z->pages()[p] != nullptr, "null page");
    uint32_t free_count = 0;
    for (uint32_t slot = z->free_head; slot != kNoSlot; ++free_count) {
      ZSFS_CHECK_MSG(slot < z->nr_slots && free_count < z->nr_slots,
                     "zspage free list out of range or cyclic");
      ZSFS_CHECK_MSG(slot_free(z->slots()[slot]), "zspage free list holds an allocated slot");
      slot = z->slots()[slot] & ~kSlotFree;
    }
    uint32_t allocated = 0;
    for (uint32_t slot = 0; slot < z->nr_slots; ++slot) {
      const uint32_t word = z->slots()[slot];
      if (slot_free(word)) continue;
      ++allocated;
      ZSFS_CHECK_MSG(word < handles_.capacity(), "slot names no handle entry");
      const uint64_t entry = handles_[word];
      ZSFS_CHECK_MSG(entry_live(entry), "allocated slot names a free handle entry");
      const ObjectPlace place = entry_place(entry);
      ZSFS_CHECK_MSG(place.zspage_id == id && place.slot == slot,
                     "allocated slot's handle entry points elsewhere");
    }
    ZSFS_CHECK_MSG(allocated == z->inuse && free_count + allocated == z->nr_slots,
                   "zspage inuse count differs from its slots");
  }

  // Handle table: every live entry points at an allocated slot that points back.
  uint64_t live = 0;
  uint64_t bytes = 0;
  handles_.for_each_entry([&](uint32_t index, uint64_t entry) ZSFS_NO_THREAD_SAFETY_ANALYSIS {
    if (!entry_live(entry)) return;
    ++live;
    ZSFS_CHECK_MSG(entry_generation(entry) != 0, "live handle entry with generation 0");
    const ObjectPlace place = entry_place(entry);
    ZSFS_CHECK_MSG(zspages_.holds(place.zspage_id), "live handle entry names no zspage");
    const Zspage* z = zspages_.at(place.zspage_id);
    ZSFS_CHECK_MSG(place.slot < z->nr_slots && z->slots()[place.slot] == index,
                   "live handle entry's slot does not name it back");
    ZSFS_CHECK_MSG(table.class_for_size(place.size_bytes).index == info_.index,
                   "object size does not belong to its class");
    bytes += place.size_bytes;
  });
  ZSFS_CHECK_MSG(live == objects_in_use_, "live handle entries differ from objects in use");
  handles_.check_free_list();
  ZSFS_CHECK_MSG(live + handles_.nr_free() == handles_.capacity(),
                 "handle entries neither live nor free");
  ZSFS_CHECK_MSG(bytes == bytes_in_use_, "bytes in use differ from the live objects' sizes");

  const uint64_t metadata = handles_.metadata_bytes() + zspages_.metadata_bytes() +
                            nr_zspages_ * Zspage::bytes_for(info_);
  ZSFS_CHECK_MSG(metadata == account_.bytes(), "class metadata charges differ from its structures");
  return ClassTotals{nr_zspages_ * info_.pages_per_zspage, metadata};
}

}  // namespace zsfs::pool::detail
