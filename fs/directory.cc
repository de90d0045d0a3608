#include "fs/directory.h"

#include <sys/stat.h>

#include <functional>
#include <new>

#include "base/check.h"

namespace zsfs::fs {
namespace {

// A directory whose name buffer is at least this large is compacted when half of it is garbage;
// smaller ones are left alone (compacting them saves nothing worth the copy).
constexpr size_t kCompactNamesMinBytes = 4096;

}  // namespace

Directory::Directory(MemoryBudget* budget) : budget_(budget), index_(budget) {}

Directory::~Directory() {
  release_all();
}

uint64_t Directory::hash(std::string_view name) {
  return std::hash<std::string_view>{}(name);
}

size_t Directory::slot_of(std::string_view name) const {
  const uint32_t id = index_.find(
      hash(name), [&](uint32_t candidate) { return name_of(slots_[candidate - 1]) == name; });
  return id == 0 ? SIZE_MAX : id - 1;
}

std::optional<Directory::Entry> Directory::find(std::string_view name) const {
  const size_t slot = slot_of(name);
  if (slot == SIZE_MAX) return std::nullopt;
  return entry_of(slots_[slot]);
}

uint64_t Directory::held_bytes() const {
  return slots_.capacity() * sizeof(Slot) + free_slots_.capacity() * sizeof(uint32_t) +
         names_.capacity();
}

void Directory::sync_charge() {
  const uint64_t now = held_bytes();
  if (now > charged_bytes_) {
    budget_->force_charge(now - charged_bytes_);
  } else {
    budget_->uncharge(charged_bytes_ - now);
  }
  charged_bytes_ = now;
}

Status Directory::insert(std::string_view name, Ino ino, uint32_t type) {
  ZSFS_CHECK(ino != 0 && ino <= UINT32_MAX && !name.empty() && name.size() <= UINT16_MAX &&
             slot_of(name) == SIZE_MAX);
  // The name must not live in this directory's buffer, which may move below.
  ZSFS_DCHECK(name.data() < names_.data() || name.data() >= names_.data() + names_.capacity());

  // Pick the slot: a freed one if any is still inside the array, else a new one at the end.
  while (!free_slots_.empty() && free_slots_.back() >= slots_.size())
    free_slots_.pop_back();
  const bool reuse = !free_slots_.empty();
  const size_t slot = reuse ? free_slots_.back() : slots_.size();

  // Plan the growth of both arrays, and charge it before taking it.
  // Growth by half: directories are many and mostly small, so slack matters more than the
  // occasional copy.
  size_t slot_capacity = slots_.capacity();
  if (!reuse && slots_.size() == slot_capacity) {
    slot_capacity = std::max<size_t>(4, slot_capacity + slot_capacity / 2);
  }
  size_t names_capacity = names_.capacity();
  if (names_.size() + name.size() > names_capacity) {
    names_capacity = std::max(names_.size() + name.size(), names_capacity + names_capacity / 2);
  }
  if (names_capacity > UINT32_MAX) return Errno{ENOSPC};
  const uint64_t growth =
      (slot_capacity - slots_.capacity()) * sizeof(Slot) + (names_capacity - names_.capacity());
  if (!budget_->try_charge(growth)) return Errno{ENOSPC};
  charged_bytes_ += growth;
  try {
    slots_.reserve(slot_capacity);
    names_.reserve(names_capacity);
  } catch (const std::bad_alloc&) {
    sync_charge();
    return Errno{ENOMEM};
  }
  Status indexed = index_.insert(hash(name), static_cast<uint32_t>(slot + 1));
  if (!indexed.ok()) {
    sync_charge();
    return indexed;
  }
  const Slot fresh{static_cast<uint32_t>(ino), static_cast<uint32_t>(names_.size()),
                   static_cast<uint16_t>(name.size()),
                   static_cast<uint16_t>((type & S_IFMT) >> 12)};
  names_.insert(names_.end(), name.begin(), name.end());  // within capacity: cannot throw
  if (reuse) {
    free_slots_.pop_back();
    slots_[slot] = fresh;
  } else {
    slots_.push_back(fresh);
  }
  ++size_;
  sync_charge();
  return {};
}

void Directory::erase(std::string_view name) {
  const size_t slot = slot_of(name);
  ZSFS_CHECK_MSG(slot != SIZE_MAX, "Directory::erase of a name that is not present");
  index_.erase(hash(name), static_cast<uint32_t>(slot + 1));
  garbage_bytes_ += slots_[slot].name_length;
  if (--size_ == 0) {
    release_all();
    return;
  }
  slots_[slot] = Slot{};
  if (slot + 1 == slots_.size()) {
    // Trim free slots off the end (no listing can be positioned past the last entry), and
    // forget their numbers.
    while (slots_.back().ino == 0)
      slots_.pop_back();
    std::erase_if(free_slots_, [&](uint32_t s) { return s >= slots_.size(); });
  } else {
    try {
      free_slots_.push_back(static_cast<uint32_t>(slot));
    } catch (const std::bad_alloc&) {
      // The slot is then never reused, which costs memory but loses nothing.
    }
  }
  if (garbage_bytes_ * 2 > names_.size() && names_.size() >= kCompactNamesMinBytes) {
    compact_names();
  }
  if (slots_.capacity() > 2 * slots_.size() + 16) {
    try {
      slots_.shrink_to_fit();
      free_slots_.shrink_to_fit();
    } catch (const std::bad_alloc&) {
      // Keeping the larger arrays is harmless.
    }
  }
  sync_charge();
}

void Directory::compact_names() {
  std::vector<char> compacted;
  try {
    compacted.reserve(names_.size() - garbage_bytes_);
  } catch (const std::bad_alloc&) {
    return;  // keep the garbage; compaction is only an optimisation
  }
  for (Slot& s : slots_) {
    if (s.ino == 0) continue;
    const std::string_view name = name_of(s);
    s.name_offset = static_cast<uint32_t>(compacted.size());
    compacted.insert(compacted.end(), name.begin(), name.end());
  }
  names_ = std::move(compacted);
  garbage_bytes_ = 0;
}

void Directory::replace(std::string_view name, Ino ino, uint32_t type) {
  const size_t slot = slot_of(name);
  ZSFS_CHECK_MSG(slot != SIZE_MAX && ino != 0 && ino <= UINT32_MAX,
                 "Directory::replace of a name that is not present, or with no inode");
  slots_[slot].ino = static_cast<uint32_t>(ino);
  slots_[slot].type = static_cast<uint16_t>((type & S_IFMT) >> 12);
}

void Directory::release_all() {
  // Swapping with empty containers frees the buffers (assigning {} would keep them).
  std::vector<Slot>().swap(slots_);
  std::vector<uint32_t>().swap(free_slots_);
  std::vector<char>().swap(names_);
  garbage_bytes_ = 0;
  index_.clear();
  size_ = 0;
  sync_charge();
}

}  // namespace zsfs::fs
