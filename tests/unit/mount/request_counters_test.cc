#include "mount/request_counters.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mount/json_parser.h"

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
  JsonWriter writer;
  counters.write_json(writer);
  auto parsed = parse_json(writer.str());
  ASSERT_TRUE(parsed.ok()) << writer.str();
  const JsonValue::Object* members = parsed->as_object();
  ASSERT_NE(members, nullptr);
  ASSERT_EQ(members->size(), kOpCount + 1);
  EXPECT_EQ(members->front().first, "total");
  EXPECT_EQ(parsed->find("total")->as_u64(), 3u);
  EXPECT_EQ(parsed->find("lookup")->as_u64(), 1u);
  EXPECT_EQ(parsed->find("removexattr")->as_u64(), 2u);
  EXPECT_EQ(parsed->find("read")->as_u64(), 0u);
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
