// DictionarySet: installing makes a dictionary current and charges its memory; blocks and pins
// keep a dictionary alive after it is replaced, the last reference frees it and gives the memory
// back; a dictionary no block uses can be retired, and the current one is when its last block
// goes unless a compression with it is in flight; the current one rests without its compression
// forms and the next compression digests them again, and one installed from an image arrives so;
// slots and the budget run out with ENOSPC and nothing changed; bytes zstd cannot load are EINVAL;
// the check compares block counts.
#include "fs/dictionary_set.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/fs/dict_test_util.h"

namespace zsfs::fs {
namespace {

class DictionarySetTest : public ::testing::Test {
 protected:
  MemoryBudget budget_{256 << 20};
  DictionarySet dicts_{&budget_, {3}};
  const std::vector<std::byte> bytes_ = testing::trained_dictionary(0);
};

TEST_F(DictionarySetTest, InstallMakesItCurrentAndChargesItsMemory) {
  EXPECT_EQ(dicts_.current().slot(), kNoDict);
  Result<DictSlot> slot = dicts_.install(bytes_);
  ASSERT_TRUE(slot.ok());
  EXPECT_NE(*slot, kNoDict);
  EXPECT_EQ(dicts_.current().slot(), *slot);
  EXPECT_EQ(dicts_.live(), 1u);
  EXPECT_GT(dicts_.memory_bytes(), bytes_.size());
  EXPECT_EQ(budget_.used_bytes(), dicts_.memory_bytes());
  const std::vector<DictionaryStats> stats = dicts_.stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_TRUE(stats[0].current);
  EXPECT_EQ(stats[0].size_bytes, bytes_.size());
  EXPECT_EQ(stats[0].memory_bytes, dicts_.memory_bytes());
  EXPECT_EQ(dicts_.content(*slot), bytes_);
  EXPECT_TRUE(dicts_.content(kNoDict).empty());
}

TEST_F(DictionarySetTest, BlocksKeepAReplacedDictionaryUntilTheLastGoes) {
  const DictSlot first = *dicts_.install(bytes_);
  {
    const DictionarySet::Pin pin = dicts_.current();
    dicts_.add_block(first, 100);
    dicts_.add_block(first, 200);
  }
  const DictSlot second = *dicts_.install(testing::trained_dictionary(1));
  EXPECT_NE(second, first);
  EXPECT_EQ(dicts_.current().slot(), second);
  EXPECT_EQ(dicts_.live(), 2u);
  const std::vector<DictionaryStats> stats = dicts_.stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].blocks, 2u);
  EXPECT_EQ(stats[0].stored_bytes, 300u);
  EXPECT_FALSE(stats[0].current);

  const uint64_t with_both = budget_.used_bytes();
  dicts_.drop_block(first, 100);
  EXPECT_EQ(dicts_.live(), 2u);
  dicts_.drop_block(first, 200);
  EXPECT_EQ(dicts_.live(), 1u);
  EXPECT_LT(budget_.used_bytes(), with_both);
  EXPECT_EQ(budget_.used_bytes(), dicts_.memory_bytes());
  EXPECT_TRUE(dicts_.content(first).empty());
}

TEST_F(DictionarySetTest, AReplacedDictionaryDropsItsCompressionFormsOnceNoneCompresses) {
  const DictSlot first = *dicts_.install(bytes_);
  dicts_.add_block(first, 10);
  const uint64_t whole = dicts_.memory_bytes();
  DictionarySet::Pin compressing = dicts_.current();
  const codec::Dictionary* dict = compressing.get();
  ASSERT_NE(dict, nullptr);
  ASSERT_NE(dict->cdict(3), nullptr);
  dicts_.retire_current();
  // A compression still in flight keeps what it compresses with.
  EXPECT_NE(dict->cdict(3), nullptr);
  EXPECT_EQ(dicts_.memory_bytes(), whole);
  compressing.reset();
  EXPECT_LT(dicts_.memory_bytes(), whole / 2);
  EXPECT_EQ(budget_.used_bytes(), dicts_.memory_bytes());
  // Blocks still decode with it.
  DictionarySet::Pin reading = dicts_.pin(first);
  EXPECT_EQ(reading.get(), dict);  // the same object, now without its compression forms
  EXPECT_NE(dict->ddict(), nullptr);
  EXPECT_EQ(dict->cdict(3), nullptr);
  reading.reset();
  // Replaced by install: the same, for every dictionary but the new current one.
  const DictSlot second = *dicts_.install(testing::trained_dictionary(1));
  dicts_.add_block(second, 10);
  const DictSlot third = *dicts_.install(bytes_);
  for (const DictionaryStats& d : dicts_.stats()) {
    if (d.slot == third) {
      EXPECT_TRUE(d.current);
    } else {
      EXPECT_LT(d.memory_bytes, whole / 2) << unsigned{d.slot};
    }
  }
  dicts_.drop_block(first, 10);
  dicts_.drop_block(second, 10);
}

TEST_F(DictionarySetTest, TheCurrentDictionaryRestsWithoutItsCompressionFormsUntilNextNeeded) {
  const DictSlot slot = *dicts_.install(bytes_);
  dicts_.add_block(slot, 10);
  const uint64_t whole = dicts_.memory_bytes();
  // A compression in flight keeps the forms.
  DictionarySet::Pin compressing = dicts_.current();
  dicts_.rest_current();
  EXPECT_EQ(dicts_.memory_bytes(), whole);
  EXPECT_NE(compressing.get()->cdict(3), nullptr);
  compressing.reset();
  // None: the current dictionary keeps its content and decompression form only.
  dicts_.rest_current();
  EXPECT_LT(dicts_.memory_bytes(), whole / 2);
  EXPECT_EQ(budget_.used_bytes(), dicts_.memory_bytes());
  EXPECT_EQ(dicts_.current_slot(), slot);
  // Pinned as a reader pins it, it stays at rest.
  const DictionarySet::Pin reading = dicts_.pin_current();
  EXPECT_EQ(reading.slot(), slot);
  EXPECT_EQ(reading.get()->cdict(3), nullptr);
  EXPECT_LT(dicts_.memory_bytes(), whole / 2);
  // The next compression digests the forms again.
  compressing = dicts_.current();
  EXPECT_EQ(compressing.slot(), slot);
  EXPECT_NE(compressing.get()->cdict(3), nullptr);
  EXPECT_EQ(dicts_.memory_bytes(), whole);
  EXPECT_EQ(budget_.used_bytes(), whole);
  compressing.reset();
  dicts_.drop_block(slot, 10);
}

TEST_F(DictionarySetTest, OneInstalledInASlotArrivesWithoutCompressionFormsAndWakesWhenNeeded) {
  DictionarySet whole_set(&budget_, {3});
  const DictSlot installed = *whole_set.install(bytes_);
  whole_set.add_block(installed, 10);
  const uint64_t whole = whole_set.memory_bytes();

  const DictSlot slot = 7;
  Result<DictionarySet::Pin> loaded = dicts_.install_in_slot(slot, bytes_, true);
  ASSERT_TRUE(loaded.ok());
  dicts_.add_block(slot, 10);
  EXPECT_EQ(loaded->slot(), slot);
  const codec::Dictionary* dict = loaded->get();
  ASSERT_NE(dict, nullptr);
  EXPECT_EQ(dict->cdict(3), nullptr);
  EXPECT_EQ(dict->bytes().size(), bytes_.size());
  EXPECT_LT(dicts_.memory_bytes(), whole / 2);
  EXPECT_EQ(dicts_.current_slot(), slot);
  // The first compression digests the forms, and they are charged.
  DictionarySet::Pin compressing = dicts_.current();
  EXPECT_EQ(compressing.slot(), slot);
  EXPECT_NE(compressing.get()->cdict(3), nullptr);
  EXPECT_EQ(dicts_.memory_bytes(), whole);
  compressing.reset();
  loaded->reset();

  // Not current: it never gets them.
  Result<DictionarySet::Pin> old = dicts_.install_in_slot(3, bytes_, false);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->get()->cdict(3), nullptr);
  EXPECT_EQ(dicts_.current().slot(), slot);
  EXPECT_EQ(budget_.used_bytes(), dicts_.memory_bytes() + whole);
  old->reset();
  dicts_.drop_block(slot, 10);
  whole_set.drop_block(installed, 10);
}

TEST_F(DictionarySetTest, ThreadsThatFindItRestingWakeItOnceAndAllCompressWithIt) {
  const DictSlot slot = *dicts_.install(bytes_);
  dicts_.add_block(slot, 10);
  const uint64_t whole = dicts_.memory_bytes();
  for (int round = 0; round < 20; ++round) {
    dicts_.rest_current();
    ASSERT_LT(dicts_.memory_bytes(), whole / 2);
    std::vector<std::thread> threads;
    std::atomic<int> compressing{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        const DictionarySet::Pin pin = dicts_.current();
        if (pin.slot() == slot && pin.get()->cdict(3) != nullptr) ++compressing;
      });
    }
    for (std::thread& t : threads)
      t.join();
    EXPECT_EQ(compressing.load(), 4);
    EXPECT_EQ(dicts_.memory_bytes(), whole);  // its forms back, and charged
    EXPECT_EQ(budget_.used_bytes(), whole);
  }
  dicts_.drop_block(slot, 10);
}

TEST(DictionarySet, ARestingDictionaryTheBudgetCannotWakeGivesNoPinAndStaysAtRest) {
  MemoryBudget budget(4 << 20);
  DictionarySet dicts(&budget, {3});
  const DictSlot slot = *dicts.install(testing::trained_dictionary(0));
  dicts.add_block(slot, 10);
  const uint64_t whole = dicts.memory_bytes();
  dicts.rest_current();
  const uint64_t resting = dicts.memory_bytes();
  // Take all but a little of what the forms need.
  const uint64_t taken = budget.available_bytes() - (whole - resting) / 2;
  ASSERT_TRUE(budget.try_charge(taken));
  EXPECT_EQ(dicts.current().slot(), kNoDict);  // compress without a dictionary
  EXPECT_EQ(dicts.memory_bytes(), resting);
  EXPECT_EQ(dicts.current_slot(), slot);
  budget.uncharge(taken);
  EXPECT_EQ(dicts.current().slot(), slot);
  EXPECT_EQ(dicts.memory_bytes(), whole);
  dicts.drop_block(slot, 10);
}

TEST_F(DictionarySetTest, APinKeepsItUsableAfterItsLastBlockGoes) {
  const DictSlot slot = *dicts_.install(bytes_);
  dicts_.add_block(slot, 10);
  DictionarySet::Pin pin = dicts_.pin(slot);
  dicts_.retire_current();
  dicts_.drop_block(slot, 10);
  ASSERT_NE(pin.get(), nullptr);  // still there for the reader that pinned it
  EXPECT_EQ(pin.get()->bytes().size(), bytes_.size());
  EXPECT_EQ(dicts_.live(), 1u);
  pin.reset();
  EXPECT_EQ(dicts_.live(), 0u);
  EXPECT_EQ(budget_.used_bytes(), 0u);
}

TEST_F(DictionarySetTest, AnUnusedCurrentDictionaryCanBeRetired) {
  const DictSlot slot = *dicts_.install(bytes_);
  dicts_.add_block(slot, 10);
  dicts_.retire_current_if_unused();
  EXPECT_EQ(dicts_.current().slot(), slot);  // a block uses it
  dicts_.drop_block(slot, 10);
  dicts_.retire_current_if_unused();
  EXPECT_EQ(dicts_.current().slot(), kNoDict);
  EXPECT_EQ(dicts_.live(), 0u);
  EXPECT_EQ(budget_.used_bytes(), 0u);
}

TEST_F(DictionarySetTest, TheCurrentDictionarysLastBlockRetiresItAtOnce) {
  const DictSlot slot = *dicts_.install(bytes_);
  {
    const DictionarySet::Pin compressing = dicts_.current();
    dicts_.add_block(slot, 10);
    dicts_.add_block(slot, 20);
  }
  dicts_.drop_block(slot, 10);
  EXPECT_EQ(dicts_.current().slot(), slot);  // a block still uses it
  dicts_.drop_block(slot, 20);
  EXPECT_EQ(dicts_.current().slot(), kNoDict);
  EXPECT_EQ(dicts_.live(), 0u);
  EXPECT_EQ(budget_.used_bytes(), 0u);
}

TEST_F(DictionarySetTest, ACompressionInFlightKeepsTheCurrentDictionaryPastItsLastBlock) {
  const DictSlot slot = *dicts_.install(bytes_);
  DictionarySet::Pin compressing = dicts_.current();
  dicts_.add_block(slot, 10);
  dicts_.drop_block(slot, 10);
  // The pass that holds it may add blocks yet: it stays current, and the pass decides at its end.
  EXPECT_EQ(dicts_.current().slot(), slot);
  dicts_.add_block(slot, 30);
  compressing.reset();
  dicts_.retire_current_if_unused();
  EXPECT_EQ(dicts_.current().slot(), slot);
  dicts_.drop_block(slot, 30);
  EXPECT_EQ(dicts_.current().slot(), kNoDict);
  EXPECT_EQ(dicts_.live(), 0u);
}

TEST_F(DictionarySetTest, SlotsRunOutWithEnospc) {
  std::vector<DictSlot> slots;
  for (unsigned i = 0; i < kMaxDictSlots; ++i) {
    Result<DictSlot> slot = dicts_.install(bytes_);
    ASSERT_TRUE(slot.ok()) << i;
    dicts_.add_block(*slot, 1);  // keeps it when the next replaces it
    slots.push_back(*slot);
  }
  const uint64_t used = budget_.used_bytes();
  Result<DictSlot> more = dicts_.install(bytes_);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.error(), ENOSPC);
  EXPECT_EQ(budget_.used_bytes(), used);
  // One slot freed is one slot to install into again.
  dicts_.drop_block(slots[5], 1);
  EXPECT_TRUE(dicts_.install(bytes_).ok());
  for (DictSlot slot : slots) {
    if (slot != slots[5]) dicts_.drop_block(slot, 1);
  }
}

TEST(DictionarySet, BudgetRefusalIsEnospcAndChangesNothing) {
  MemoryBudget budget(64 << 10);
  DictionarySet dicts(&budget, {3});
  Result<DictSlot> slot = dicts.install(testing::trained_dictionary(0));
  ASSERT_FALSE(slot.ok());
  EXPECT_EQ(slot.error(), ENOSPC);
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(dicts.live(), 0u);
  EXPECT_EQ(dicts.current().slot(), kNoDict);
}

TEST_F(DictionarySetTest, BytesZstdCannotLoadAreEinval) {
  std::vector<std::byte> damaged = bytes_;
  std::fill(damaged.begin() + 8, damaged.begin() + 64, std::byte{0xff});
  Result<DictSlot> slot = dicts_.install(damaged);
  ASSERT_FALSE(slot.ok());
  EXPECT_EQ(slot.error(), EINVAL);
  EXPECT_EQ(budget_.used_bytes(), 0u);
}

TEST_F(DictionarySetTest, CheckComparesBlockCounts) {
  const DictSlot slot = *dicts_.install(bytes_);
  dicts_.add_block(slot, 10);
  std::array<uint64_t, kMaxDictSlots + 1> counted{};
  EXPECT_NE(dicts_.check(counted), "");  // one block the caller did not find
  counted[slot] = 1;
  EXPECT_EQ(dicts_.check(counted), "");
  dicts_.drop_block(slot, 10);
}

}  // namespace
}  // namespace zsfs::fs
