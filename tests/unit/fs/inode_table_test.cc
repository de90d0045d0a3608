// InodeTable: numbering, reuse with new generations, the inode limit, memory given back.
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "fs/inode.h"

namespace zsfs::fs {
namespace {

TEST(InodeTable, NumbersStartAtTheRootAndAreReusedLowestFirst) {
  MemoryBudget budget(1 << 30);
  InodeTable table(100000, &budget);
  std::vector<Inode*> inodes;
  for (int i = 0; i < 5; ++i)
    inodes.push_back(*table.allocate());
  EXPECT_EQ(inodes[0]->ino, kRootIno);
  EXPECT_EQ(inodes[4]->ino, 5u);
  const uint64_t generation = table.generation(*inodes[2]);
  table.release(inodes[2]);
  table.release(inodes[1]);
  EXPECT_EQ(table.get(3), nullptr);
  Inode* again = *table.allocate();
  EXPECT_EQ(again->ino, 2u);  // the lowest free number
  Inode* third = *table.allocate();
  EXPECT_EQ(third->ino, 3u);
  EXPECT_GT(table.generation(*third), generation);
  EXPECT_EQ(table.get(3), third);
}

TEST(InodeTable, MemoryReturnsAfterMassDeletionAndGenerationsStayUnique) {
  MemoryBudget budget(1 << 30);
  InodeTable table(1 << 20, &budget);
  Inode* root = *table.allocate();
  const uint64_t with_root = budget.used_bytes();
  std::map<Ino, uint64_t> generations;
  for (int round = 0; round < 3; ++round) {
    std::vector<Inode*> inodes;
    for (int i = 0; i < 5000; ++i)
      inodes.push_back(*table.allocate());
    for (Inode* inode : inodes) {
      auto [it, fresh] = generations.emplace(inode->ino, table.generation(*inode));
      if (!fresh) {
        EXPECT_GT(table.generation(*inode), it->second) << inode->ino;
        it->second = table.generation(*inode);
      }
    }
    EXPECT_EQ(table.live(), 5001u);
    for (Inode* inode : inodes)
      table.release(inode);
    EXPECT_EQ(budget.used_bytes(), with_root);  // every chunk but the root's is gone
    EXPECT_EQ(table.memory_bytes(), with_root);
  }
  EXPECT_EQ(table.get(kRootIno), root);
}

TEST(InodeTable, LimitIsEnospc) {
  MemoryBudget budget(1 << 30);
  InodeTable table(3, &budget);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(table.allocate().ok());
  Result<Inode*> over = table.allocate();
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error(), ENOSPC);
}

TEST(InodeTable, BudgetRefusalIsEnospcAndChargesNothing) {
  MemoryBudget budget(40 << 10);  // room for the first chunk (256 numbers, 30 KiB) only
  InodeTable table(1000, &budget);
  int made = 0;
  Result<Inode*> inode = table.allocate();
  for (; inode.ok(); inode = table.allocate())
    ++made;
  EXPECT_EQ(inode.error(), ENOSPC);
  EXPECT_EQ(made, 255);  // inode number 0 is never handed out
  EXPECT_EQ(budget.used_bytes(), table.memory_bytes());
}

}  // namespace
}  // namespace zsfs::fs
