// RequestLayer: what zsfs does with FUSE requests and replies on their way between /dev/fuse and
// libfuse 3.14, for the parts of the protocol libfuse does not know (fuse_protocol.h has the
// protocol facts and their sources).
//
// libfuse reads requests and writes replies through the session's custom I/O
// (fuse_session_custom_io()), which the daemon points at read() and writev() here once mounted;
// so both request loops, zsfs's own (one thread) and libfuse's (several), pass through it. Each
// request read, before libfuse dispatches it:
// - FUSE_INIT: its unique id and the flags the kernel offers are remembered.
// - FUSE_TMPFILE: rewritten in place into the FUSE_CREATE it is shaped like, which libfuse hands
//   to the create handler; O_TMPFILE in its flags says what it is.
// - FUSE_WRITE with FUSE_WRITE_KILL_SUIDGID, FUSE_OPEN with FUSE_OPEN_KILL_SUIDGID: the kill hook
//   runs first and clears setuid and setgid, where the kernel would have cleared them itself
//   before the write (file_remove_privs()); libfuse passes neither flag on.
// Each reply written: the reply to that INIT gets the flags zsfs wants and libfuse has no name for
// (FUSE_HANDLE_KILLPRIV_V2), where the kernel offered them. It is written from a copy; libfuse's
// buffer stays as it was. Once it is written, the after-INIT hook runs.
// Everything else passes unchanged, and so does a request too short for what its opcode says:
// libfuse answers malformed requests itself.
//
// Thread-safe: several request threads may read and write at once. The INIT exchange comes before
// any other request, so atomics are enough for what it leaves behind.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "fs/types.h"

namespace zsfs::mount {

class RequestLayer {
 public:
  // Clears setuid and setgid from inode nodeid as a write by caller does; must not throw.
  using KillHook = std::function<void(uint64_t nodeid, const fs::Caller& caller)>;

  // The largest INIT reply (struct fuse_out_header and struct fuse_init_out).
  static constexpr size_t kInitReplyMax = 80;

  // wanted_init_flags: INIT reply flags to add where the kernel offers them.
  RequestLayer(uint64_t wanted_init_flags, KillHook kill);

  // Examines one request of size bytes, rewriting it in place where needed (it never grows), and
  // returns the size to hand to libfuse.
  size_t on_request(std::span<char> request);
  // The reply to write instead of iov: its size in patched, or 0 to write iov as it is.
  size_t on_reply(const iovec* iov, int count, std::span<char, kInitReplyMax> patched);

  // Runs once, on the thread that wrote the INIT reply, right after the write succeeded: the
  // kernel has applied the reply by then, so a setting it would override (the read-ahead window,
  // mount/readahead.h) can be made. Set before any request is read; must not throw.
  using InitHook = std::function<void()>;
  void set_after_init(InitHook hook) { after_init_ = std::move(hook); }

  // read(2) and writev(2) on the device through on_request and on_reply, as fuse_custom_io's
  // read and writev (-1 and errno on failure).
  ssize_t read(int fd, void* buf, size_t size);
  ssize_t writev(int fd, const iovec* iov, int count);

  // What the kernel offered in INIT (0 until it came), and what the INIT reply added to
  // libfuse's flags.
  uint64_t kernel_init_flags() const { return kernel_flags_.load(std::memory_order_acquire); }
  uint64_t added_init_flags() const { return added_flags_.load(std::memory_order_acquire); }

 private:
  void on_init(std::span<const char> request);
  // Whether iov is the reply to the INIT request (before on_reply() has seen it).
  bool is_init_reply(const iovec* iov, int count) const;
  void on_kill_flag(std::span<const char> request);

  const uint64_t wanted_init_flags_;
  const KillHook kill_;
  InitHook after_init_;
  // The INIT request's unique id; 0 (never a request's) until it came and after its reply.
  std::atomic<uint64_t> init_unique_{0};
  std::atomic<uint64_t> kernel_flags_{0};
  std::atomic<uint64_t> added_flags_{0};
};

}  // namespace zsfs::mount
