#include "mount/request_layer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "mount/fuse_protocol.h"

namespace zsfs::mount {
namespace {

// Reads a T at offset of a request or reply, which need not be aligned for it.
template <class T>
T load(std::span<const char> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <class T>
void store(std::span<char> bytes, size_t offset, const T& value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

// Copies the first out.size() bytes of the data in iov (fewer if there are fewer); returns how
// many.
size_t gather(const iovec* iov, int count, std::span<char> out) {
  size_t copied = 0;
  for (int i = 0; i < count && copied < out.size(); ++i) {
    const size_t n = std::min(iov[i].iov_len, out.size() - copied);
    std::memcpy(out.data() + copied, iov[i].iov_base, n);
    copied += n;
  }
  return copied;
}

constexpr size_t kInHeader = sizeof(fuse_in_header);
constexpr size_t kOutHeader = sizeof(fuse_out_header);
static_assert(kOutHeader + sizeof(fuse_init_out) == RequestLayer::kInitReplyMax);

}  // namespace

RequestLayer::RequestLayer(uint64_t wanted_init_flags, KillHook kill)
    : wanted_init_flags_(wanted_init_flags), kill_(std::move(kill)) {}

size_t RequestLayer::on_request(std::span<char> request) {
  if (request.size() < kInHeader) return request.size();
  const auto header = load<fuse_in_header>(request, 0);
  if (header.len != request.size()) return request.size();
  const std::span<const char> bytes = request;
  switch (header.opcode) {
    case FUSE_INIT:
      on_init(bytes);
      break;
    case FUSE_TMPFILE:
      if (request.size() > kInHeader + sizeof(fuse_create_in)) {
        // The same arguments and reply as FUSE_CREATE (fuse_create_open() sends both); O_TMPFILE
        // in the flags, which the kernel sets anyway, is what tells the create handler.
        auto arg = load<fuse_create_in>(bytes, kInHeader);
        arg.flags |= O_TMPFILE;
        store(request, kInHeader, arg);
        store(request, offsetof(fuse_in_header, opcode), uint32_t{FUSE_CREATE});
      }
      break;
    case FUSE_WRITE:
      if (request.size() >= kInHeader + sizeof(fuse_write_in) &&
          (load<fuse_write_in>(bytes, kInHeader).write_flags & FUSE_WRITE_KILL_SUIDGID) != 0) {
        on_kill_flag(bytes);
      }
      break;
    case FUSE_OPEN:
      if (request.size() >= kInHeader + sizeof(fuse_open_in) &&
          (load<fuse_open_in>(bytes, kInHeader).open_flags & FUSE_OPEN_KILL_SUIDGID) != 0) {
        on_kill_flag(bytes);
      }
      break;
    default:
      break;
  }
  return request.size();
}

void RequestLayer::on_init(std::span<const char> request) {
  // Protocol 7.6 and later send at least major, minor, max_readahead and flags; flags2 came with
  // FUSE_INIT_EXT (7.36).
  const size_t flags_at = kInHeader + offsetof(fuse_init_in, flags);
  const size_t flags2_at = kInHeader + offsetof(fuse_init_in, flags2);
  if (request.size() < flags_at + sizeof(uint32_t)) return;
  uint64_t flags = load<uint32_t>(request, flags_at);
  if ((flags & FUSE_INIT_EXT) != 0 && request.size() >= flags2_at + sizeof(uint32_t)) {
    flags |= uint64_t{load<uint32_t>(request, flags2_at)} << 32;
  }
  kernel_flags_.store(flags, std::memory_order_release);
  init_unique_.store(load<fuse_in_header>(request, 0).unique, std::memory_order_release);
}

void RequestLayer::on_kill_flag(std::span<const char> request) {
  const auto header = load<fuse_in_header>(request, 0);
  fs::Caller caller;
  caller.uid = header.uid;
  caller.gid = header.gid;
  caller.pid = static_cast<int32_t>(header.pid);
  try {
    kill_(header.nodeid, caller);
  } catch (...) {
    // The hook must not throw; this is libfuse's I/O callback, where nothing may.
    log(LogLevel::kError, "clearing setuid/setgid before a write failed");
  }
}

bool RequestLayer::is_init_reply(const iovec* iov, int count) const {
  const uint64_t init_unique = init_unique_.load(std::memory_order_acquire);
  if (init_unique == 0 || count < 1 || iov[0].iov_len < kOutHeader) return false;
  const auto header = load<fuse_out_header>(
      std::span<const char>(static_cast<const char*>(iov[0].iov_base), kOutHeader), 0);
  return header.unique == init_unique;
}

size_t RequestLayer::on_reply(const iovec* iov, int count, std::span<char, kInitReplyMax> patched) {
  if (!is_init_reply(iov, count)) return 0;
  init_unique_.store(0, std::memory_order_release);
  const auto header = load<fuse_out_header>(
      std::span<const char>(static_cast<const char*>(iov[0].iov_base), kOutHeader), 0);

  size_t total = 0;
  for (int i = 0; i < count; ++i)
    total += iov[i].iov_len;
  // An error, or a reply in a layout this does not know: left alone.
  if (header.error != 0 || total > kInitReplyMax ||
      total < kOutHeader + offsetof(fuse_init_out, flags) + sizeof(uint32_t)) {
    return 0;
  }
  gather(iov, count, patched);
  const std::span<char> reply = std::span<char>(patched).first(total);
  const size_t flags_at = kOutHeader + offsetof(fuse_init_out, flags);
  const size_t flags2_at = kOutHeader + offsetof(fuse_init_out, flags2);
  const auto flags = load<uint32_t>(reply, flags_at);
  uint64_t add = wanted_init_flags_ & kernel_init_flags();
  // Flags above bit 31 travel in flags2, which the kernel reads only with FUSE_INIT_EXT.
  if ((flags & FUSE_INIT_EXT) == 0 || total < flags2_at + sizeof(uint32_t)) add &= UINT32_MAX;
  if (add == 0) return 0;
  store(reply, flags_at, static_cast<uint32_t>(flags | (add & UINT32_MAX)));
  if ((add >> 32) != 0) {
    store(reply, flags2_at, static_cast<uint32_t>(load<uint32_t>(reply, flags2_at) | add >> 32));
  }
  added_flags_.store(add, std::memory_order_release);
  return total;
}

ssize_t RequestLayer::read(int fd, void* buf, size_t size) {
  const ssize_t n = ::read(fd, buf, size);
  if (n <= 0) return n;
  return static_cast<ssize_t>(
      on_request(std::span<char>(static_cast<char*>(buf), static_cast<size_t>(n))));
}

ssize_t RequestLayer::writev(int fd, const iovec* iov, int count) {
  // The INIT reply is the first reply: no other is written while it is on its way.
  const bool init_reply = is_init_reply(iov, count);
  std::array<char, kInitReplyMax> patched;
  const size_t size = init_reply ? on_reply(iov, count, patched) : 0;
  const ssize_t written = size != 0 ? ::write(fd, patched.data(), size) : ::writev(fd, iov, count);
  if (init_reply && written >= 0 && after_init_) after_init_();
  return written;
}

}  // namespace zsfs::mount
