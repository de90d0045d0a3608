// Helpers shared by the disk unit tests: a fresh directory, whole-file reads and writes, and a
// fault plan that is cleared when the test ends.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "disk/faults.h"
#include "tests/unit/scratch_dir.h"

namespace zsfs::disk::testing {

using TempDir = zsfs::testing::ScratchDir;

inline std::vector<std::byte> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// Replaces path's contents. The old file is unlinked first: ext4 flushes a file that is
// truncated to zero and rewritten (auto_da_alloc), which would make tests that rewrite a file
// thousands of times slow.
inline void write_whole(const std::string& path, const std::vector<std::byte>& bytes) {
  ::unlink(path.c_str());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Installs a fault plan for the length of a scope.
class FaultPlan {
 public:
  explicit FaultPlan(const std::string& plan) {
    Problem p = faults::set_plan(plan);
    EXPECT_FALSE(p) << p.message;
  }
  ~FaultPlan() { (void)faults::set_plan(""); }
  FaultPlan(const FaultPlan&) = delete;
  FaultPlan& operator=(const FaultPlan&) = delete;
};

}  // namespace zsfs::disk::testing
