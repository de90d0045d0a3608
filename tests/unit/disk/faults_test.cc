// The fault plan: its syntax, and when each action fires.
#include "disk/faults.h"

#include <gtest/gtest.h>

#include "disk_test_util.h"

namespace zsfs::disk {
namespace {

using testing::FaultPlan;

TEST(Faults, NoPlanNoFault) {
  EXPECT_EQ(faults::at("image.write").action, faults::Action::kNone);
}

TEST(Faults, ErrnoEveryTimeOrOnTheNthVisit) {
  {
    FaultPlan plan("image.write=ENOSPC");
    for (int i = 0; i < 3; ++i) {
      const faults::Fault f = faults::at("image.write");
      EXPECT_EQ(f.action, faults::Action::kFail);
      EXPECT_EQ(f.error, ENOSPC);
    }
    EXPECT_EQ(faults::at("image.fsync").action, faults::Action::kNone);
  }
  FaultPlan plan("image.fsync=EIO@3,backing.read=short");
  EXPECT_EQ(faults::at("image.fsync").action, faults::Action::kNone);
  EXPECT_EQ(faults::at("image.fsync").action, faults::Action::kNone);
  EXPECT_EQ(faults::at("image.fsync").error, EIO);
  EXPECT_EQ(faults::at("image.fsync").action, faults::Action::kNone);
  EXPECT_EQ(faults::at("backing.read").action, faults::Action::kShort);
}

TEST(Faults, BadPlansAreRefusedWithTheItemNamed) {
  struct Case {
    const char* plan;
    const char* message;
  };
  for (const Case& c : {
           Case{"image.write", "'image.write': expected POINT=ACTION[@N]"},
           Case{"image.nowhere=EIO", "unknown point 'image.nowhere'"},
           Case{"image.write=EWHAT", "unknown action 'EWHAT'"},
           Case{"image.write=EIO@0", "@N needs a number from 1"},
           Case{"image.write=EIO@x", "@N needs a number from 1"},
       }) {
    Problem p = faults::set_plan(c.plan);
    EXPECT_EQ(p.error, EINVAL) << c.plan;
    EXPECT_NE(p.message.find(c.message), std::string::npos) << p.message;
  }
  // A refused plan leaves none in force.
  EXPECT_EQ(faults::at("image.write").action, faults::Action::kNone);
}

}  // namespace
}  // namespace zsfs::disk
