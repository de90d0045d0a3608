// ZspageDirectory: one size class's zspages by id, the id that handle-table entries name.
//
// One word per id: a Zspage* (aligned, so its low bit is 0), or, for a free id, the next free id
// shifted left with the low bit set. Free ids are reused last-freed first and chained through
// their own words, so erase() never allocates. The word vector is charged by its capacity.
// Used under the owning class's lock.
//
// Invariants: every word is a zspage whose id is its index, or a free id on the free chain exactly
// once; nr_free() is the chain's length; size() never exceeds kMaxZspageIds.
#pragma once

#include <cstdint>
#include <vector>

#include "base/check.h"
#include "pool/handle.h"
#include "pool/metadata.h"
#include "pool/zspage.h"

namespace zsfs::pool::detail {

class ZspageDirectory {
 public:
  static constexpr uint32_t kNoId = UINT32_MAX;

  ZspageDirectory() = default;
  ~ZspageDirectory() { ZSFS_CHECK_MSG(words_.empty(), "zspage directory not released"); }
  ZspageDirectory(const ZspageDirectory&) = delete;
  ZspageDirectory& operator=(const ZspageDirectory&) = delete;

  // Ids in use or free (the index range).
  uint32_t size() const { return static_cast<uint32_t>(words_.size()); }
  uint32_t nr_free() const { return nr_free_; }
  bool holds(uint32_t id) const { return id < words_.size() && (words_[id] & 1) == 0; }
  Zspage* at(uint32_t id) const {
    ZSFS_DCHECK(holds(id));
    return reinterpret_cast<Zspage*>(words_[id]);
  }

  // Whether insert() has an id to give: a free one, or room below kMaxZspageIds.
  bool can_insert() const { return free_head_ != kNoId || words_.size() < kMaxZspageIds; }
  // Heap bytes that making room for one insert() costs.
  uint64_t insert_growth_bytes() const {
    if (free_head_ != kNoId) return 0;
    return growth_bytes(words_, capacity_for(words_, words_.size() + 1));
  }
  // Makes room for one insert(), paid from charge. False when the heap refuses.
  bool reserve_for_insert(Precharge& charge) {
    if (free_head_ != kNoId) return true;
    return reserve_charged(words_, capacity_for(words_, words_.size() + 1), charge);
  }
  // Gives zspage an id (stored in zspage->id). Requires room (reserve_for_insert()).
  void insert(Zspage* zspage) {
    ZSFS_CHECK((reinterpret_cast<uintptr_t>(zspage) & 1) == 0);
    if (free_head_ != kNoId) {
      zspage->id = free_head_;
      free_head_ = static_cast<uint32_t>(words_[free_head_] >> 1);
      --nr_free_;
      words_[zspage->id] = reinterpret_cast<uintptr_t>(zspage);
      return;
    }
    ZSFS_CHECK(words_.size() < words_.capacity() && words_.size() < kMaxZspageIds);
    zspage->id = static_cast<uint32_t>(words_.size());
    words_.push_back(reinterpret_cast<uintptr_t>(zspage));  // within capacity: cannot throw
  }
  void erase(uint32_t id) {
    ZSFS_CHECK(holds(id));
    words_[id] = uintptr_t{free_head_} << 1 | 1;
    free_head_ = id;
    ++nr_free_;
  }

  uint64_t metadata_bytes() const { return words_.capacity() * sizeof(uintptr_t); }
  void release(MetadataAccount& account) {
    account.release_vector(words_);
    free_head_ = kNoId;
    nr_free_ = 0;
  }

  // Aborts unless the free chain holds exactly the free ids, each once.
  void check_free_chain() const {
    uint32_t count = 0;
    for (uint32_t id = free_head_; id != kNoId; ++count) {
      ZSFS_CHECK_MSG(count < nr_free_, "zspage directory free chain too long, or cyclic");
      ZSFS_CHECK_MSG(id < words_.size() && !holds(id),
                     "zspage directory free chain names a zspage");
      id = static_cast<uint32_t>(words_[id] >> 1);
    }
    ZSFS_CHECK_MSG(count == nr_free_, "zspage directory free chain shorter than its count");
  }

 private:
  std::vector<uintptr_t> words_;
  uint32_t free_head_ = kNoId;
  uint32_t nr_free_ = 0;
};

}  // namespace zsfs::pool::detail
