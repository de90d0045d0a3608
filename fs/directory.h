// Directory: the entries of one directory, found by name in O(1) and listed by stable position.
//
// Entries live in a slot array; an entry keeps its slot for as long as it exists, and readdir
// offsets are slot positions, so a listing that resumes at an offset neither skips nor repeats
// an entry that was present throughout, however many others come and go. Freed slots are reused.
// A hash index (IdIndex) maps names to slots, so lookup costs the same at any size.
//
// Memory: a slot is 12 bytes; names are kept end to end in one buffer per directory rather than
// as a std::string each (which costs 32 bytes, and a heap block of 32 or more for a name longer
// than 15 characters). Names of removed entries are garbage in the buffer until it is compacted,
// which happens when garbage is half of it. All memory (slots, names, the index) is charged to the
// budget before it is taken; insert() fails with ENOSPC/ENOMEM and changes nothing when refused.
//
// Not thread-safe: the filesystem's namespace lock guards every directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/budget.h"
#include "base/result.h"
#include "fs/id_index.h"
#include "fs/types.h"

namespace zsfs::fs {

class Directory {
 public:
  // One entry, as handed out: the name points into the directory and is valid until the
  // directory next changes.
  struct Entry {
    std::string_view name;
    Ino ino;
    uint32_t type;  // S_IFMT bits of the inode's mode
  };

  explicit Directory(MemoryBudget* budget);
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // The entry named name, if any.
  std::optional<Entry> find(std::string_view name) const;
  // Adds an entry; name must not be present (checked).
  Status insert(std::string_view name, Ino ino, uint32_t type);
  // Removes the entry named name, which must be present (checked).
  void erase(std::string_view name);
  // Points the existing entry name at another inode.
  void replace(std::string_view name, Ino ino, uint32_t type);

  // Calls fn(position, entry) for each entry at a slot position >= from, in position order,
  // until fn returns false. fn must not change the directory.
  template <class Fn>
  void list_from(uint64_t from, Fn&& fn) const {
    for (uint64_t pos = from; pos < slots_.size(); ++pos) {
      const Slot& s = slots_[pos];
      if (s.ino != 0 && !fn(pos, entry_of(s))) return;
    }
  }

  // The directory's parent (itself for the root): ".." in listings and lookups.
  Ino parent = 0;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint64_t memory_bytes() const { return charged_bytes_ + index_.memory_bytes(); }

 private:
  // Inode numbers stay below 2^32 (InodeTable::kMaxInodes is 2^28), so a slot keeps 32 bits.
  struct Slot {
    uint32_t ino = 0;  // 0: a free slot
    uint32_t name_offset = 0;
    uint16_t name_length = 0;
    uint16_t type = 0;  // S_IFMT >> 12
  };
  static_assert(sizeof(Slot) == 12);

  static uint64_t hash(std::string_view name);
  std::string_view name_of(const Slot& s) const {
    return {names_.data() + s.name_offset, s.name_length};
  }
  Entry entry_of(const Slot& s) const {
    return Entry{name_of(s), s.ino, static_cast<uint32_t>(s.type) << 12};
  }
  size_t slot_of(std::string_view name) const;
  // Rewrites the name buffer without the garbage of removed entries.
  void compact_names();
  // Bytes the vectors and the name buffer hold now (their capacities).
  uint64_t held_bytes() const;
  // Brings the charge in line with held_bytes() (growth that cannot be refused, and shrinking).
  void sync_charge();
  void release_all();

  MemoryBudget* budget_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;  // may hold positions >= slots_.size(), skipped when reused
  std::vector<char> names_;           // every entry's name, end to end
  size_t garbage_bytes_ = 0;          // bytes of names_ that belong to removed entries
  IdIndex index_;                     // hash(name) -> slot + 1
  size_t size_ = 0;
  uint64_t charged_bytes_ = 0;  // what held_bytes() was when last charged
};

}  // namespace zsfs::fs
