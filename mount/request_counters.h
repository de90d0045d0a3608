// RequestCounters: how many FUSE requests of each kind the daemon has served since the mount.
//
// A request is the unit FUSE's cost comes in: every one is a round trip between the calling
// process and the daemon (measured on a 2-core machine: 7 to 9 us for the cheapest, whatever the
// daemon does), so the counts tell where a workload's time goes and how many round trips the
// kernel asks for per system call (a file extracted by tar costs about 15). They appear in
// user.zsfs.stats under "requests" and in `zsfsctl stats`.
//
// Requests that libfuse answers by itself (INIT, and operations zsfs leaves unimplemented, which
// the kernel asks once and then stops sending) are not counted. Thread-safe; counting is one
// relaxed atomic increment.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json_fwd.h"

namespace zsfs::mount {

// The operations zsfs serves, in the order user.zsfs.stats lists them.
enum class Op : uint8_t {
  kLookup,
  kForget,
  kForgetMulti,
  kGetattr,
  kSetattr,
  kReadlink,
  kMknod,
  kMkdir,
  kSymlink,
  kLink,
  kUnlink,
  kRmdir,
  kRename,
  kOpen,
  kCreate,
  kTmpfile,  // FUSE_TMPFILE, which the request layer hands to the create handler
  kRead,
  kWrite,
  kRelease,
  kFallocate,
  kLseek,
  kCopyFileRange,
  kOpendir,
  kReaddir,
  kReaddirplus,
  kReleasedir,
  kStatfs,
  kSetxattr,
  kGetxattr,
  kListxattr,
  kRemovexattr,
};
inline constexpr size_t kOpCount = static_cast<size_t>(Op::kRemovexattr) + 1;

// The operation's name as libfuse's low-level API spells it ("forget_multi", "readdirplus").
const char* op_name(Op op);

class RequestCounters {
 public:
  void count(Op op) noexcept {
    counts_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t get(Op op) const noexcept {
    return counts_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
  }
  uint64_t total() const noexcept;

  // {"total": N, "lookup": N, ...}: every operation, zeros included, so that scripts can take
  // differences between two readings without checking for missing keys.
  Json to_json() const;

 private:
  std::array<std::atomic<uint64_t>, kOpCount> counts_{};
};

}  // namespace zsfs::mount
