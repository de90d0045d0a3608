#include "mount/request_counters.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mount/json_reader.h"

namespace zsfs::mount {
namespace {

TEST(RequestCounters, EveryOperationHasItsOwnName) {
  std::set<std::string> names;
  for (size_t i = 0; i < kOpCount; ++i)
    names.insert(op_name(static_cast<Op>(i)));
  EXPECT_EQ(names.size(), kOpCount);
  EXPECT_STREQ(op_name(Op::kLookup), "lookup");
  EXPECT_STREQ(op_name(Op::kForgetMulti), "forget_multi");
  EXPECT_STREQ(op_name(Op::kCopyFileRange), "copy_file_range");
  EXPECT_STREQ(op_name(Op::kRemovexattr), "removexattr");
}

TEST(RequestCounters, CountsEachOperationApart) {
  RequestCounters counters;
  EXPECT_EQ(counters.total(), 0u);
  counters.count(Op::kWrite);
  counters.count(Op::kWrite);
  counters.count(Op::kGetxattr);
  EXPECT_EQ(counters.get(Op::kWrite), 2u);
  EXPECT_EQ(counters.get(Op::kGetxattr), 1u);
  EXPECT_EQ(counters.get(Op::kRead), 0u);
  EXPECT_EQ(counters.total(), 3u);
}

TEST(RequestCounters, JsonListsEveryOperationWithTheTotal) {
  RequestCounters counters;
  counters.count(Op::kLookup);
  counters.count(Op::kRemovexattr);
  counters.count(Op::kRemovexattr);
  const std::string text = to_json_text(counters.to_json());
  auto parsed = parse_json(text);
  ASSERT_TRUE(parsed.ok()) << text;
  ASSERT_TRUE(parsed->is_object()) << text;
  ASSERT_EQ(parsed->size(), kOpCount + 1);
  EXPECT_EQ(parsed->begin().key(), "total");
  EXPECT_EQ(json_u64(*parsed, "total"), 3u);
  EXPECT_EQ(json_u64(*parsed, "lookup"), 1u);
  EXPECT_EQ(json_u64(*parsed, "removexattr"), 2u);
  EXPECT_EQ(json_u64(*parsed, "read"), 0u);
}

TEST(RequestCounters, ConcurrentCountsAreNotLost) {
  RequestCounters counters;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counters, t] {
      for (int i = 0; i < kPerThread; ++i)
        counters.count(t % 2 == 0 ? Op::kRead : Op::kWrite);
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(counters.get(Op::kRead), 2u * kPerThread);
  EXPECT_EQ(counters.get(Op::kWrite), 2u * kPerThread);
  EXPECT_EQ(counters.total(), 4u * kPerThread);
}

}  // namespace
}  // namespace zsfs::mount
