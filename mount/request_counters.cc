#include "mount/request_counters.h"

#include <string_view>

#include "base/json.h"

namespace zsfs::mount {
namespace {

constexpr std::array<const char*, kOpCount> kOpNames = {
    // Names and attributes.
    "lookup",
    "forget",
    "forget_multi",
    "getattr",
    "setattr",
    "readlink",
    "mknod",
    "mkdir",
    "symlink",
    "link",
    "unlink",
    "rmdir",
    "rename",
    // Files.
    "open",
    "create",
    "tmpfile",
    "read",
    "write",
    "release",
    "fallocate",
    "lseek",
    "copy_file_range",
    // Directories, the filesystem, extended attributes.
    "opendir",
    "readdir",
    "readdirplus",
    "releasedir",
    "statfs",
    "setxattr",
    "getxattr",
    "listxattr",
    "removexattr",
};
static_assert(std::string_view(kOpNames.back()) == "removexattr", "kOpNames follows Op");

}  // namespace

const char* op_name(Op op) {
  const auto index = static_cast<size_t>(op);
  return index < kOpCount ? kOpNames[index] : "unknown";
}

uint64_t RequestCounters::total() const noexcept {
  uint64_t sum = 0;
  for (const std::atomic<uint64_t>& count : counts_)
    sum += count.load(std::memory_order_relaxed);
  return sum;
}

Json RequestCounters::to_json() const {
  // One pass over the counters, so that the total is the sum of the figures beside it even while
  // requests are being counted.
  std::array<uint64_t, kOpCount> counts{};
  uint64_t sum = 0;
  for (size_t i = 0; i < kOpCount; ++i) {
    counts[i] = counts_[i].load(std::memory_order_relaxed);
    sum += counts[i];
  }
  Json json = {{"total", sum}};
  for (size_t i = 0; i < kOpCount; ++i)
    json[kOpNames[i]] = counts[i];
  return json;
}

}  // namespace zsfs::mount
