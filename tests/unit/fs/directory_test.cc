// Directory and IdIndex: lookup by name, stable listing positions, memory accounting.
#include "fs/directory.h"

#include <map>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "fs/id_index.h"
#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

TEST(IdIndex, MatchesAMultimapUnderRandomOperations) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  MemoryBudget budget(1 << 30);
  IdIndex index(&budget);
  std::multimap<uint64_t, uint32_t> model;
  uint32_t next_id = 1;
  for (int step = 0; step < 6000; ++step) {
    // Few distinct hashes for the number of ids, so that probe runs collide and wrap around.
    const uint64_t hash = rng() % 1024 * 0x100000001ull;
    if (rng() % 3 != 0 || model.empty()) {
      ASSERT_TRUE(index.insert(hash, next_id).ok());
      model.emplace(hash, next_id++);
    } else {
      auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
      index.erase(it->first, it->second);
      model.erase(it);
    }
    if (step % 997 == 0) {
      for (const auto& [h, id] : model) {
        const uint32_t expect = id;
        ASSERT_EQ(index.find(h, [&](uint32_t got) { return got == expect; }), expect);
      }
      ASSERT_EQ(index.size(), model.size());
    }
  }
  while (!model.empty()) {
    index.erase(model.begin()->first, model.begin()->second);
    model.erase(model.begin());
  }
  EXPECT_EQ(index.memory_bytes(), 0u);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(IdIndex, GrowthRefusedByTheBudgetChangesNothing) {
  MemoryBudget budget(8 * 8);  // room for the first table of 8 slots only
  IdIndex index(&budget);
  for (uint32_t id = 1; id <= 6; ++id)
    ASSERT_TRUE(index.insert(id, id).ok());
  Status s = index.insert(7, 7);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), ENOSPC);
  EXPECT_EQ(index.size(), 6u);
  for (uint32_t id = 1; id <= 6; ++id) {
    EXPECT_EQ(index.find(id, [&](uint32_t got) { return got == id; }), id);
  }
}

TEST(Directory, InsertFindEraseAndMemoryReturns) {
  MemoryBudget budget(1 << 30);
  {
    Directory dir(&budget);
    for (int i = 0; i < 1000; ++i) {
      const std::string name =
          (i % 2 ? "a-rather-long-name-that-needs-the-heap-" : "n") + std::to_string(i);
      ASSERT_TRUE(dir.insert(name, static_cast<Ino>(i + 2), S_IFREG).ok());
    }
    EXPECT_EQ(dir.size(), 1000u);
    ASSERT_TRUE(dir.find("n10").has_value());
    EXPECT_EQ(dir.find("n10")->ino, 12u);
    EXPECT_FALSE(dir.find("n11").has_value());
    dir.replace("n10", 99, S_IFDIR);
    EXPECT_EQ(dir.find("n10")->ino, 99u);
    EXPECT_EQ(budget.used_bytes(), dir.memory_bytes());
    for (int i = 0; i < 1000; ++i) {
      const std::string name =
          (i % 2 ? "a-rather-long-name-that-needs-the-heap-" : "n") + std::to_string(i);
      dir.erase(name);
      EXPECT_EQ(budget.used_bytes(), dir.memory_bytes());
    }
    EXPECT_TRUE(dir.empty());
    EXPECT_EQ(dir.memory_bytes(), 0u);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Directory, PositionsStayPutWhileOthersComeAndGo) {
  MemoryBudget budget(1 << 30);
  Directory dir(&budget);
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(dir.insert("e" + std::to_string(i), 2, 0).ok());
  std::map<std::string, uint64_t> position;
  dir.list_from(0, [&](uint64_t pos, const Directory::Entry& e) {
    position[std::string(e.name)] = pos;
    return true;
  });
  for (int i = 0; i < 100; i += 3)
    dir.erase("e" + std::to_string(i));
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(dir.insert("x" + std::to_string(i), 3, 0).ok());
  dir.list_from(0, [&](uint64_t pos, const Directory::Entry& e) {
    if (e.name[0] == 'e') {
      EXPECT_EQ(position[std::string(e.name)], pos) << e.name;
    }
    return true;
  });
  // Resuming from any position lists exactly the entries at or after it.
  std::set<std::string> after;
  dir.list_from(40, [&](uint64_t pos, const Directory::Entry& e) {
    EXPECT_GE(pos, 40u);
    after.insert(std::string(e.name));
    return true;
  });
  for (const auto& [name, pos] : position) {
    if (dir.find(name) && pos >= 40) {
      EXPECT_TRUE(after.count(name)) << name;
    }
  }
}

TEST(Directory, BudgetRefusalChangesNothing) {
  MemoryBudget budget(200);
  Directory dir(&budget);
  int inserted = 0;
  for (; inserted < 100; ++inserted) {
    if (!dir.insert("name" + std::to_string(inserted), 2, 0).ok()) break;
  }
  ASSERT_LT(inserted, 100);
  EXPECT_EQ(dir.size(), static_cast<size_t>(inserted));
  EXPECT_FALSE(dir.find("name" + std::to_string(inserted)).has_value());
  EXPECT_EQ(budget.used_bytes(), dir.memory_bytes());
}

}  // namespace
}  // namespace zsfs::fs
