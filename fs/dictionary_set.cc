// DictionarySet (see dictionary_set.h).
#include "fs/dictionary_set.h"

#include <cerrno>

#include "base/check.h"

namespace zsfs::fs {

DictionarySet::DictionarySet(MemoryBudget* budget, std::vector<int> levels)
    : budget_(budget), levels_(std::move(levels)) {}

DictionarySet::~DictionarySet() {
  retire_current();
  for (DictSlot s = 1; s <= kMaxDictSlots; ++s) {
    ZSFS_CHECK_MSG(slots_[s].refs.load() == 0, "dictionary set destroyed while blocks use it");
  }
  ZSFS_CHECK(charged_bytes_.load() == 0);
}

DictionarySet::Pin& DictionarySet::Pin::operator=(Pin&& other) noexcept {
  if (this != &other) {
    reset();
    set_ = other.set_;
    slot_ = other.slot_;
    compressing_ = other.compressing_;
    other.slot_ = kNoDict;
    other.compressing_ = false;
  }
  return *this;
}

void DictionarySet::Pin::reset() {
  if (slot_ == kNoDict) return;
  if (compressing_) set_->end_compression(slot_);
  set_->unref(slot_);
  slot_ = kNoDict;
  compressing_ = false;
}

Result<std::unique_ptr<codec::Dictionary>> DictionarySet::digest(
    std::span<const std::byte> bytes) const {
  return codec::Dictionary::create(bytes, levels_);
}

void DictionarySet::place_locked(DictSlot slot, std::unique_ptr<codec::Dictionary> dict,
                                 uint64_t cost) {
  Slot& s = slots_[slot];
  s.dict = std::move(dict);
  s.charged_bytes = cost;
  s.blocks.store(0, std::memory_order_relaxed);
  s.stored_bytes.store(0, std::memory_order_relaxed);
  charged_bytes_.fetch_add(cost, std::memory_order_relaxed);
  s.refs.store(1, std::memory_order_release);
  s.retired = false;
  s.resting = false;
  installed_.fetch_add(1, std::memory_order_relaxed);
}

Result<DictSlot> DictionarySet::install(std::span<const std::byte> bytes) {
  Result<std::unique_ptr<codec::Dictionary>> dict = digest(bytes);
  if (!dict.ok()) return Errno{dict.error()};
  return install(std::move(*dict));
}

Result<DictSlot> DictionarySet::install(std::unique_ptr<codec::Dictionary> dict) {
  const uint64_t cost = dict->memory_bytes();
  DictSlot free_slot = kNoDict;
  DictSlot previous = kNoDict;
  {
    MutexLock lock(mu_);
    for (DictSlot s = 1; s <= kMaxDictSlots && free_slot == kNoDict; ++s) {
      if (slots_[s].refs.load(std::memory_order_acquire) == 0 && slots_[s].dict == nullptr) {
        free_slot = s;
      }
    }
    if (free_slot == kNoDict || !budget_->try_charge(cost)) return Errno{ENOSPC};
    // The reference place_locked() gives is the set's own, for as long as it is current.
    place_locked(free_slot, std::move(dict), cost);
    previous = current_.exchange(free_slot);
    if (previous != kNoDict) retire_locked(previous);
  }
  if (previous != kNoDict) unref(previous);
  return free_slot;
}

Result<DictionarySet::Pin> DictionarySet::install_in_slot(DictSlot slot,
                                                          std::span<const std::byte> bytes,
                                                          bool current) {
  if (slot == kNoDict || slot > kMaxDictSlots) return Errno{EINVAL};
  // The decompression form only: a load needs nothing else, and digesting the compression forms
  // (two levels) took 0.3-0.4 s of the 1.2-1.3 s that loading the Linux tree's settled image
  // took, before its blocks could start. The current one comes resting, and the first
  // compression digests its forms.
  Result<std::unique_ptr<codec::Dictionary>> dict = codec::Dictionary::create(bytes, {});
  if (!dict.ok()) return Errno{dict.error()};
  const uint64_t cost = (*dict)->memory_bytes();
  DictSlot previous = kNoDict;
  {
    MutexLock lock(mu_);
    if (slots_[slot].refs.load(std::memory_order_acquire) != 0 || slots_[slot].dict != nullptr) {
      return Errno{EEXIST};
    }
    if (!budget_->try_charge(cost)) return Errno{ENOSPC};
    place_locked(slot, std::move(*dict), cost);  // its reference is the caller's pin
    if (current) {
      slots_[slot].refs.fetch_add(1, std::memory_order_relaxed);  // the set's own
      slots_[slot].resting = true;
      previous = current_.exchange(slot);
      if (previous != kNoDict) retire_locked(previous);
    } else {
      retire_locked(slot);  // only old blocks use it
    }
  }
  if (previous != kNoDict) unref(previous);
  return Pin(this, slot, false);
}

void DictionarySet::retire_current() {
  const DictSlot previous = [&] {
    MutexLock lock(mu_);
    const DictSlot slot = current_.exchange(kNoDict);
    if (slot != kNoDict) retire_locked(slot);
    return slot;
  }();
  if (previous != kNoDict) unref(previous);
}

void DictionarySet::retire_locked(DictSlot slot) const {
  slots_[slot].retired = true;
  slots_[slot].resting = false;  // its forms go for good
  if (slots_[slot].compressors.load(std::memory_order_acquire) == 0) drop_forms_locked(slot);
}

void DictionarySet::drop_forms_locked(DictSlot slot) const {
  Slot& s = slots_[slot];
  if (s.dict == nullptr) return;
  const uint64_t freed = s.dict->drop_compression_forms();
  s.charged_bytes -= freed;
  charged_bytes_.fetch_sub(freed, std::memory_order_relaxed);
  budget_->uncharge(freed);
}

void DictionarySet::end_compression(DictSlot slot) const {
  if (slots_[slot].compressors.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  MutexLock lock(mu_);
  // The last compression: if the slot was retired meanwhile, nothing compresses with it again.
  if (slots_[slot].retired && slots_[slot].compressors.load(std::memory_order_acquire) == 0) {
    drop_forms_locked(slot);
  }
}

void DictionarySet::retire_current_if_unused() {
  const DictSlot previous = [&] {
    MutexLock lock(mu_);
    const DictSlot slot = current_.load();
    if (slot == kNoDict || slots_[slot].blocks.load(std::memory_order_relaxed) != 0) {
      return kNoDict;
    }
    retire_locked(slot);
    return current_.exchange(kNoDict);
  }();
  if (previous != kNoDict) unref(previous);
}

DictionarySet::Pin DictionarySet::current() const {
  for (;;) {
    DictSlot slot;
    {
      // Under mu_: the current slot cannot lose the set's reference between the load and ref(),
      // and rest_current() cannot drop the forms before the compressor is counted.
      MutexLock lock(mu_);
      slot = current_.load();
      if (slot == kNoDict) return Pin();
      ref(slot);
      if (!slots_[slot].resting) {
        slots_[slot].compressors.fetch_add(1, std::memory_order_acq_rel);
        return Pin(this, slot, true);
      }
    }
    Pin held(this, slot, false);  // keeps the dictionary while it wakes; dropped outside mu_
    const Wake woken = wake(slot);
    if (woken == Wake::kRefused) return Pin();
    if (woken == Wake::kAwake) {
      MutexLock lock(mu_);
      if (current_.load() == slot && !slots_[slot].resting) {
        slots_[slot].compressors.fetch_add(1, std::memory_order_acq_rel);
        held.compressing_ = true;
        return held;
      }
    }
    // Replaced, or put to rest again, meanwhile: look again.
  }
}

DictionarySet::Wake DictionarySet::wake(DictSlot slot) const {
  std::lock_guard one_waker(wake_mu_);
  const codec::Dictionary* dict = nullptr;
  {
    MutexLock lock(mu_);
    if (current_.load() != slot) return Wake::kReplaced;
    if (!slots_[slot].resting) return Wake::kAwake;  // by the waker before this one
    dict = slots_[slot].dict.get();                  // kept by the caller's reference
  }
  // Outside mu_, which shard locks take: digesting takes up to 0.2 s (1 MiB at level 15).
  Result<codec::Dictionary::Forms> forms = dict->make_compression_forms(levels_);
  if (!forms.ok()) return Wake::kRefused;
  MutexLock lock(mu_);
  // Only a waker (this one, the only one) or retiring the slot clears resting, and retiring also
  // makes it no longer current.
  if (current_.load() != slot || !slots_[slot].resting) return Wake::kReplaced;
  const uint64_t cost = forms->bytes();
  if (!budget_->try_charge(cost)) return Wake::kRefused;
  Slot& s = slots_[slot];
  // Resting, it has no forms and nothing compresses with it: adopt() takes them all.
  const size_t added = s.dict->adopt_compression_forms(std::move(*forms));
  budget_->uncharge(cost - added);
  s.charged_bytes += added;
  charged_bytes_.fetch_add(added, std::memory_order_relaxed);
  if (added == 0) return Wake::kRefused;
  s.resting = false;
  return Wake::kAwake;
}

DictionarySet::Pin DictionarySet::pin_current() const {
  MutexLock lock(mu_);  // as current()
  const DictSlot slot = current_.load();
  if (slot == kNoDict) return Pin();
  ref(slot);
  return Pin(this, slot, false);
}

void DictionarySet::rest_current() {
  MutexLock lock(mu_);
  const DictSlot slot = current_.load();
  if (slot == kNoDict || slots_[slot].resting) return;
  // Compressors are counted only under mu_ (current()): none can start before the forms are gone.
  if (slots_[slot].compressors.load(std::memory_order_acquire) != 0) return;
  drop_forms_locked(slot);
  slots_[slot].resting = true;
}

DictionarySet::Pin DictionarySet::pin(DictSlot slot) const {
  if (slot == kNoDict) return Pin();
  ref(slot);
  return Pin(this, slot, false);
}

const codec::Dictionary* DictionarySet::get(DictSlot slot) const {
  ZSFS_DCHECK(slot != kNoDict && slot <= kMaxDictSlots);
  ZSFS_DCHECK(slots_[slot].refs.load(std::memory_order_relaxed) > 0);
  return slots_[slot].dict.get();
}

void DictionarySet::ref(DictSlot slot) const {
  ZSFS_CHECK(slot != kNoDict && slot <= kMaxDictSlots);
  const uint64_t before = slots_[slot].refs.fetch_add(1, std::memory_order_relaxed);
  ZSFS_CHECK_MSG(before > 0, "reference taken on a free dictionary slot");
}

void DictionarySet::unref(DictSlot slot) const {
  const uint64_t before = slots_[slot].refs.fetch_sub(1, std::memory_order_acq_rel);
  ZSFS_CHECK_MSG(before > 0, "dictionary slot released more often than taken");
  if (before == 1) free_slot(slot);
}

void DictionarySet::free_slot(DictSlot slot) const {
  // No reference is left, and none can be taken (each needs another held): the slot is ours.
  std::unique_ptr<codec::Dictionary> dict;
  uint64_t charged;
  {
    MutexLock lock(mu_);
    Slot& s = slots_[slot];
    dict = std::move(s.dict);
    charged = s.charged_bytes;
    s.charged_bytes = 0;
    s.retired = false;
  }
  charged_bytes_.fetch_sub(charged, std::memory_order_relaxed);
  budget_->uncharge(charged);
}

void DictionarySet::add_block(DictSlot slot, uint32_t stored_bytes) const {
  if (slot == kNoDict) return;
  ref(slot);
  slots_[slot].blocks.fetch_add(1, std::memory_order_relaxed);
  slots_[slot].stored_bytes.fetch_add(stored_bytes, std::memory_order_relaxed);
}

void DictionarySet::drop_block(DictSlot slot, uint32_t stored_bytes) {
  if (slot == kNoDict) return;
  const uint64_t left = slots_[slot].blocks.fetch_sub(1, std::memory_order_relaxed) - 1;
  slots_[slot].stored_bytes.fetch_sub(stored_bytes, std::memory_order_relaxed);
  // The current dictionary's last block gone, and no compression with it in flight (a pass
  // that holds it may be about to add blocks; it looks again when it ends): the dictionary
  // gives its memory back now rather than at the recompressor's next look.
  if (left == 0 && current_.load() == slot &&
      slots_[slot].compressors.load(std::memory_order_acquire) == 0) {
    retire_current_if_unused();
  }
  unref(slot);
}

std::vector<DictionaryStats> DictionarySet::stats() const {
  std::vector<DictionaryStats> out;
  MutexLock lock(mu_);
  const DictSlot current = current_.load();
  for (DictSlot s = 1; s <= kMaxDictSlots; ++s) {
    const Slot& slot = slots_[s];
    if (slot.dict == nullptr) continue;
    DictionaryStats d;
    d.slot = s;
    d.dict_id = slot.dict->dict_id();
    d.size_bytes = slot.dict->bytes().size();
    d.memory_bytes = slot.charged_bytes;
    d.blocks = slot.blocks.load(std::memory_order_relaxed);
    d.stored_bytes = slot.stored_bytes.load(std::memory_order_relaxed);
    d.current = s == current;
    out.push_back(d);
  }
  return out;
}

uint64_t DictionarySet::live() const {
  MutexLock lock(mu_);
  uint64_t n = 0;
  for (DictSlot s = 1; s <= kMaxDictSlots; ++s)
    n += slots_[s].dict != nullptr;
  return n;
}

std::vector<std::byte> DictionarySet::content(DictSlot slot) const {
  if (slot == kNoDict || slot > kMaxDictSlots) return {};
  MutexLock lock(mu_);
  const Slot& s = slots_[slot];
  if (s.dict == nullptr) return {};
  const std::span<const std::byte> bytes = s.dict->bytes();
  return std::vector<std::byte>(bytes.begin(), bytes.end());
}

std::string DictionarySet::check(
    const std::array<uint64_t, kMaxDictSlots + 1>& blocks_by_slot) const {
  MutexLock lock(mu_);
  const DictSlot current = current_.load();
  for (DictSlot s = 1; s <= kMaxDictSlots; ++s) {
    const Slot& slot = slots_[s];
    const uint64_t refs = slot.refs.load();
    // Readers pin without the quiesce lock, so references may exceed blocks and the set's own.
    const uint64_t expected = blocks_by_slot[s] + (s == current ? 1 : 0);
    const std::string name = "dictionary slot " + std::to_string(s);
    if (refs < expected) {
      return name + " has " + std::to_string(refs) + " references, at least " +
             std::to_string(expected) + " expected";
    }
    if (slot.blocks.load() != blocks_by_slot[s]) return name + ": block count differs";
    if ((slot.dict != nullptr) != (refs > 0)) return name + ": dictionary and count disagree";
  }
  return {};
}

}  // namespace zsfs::fs
