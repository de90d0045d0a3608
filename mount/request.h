// What every FUSE handler shares: the mount's context, one reply per request, and the barrier
// that keeps exceptions out of libfuse.
//
// A handler is written as
//
//   void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
//     serve(req, Op::kGetattr, [&](MountContext& ctx, Reply& reply) {
//       auto attr = ctx.fs().getattr(ino);
//       if (!attr.ok()) return reply.error(attr.error());
//       reply.attr(*attr);
//     });
//   }
//
// Invariants:
// - Exactly one reply per request. Reply refuses (aborts on) a second one; serve() aborts when a
//   body returns without replying, and replies ENOMEM (std::bad_alloc) or EIO (anything else)
//   when a body throws before replying.
// - Replies are sent from mount/ only, after the core's call has returned, so never while the
//   core holds a lock.
// - A reply that hands the kernel a lookup reference (entry, create, readdirplus) and fails to
//   reach it gives the reference back (fs.forget), and a failed open reply releases the open
//   reference, so the core's counts stay equal to the kernel's.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <exception>
#include <new>
#include <string>

#include "fs/filesystem.h"
#include "mount/fuse_api.h"
#include "mount/log.h"
#include "mount/request_counters.h"
#include "mount/request_layer.h"

namespace zsfs::mount {

// How long the kernel may trust names, attributes and negative lookups. zsfs is the only writer
// of its files and every change goes through this kernel mount, which updates or invalidates
// what it caches as it makes the change, so the cache never goes stale; a day keeps lookups and
// stat() out of the daemon. (Timeouts only bound how long stale data could live; there is none.)
inline constexpr double kCacheTimeoutSeconds = 86400.0;

// The session's user data: the filesystem, the request layer in front of libfuse, and what
// init() negotiated.
class MountContext {
 public:
  // posix_acl: ask the kernel to enforce POSIX ACLs (the acl option).
  MountContext(fs::Filesystem& filesystem, bool writeback_requested, bool posix_acl);

  fs::Filesystem& fs() const { return fs_; }
  RequestCounters& requests() { return requests_; }
  const RequestCounters& requests() const { return requests_; }
  RequestLayer& layer() { return layer_; }
  // Whether the INIT reply handed clearing setuid and setgid to zsfs (FUSE_HANDLE_KILLPRIV_V2).
  bool killpriv_v2() const;
  // The session, for notifications to the kernel: set once it exists, before any request comes.
  void set_session(fuse_session* session) { session_.store(session, std::memory_order_release); }
  // Clears setuid and setgid from ino as a write by caller does (fs::Filesystem::kill_suidgid)
  // and, when a bit went, has the kernel fetch the inode's attributes again. Without that it
  // would keep the mode it cached before the write, setuid bit and all, and exec the file setuid
  // until something else refreshed it (attributes are trusted for a day). Never throws.
  void kill_suidgid(fuse_ino_t ino, const fs::Caller& caller) noexcept;
  bool writeback_requested() const { return writeback_requested_; }
  bool posix_acl() const { return posix_acl_; }
  // Whether the kernel's writeback cache is on; set once by init(), before the kernel sends any
  // other request. Atomic because that ordering goes through the kernel, which the C++ memory
  // model (and ThreadSanitizer) cannot see.
  bool writeback() const { return writeback_.load(std::memory_order_acquire); }
  void set_writeback(bool on) { writeback_.store(on, std::memory_order_release); }
  // Whether the kernel can do without OPEN/RELEASE (and OPENDIR/RELEASEDIR) requests: then
  // open and opendir answer ENOSYS once, and the kernel stops sending them. Set by init().
  bool skip_open() const { return skip_open_.load(std::memory_order_acquire); }
  bool skip_opendir() const { return skip_opendir_.load(std::memory_order_acquire); }
  void set_skip_open(bool files, bool dirs) {
    skip_open_.store(files, std::memory_order_release);
    skip_opendir_.store(dirs, std::memory_order_release);
  }

 private:
  fs::Filesystem& fs_;
  RequestCounters requests_;
  RequestLayer layer_;
  const bool writeback_requested_;
  const bool posix_acl_;
  std::atomic<fuse_session*> session_{nullptr};
  std::atomic<bool> writeback_{false};
  std::atomic<bool> skip_open_{false};
  std::atomic<bool> skip_opendir_{false};
};

inline MountContext& context_of(fuse_req_t req) {
  return *static_cast<MountContext*>(fuse_req_userdata(req));
}

// The credentials of the process behind a request, with its umask (for requests that create)
// and the way to ask about its groups and CAP_FSETID (caller_credentials.h).
fs::Caller caller_of(fuse_req_t req);
fs::Caller caller_of(uint32_t uid, uint32_t gid, int32_t pid, uint32_t umask);

struct stat to_stat(const fs::Attr& attr);
fuse_entry_param to_entry(const fs::Attr& attr);

// Sends the one reply of a request.
class Reply {
 public:
  Reply(fuse_req_t req, fs::Filesystem& filesystem) : req_(req), fs_(filesystem) {}
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  bool sent() const { return sent_; }

  void error(int errno_value);  // 0 is success for requests answered with an errno only
  void ok() { error(0); }
  void none();
  // The entry adds a lookup reference the core counted already; given back if the reply fails.
  void entry(const fs::Attr& attr);
  // ENOENT as a cacheable negative entry.
  void negative_entry();
  // The lookup reference, and the open reference if opened, given back if the reply fails.
  void create(const fs::Attr& attr, const fuse_file_info& fi, bool opened);
  void attr(const fs::Attr& attr);
  // release_ino: the file whose open reference is given back if the reply fails (0: none).
  void open(const fuse_file_info& fi, fs::Ino release_ino);
  // Returns whether the reply reached the kernel (readdirplus gives references back if not).
  bool buffer(const char* data, size_t size);
  void written(size_t count);
  void xattr_size(size_t size);
  void readlink(const std::string& target);
  void statfs(const struct statvfs& st);
  void lseek(off_t offset);

 private:
  void mark_sent();

  fuse_req_t req_;
  fs::Filesystem& fs_;
  bool sent_ = false;
};

// Logs a handler's exception and replies errno_value if no reply was sent yet.
void handler_failed(Reply& reply, Op op, int errno_value, const char* what) noexcept;

// Counts the request (for the statistics, and for the background work that gives way to a busy
// foreground), then runs body(ctx, reply) with the exception barrier described above.
template <class Body>
void serve(fuse_req_t req, Op op, Body&& body) noexcept {
  MountContext& ctx = context_of(req);
  ctx.requests().count(op);
  ctx.fs().note_request();
  Reply reply(req, ctx.fs());
  try {
    body(ctx, reply);
  } catch (const std::bad_alloc&) {
    handler_failed(reply, op, ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    handler_failed(reply, op, EIO, e.what());
  } catch (...) {
    handler_failed(reply, op, EIO, "unknown exception");
  }
  ZSFS_CHECK_MSG(reply.sent(), op_name(op));
}

// Offsets and lengths from the kernel arrive as signed types; negative ones are EINVAL.
inline bool to_unsigned(off_t value, uint64_t& out) {
  if (value < 0) return false;
  out = static_cast<uint64_t>(value);
  return true;
}

}  // namespace zsfs::mount
