// DictionarySet: the zstd dictionaries of one filesystem, each in a numbered slot that stored
// blocks name, reference-counted by the blocks that use it.
//
// A block compressed with a dictionary keeps the dictionary's slot (1..kMaxDictSlots; 0 is "no
// dictionary") in the 6 bits its dedup entry has beside the encoding, so a dictionary costs a
// block nothing. The set owns the dictionaries:
// - install() puts a newly trained dictionary in a free slot and makes it the current one, which
//   new compressions use; the dictionary it replaces stays while blocks still use it.
// - Each block that names a slot holds one reference on it (ref/unref, from the dedup store, as
//   entries take or drop a dictionary); so does the set for its current dictionary, and so does a
//   reader for as long as it decodes (a Pin). The last reference frees the dictionary and its
//   slot, and gives its memory back to the budget.
// - Its memory (content, decompression form, a compression form per level) is charged to the
//   budget when it is installed and counts in mem_used_total. Once it is no longer current and
//   no compression with it is in flight (compressors pin it through current()), its compression
//   forms are dropped: a dictionary kept only for old blocks costs its content and its
//   decompression form, about a fifteenth of the whole at level 15.
// - The current dictionary rests too: rest_current() (the recompressor calls it as a pass ends)
//   drops its compression forms when no compression is in flight, and the next current() digests
//   them again (0.2 s for 1 MiB at level 15, outside mu_, one caller at a time), so that a
//   settled mount that only reads keeps the content and decompression form alone. A current
//   dictionary loaded from an image (install_in_slot) arrives resting.
//
// Invariants: a slot's dictionary is not null exactly while the slot's count is above zero; a
// caller may use get(slot) only while it holds a reference on slot. Counts change with atomic
// operations (readers pin without any lock); slots are filled and freed under mu_, which is a
// leaf lock (taken under a dedup shard lock by unref(), never the other way round).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/budget.h"
#include "base/result.h"
#include "base/sync.h"
#include "codec/dictionary.h"
#include "fs/stats.h"

namespace zsfs::fs {

using DictSlot = uint8_t;
inline constexpr DictSlot kNoDict = 0;
// Slots fit the 6 bits a dedup entry keeps beside its 2-bit encoding.
inline constexpr unsigned kDictSlotBits = 6;
inline constexpr DictSlot kMaxDictSlots = (1u << kDictSlotBits) - 1;

class DictionarySet {
 public:
  // levels: the compression levels every dictionary is digested for. budget must outlive the set.
  DictionarySet(MemoryBudget* budget, std::vector<int> levels);
  ~DictionarySet();  // every block's reference must have been dropped (checked)
  DictionarySet(const DictionarySet&) = delete;
  DictionarySet& operator=(const DictionarySet&) = delete;

  // A reference held for as long as the object lives; empty (slot 0, no dictionary) is valid.
  class Pin {
   public:
    Pin() = default;
    Pin(Pin&& other) noexcept
        : set_(other.set_), slot_(other.slot_), compressing_(other.compressing_) {
      other.slot_ = kNoDict;
      other.compressing_ = false;
    }
    Pin& operator=(Pin&& other) noexcept;
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
    ~Pin() { reset(); }
    void reset();
    DictSlot slot() const { return slot_; }
    const codec::Dictionary* get() const { return slot_ == kNoDict ? nullptr : set_->get(slot_); }

   private:
    friend class DictionarySet;
    Pin(const DictionarySet* set, DictSlot slot, bool compressing)
        : set_(set), slot_(slot), compressing_(compressing) {}
    const DictionarySet* set_ = nullptr;
    DictSlot slot_ = kNoDict;
    bool compressing_ = false;  // taken by current(): may compress with it
  };

  // Digests bytes for the set's levels and installs the result as the current dictionary.
  // EINVAL when zstd cannot load it, ENOSPC when the budget refuses its memory or every slot is
  // taken, ENOMEM when the host refuses; nothing changes then.
  Result<DictSlot> install(std::span<const std::byte> bytes);
  // The same in two steps, for a caller that tries a dictionary before it installs it: digest()
  // (its memory is the caller's to charge meanwhile), then install() of what it gave.
  Result<std::unique_ptr<codec::Dictionary>> digest(std::span<const std::byte> bytes) const;
  Result<DictSlot> install(std::unique_ptr<codec::Dictionary> dict);
  // For images (fs/image_load.cc): digests bytes for decompression only and installs the result
  // in slot, which must be free, as the current dictionary when current (as install() does, but
  // resting: the first compression digests its compression forms), else retired at once (only
  // the image's blocks will use it); returns a pin on it. EINVAL for a slot out of
  // 1..kMaxDictSlots or bytes zstd cannot load, EEXIST when the slot is taken, ENOSPC/ENOMEM as
  // install(); nothing changes then.
  Result<Pin> install_in_slot(DictSlot slot, std::span<const std::byte> bytes, bool current);
  // Stops compressing with the current dictionary (blocks that use it keep it).
  void retire_current();
  // The same, when no block uses the current dictionary (which then is freed).
  void retire_current_if_unused();

  // The current dictionary, pinned for compressing (empty when there is none, or when it rests
  // and its compression forms cannot be had again: the budget or the host refuses the memory).
  Pin current() const;
  // The current dictionary, pinned as a reader pins it: not for compressing (empty when none).
  Pin pin_current() const;
  // The current dictionary's slot, which may change at any moment (kNoDict when none).
  DictSlot current_slot() const { return current_.load(std::memory_order_relaxed); }
  // Drops the current dictionary's compression forms if no compression with it is in flight;
  // current() digests them again.
  void rest_current();
  // Pins slot, on which the caller already holds a reference (a block that names it).
  Pin pin(DictSlot slot) const;
  // The dictionary in slot; the caller holds a reference on slot.
  const codec::Dictionary* get(DictSlot slot) const;

  // A stored block starts or stops naming slot (kNoDict: nothing happens). The caller holds a
  // reference on slot when it adds one (a pin, or the block's previous one). stored_bytes: the
  // block's payload, for the statistics.
  void add_block(DictSlot slot, uint32_t stored_bytes) const;
  // Dropping the current dictionary's last block retires it (see drop_block in the .cc).
  void drop_block(DictSlot slot, uint32_t stored_bytes);

  std::vector<DictionaryStats> stats() const;
  // Bytes charged for live dictionaries.
  uint64_t memory_bytes() const { return charged_bytes_.load(std::memory_order_relaxed); }
  uint64_t live() const;
  uint64_t installed_total() const { return installed_.load(std::memory_order_relaxed); }
  // The content of the dictionary in slot (for export and images): empty when the slot is free.
  std::vector<std::byte> content(DictSlot slot) const;
  // Verifies each slot against the blocks the caller counted naming it: its block count equal,
  // its references at least those blocks and the set's own (readers may hold pins besides).
  // Returns a description of the first difference, or an empty string.
  std::string check(const std::array<uint64_t, kMaxDictSlots + 1>& blocks_by_slot) const;

 private:
  struct Slot {
    std::atomic<uint64_t> refs{0};
    std::atomic<uint64_t> blocks{0};
    std::atomic<uint64_t> stored_bytes{0};
    // Pins from current(), which may compress with the dictionary.
    std::atomic<uint64_t> compressors{0};
    std::unique_ptr<codec::Dictionary> dict;  // written under mu_ while refs == 0
    uint64_t charged_bytes = 0;               // guarded by mu_
    bool retired = false;                     // no longer current; guarded by mu_
    bool resting = false;  // current, its compression forms dropped (rest_current); under mu_
  };

  // Puts dict in the free slot `slot` with one reference and charges cost; under mu_.
  void place_locked(DictSlot slot, std::unique_ptr<codec::Dictionary> dict, uint64_t cost)
      ZSFS_REQUIRES(mu_);
  void ref(DictSlot slot) const;
  void unref(DictSlot slot) const;
  void free_slot(DictSlot slot) const;
  // The slot is no longer current: drops its compression forms now or, if a compression is in
  // flight, when the last one ends. Under mu_.
  void retire_locked(DictSlot slot) const;
  void drop_forms_locked(DictSlot slot) const;
  // Digests the resting current slot's compression forms again and charges them: kAwake (also
  // when another caller woke it first), kReplaced when slot is no longer current (or went to
  // rest and was retired meanwhile), kRefused when the budget or the host refuses the memory
  // (the slot still resting). The caller holds a reference on slot, and not mu_.
  enum class Wake { kAwake, kReplaced, kRefused };
  Wake wake(DictSlot slot) const;
  void end_compression(DictSlot slot) const;

  MemoryBudget* budget_;
  const std::vector<int> levels_;
  mutable Mutex mu_;
  // One waker at a time (wake()), so that a resting dictionary's forms are digested once. Taken
  // before mu_, never under it.
  mutable std::mutex wake_mu_;
  mutable std::array<Slot, kMaxDictSlots + 1> slots_;  // slot 0 unused
  std::atomic<DictSlot> current_{kNoDict};
  mutable std::atomic<uint64_t> charged_bytes_{0};
  std::atomic<uint64_t> installed_{0};
};

}  // namespace zsfs::fs
