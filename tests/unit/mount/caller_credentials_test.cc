#include "mount/caller_credentials.h"

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

// The lines of a /proc/<pid>/status that matter, around others.
std::string status(const std::string& groups, const std::string& cap_eff) {
  return "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t" + groups +
         "\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t" + cap_eff +
         "\nCapBnd:\t000001ffffffffff\n";
}

TEST(CallerCredentials, SupplementaryGroupsCount) {
  EXPECT_TRUE(status_in_group_or_capable(status("4 24 27 ", "0000000000000000"), 24));
  EXPECT_TRUE(status_in_group_or_capable(status("4 24 27 ", "0000000000000000"), 27));
  EXPECT_FALSE(status_in_group_or_capable(status("4 24 27 ", "0000000000000000"), 2));
  EXPECT_FALSE(status_in_group_or_capable(status(" ", "0000000000000000"), 0));
}

TEST(CallerCredentials, CapFsetidCounts) {
  // CAP_FSETID is capability 4: bit 0x10 of the effective set.
  EXPECT_TRUE(status_in_group_or_capable(status("", "0000000000000010"), 5));
  EXPECT_FALSE(status_in_group_or_capable(status("", "000001ffffffffef"), 5));
  EXPECT_TRUE(status_in_group_or_capable(status("", "000001ffffffffff"), 5));
}

TEST(CallerCredentials, CapFsetidAlone) {
  EXPECT_TRUE(status_capable_fsetid(status("5", "0000000000000010")));
  EXPECT_FALSE(status_capable_fsetid(status("5", "000001ffffffffef")));
  EXPECT_FALSE(status_capable_fsetid(""));
}

TEST(CallerCredentials, MissingLinesMeanNo) {
  EXPECT_FALSE(status_in_group_or_capable("", 0));
  EXPECT_FALSE(status_in_group_or_capable("Groups:\t\nCapEff:\tnot-hex\n", 0));
}

TEST(CallerCredentials, ReadsTheCallersStatus) {
  fs::Caller self;
  self.uid = static_cast<uint32_t>(geteuid());
  self.gid = 123456;  // not this process's group, so the answer comes from its status
  self.pid = static_cast<int32_t>(getpid());
  // Run as root, this process holds CAP_FSETID; otherwise it is in none of these groups.
  EXPECT_EQ(in_group_or_capable(self, 123457), geteuid() == 0);
  EXPECT_EQ(capable_fsetid(self), geteuid() == 0);
  self.gid = 123457;
  EXPECT_TRUE(in_group_or_capable(self, 123457));  // the filesystem gid needs no status
  // No visible process: the gid alone, and uid 0 as capable.
  fs::Caller unseen;
  unseen.pid = 0;
  unseen.uid = 1000;
  EXPECT_FALSE(in_group_or_capable(unseen, 5));
  unseen.uid = 0;
  EXPECT_TRUE(in_group_or_capable(unseen, 5));
}

}  // namespace
}  // namespace zsfs::mount
