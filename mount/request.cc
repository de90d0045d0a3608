#include "mount/request.h"

#include <string>

#include "mount/caller_credentials.h"
#include "mount/fuse_protocol.h"

namespace zsfs::mount {

MountContext::MountContext(fs::Filesystem& filesystem, bool writeback_requested, bool posix_acl)
    : fs_(filesystem),
      // Clearing setuid and setgid in the daemon (FUSE_HANDLE_KILLPRIV_V2) lets the kernel keep
      // SB_NOSEC: see fuse_protocol.h.
      layer_(FUSE_HANDLE_KILLPRIV_V2,
             [this](uint64_t nodeid, const fs::Caller& caller) {
               kill_suidgid(nodeid, caller_of(caller.uid, caller.gid, caller.pid, 0));
             }),
      writeback_requested_(writeback_requested),
      posix_acl_(posix_acl) {}

bool MountContext::killpriv_v2() const {
  return (layer_.added_init_flags() & FUSE_HANDLE_KILLPRIV_V2) != 0;
}

void MountContext::kill_suidgid(fuse_ino_t ino, const fs::Caller& caller) noexcept {
  // The file may be gone: the operation that follows reports that.
  const Result<bool> killed = fs_.kill_suidgid(ino, caller);
  fuse_session* session = session_.load(std::memory_order_acquire);
  if (!killed.ok() || !*killed || session == nullptr) return;
  // Attributes only (offset -1): no page is dropped, and no lock the writer holds is taken, so
  // this is safe while the write that carried the kill flag waits for its reply. ENOENT: the
  // kernel has not cached the inode, so it has nothing stale.
  fuse_lowlevel_notify_inval_inode(session, ino, -1, 0);
}

fs::Caller caller_of(uint32_t uid, uint32_t gid, int32_t pid, uint32_t umask) {
  fs::Caller caller;
  caller.uid = uid;
  caller.gid = gid;
  caller.pid = pid;
  caller.umask = umask;
  caller.in_group_or_capable = in_group_or_capable;
  return caller;
}

fs::Caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return caller_of(static_cast<uint32_t>(ctx->uid), static_cast<uint32_t>(ctx->gid),
                   static_cast<int32_t>(ctx->pid), static_cast<uint32_t>(ctx->umask));
}

struct stat to_stat(const fs::Attr& attr) {
  struct stat st {};
  st.st_ino = attr.ino;
  st.st_mode = attr.mode;
  st.st_nlink = attr.nlink;
  st.st_uid = attr.uid;
  st.st_gid = attr.gid;
  st.st_rdev = attr.rdev;
  st.st_size = static_cast<off_t>(attr.size);
  st.st_blocks = static_cast<blkcnt_t>(attr.blocks);
  st.st_blksize = static_cast<blksize_t>(attr.block_size);
  st.st_atim = attr.atime;
  st.st_mtim = attr.mtime;
  st.st_ctim = attr.ctime;
  return st;
}

fuse_entry_param to_entry(const fs::Attr& attr) {
  fuse_entry_param entry{};
  entry.ino = attr.ino;
  entry.generation = attr.generation;
  entry.attr = to_stat(attr);
  entry.attr_timeout = kCacheTimeoutSeconds;
  entry.entry_timeout = kCacheTimeoutSeconds;
  return entry;
}

void Reply::mark_sent() {
  ZSFS_CHECK_MSG(!sent_, "a second reply to one FUSE request");
  sent_ = true;
}

void Reply::error(int errno_value) {
  mark_sent();
  fuse_reply_err(req_, errno_value);
}

void Reply::none() {
  mark_sent();
  fuse_reply_none(req_);
}

void Reply::entry(const fs::Attr& attr) {
  mark_sent();
  const fuse_entry_param entry = to_entry(attr);
  if (fuse_reply_entry(req_, &entry) != 0) fs_.forget(attr.ino, 1);
}

void Reply::negative_entry() {
  mark_sent();
  fuse_entry_param entry{};  // ino 0: "no such name", cached for entry_timeout
  entry.entry_timeout = kCacheTimeoutSeconds;
  fuse_reply_entry(req_, &entry);
}

void Reply::create(const fs::Attr& attr, const fuse_file_info& fi, bool opened) {
  mark_sent();
  const fuse_entry_param entry = to_entry(attr);
  if (fuse_reply_create(req_, &entry, &fi) != 0) {
    if (opened) fs_.release(attr.ino);
    fs_.forget(attr.ino, 1);
  }
}

void Reply::attr(const fs::Attr& attr) {
  mark_sent();
  const struct stat st = to_stat(attr);
  fuse_reply_attr(req_, &st, kCacheTimeoutSeconds);
}

void Reply::open(const fuse_file_info& fi, fs::Ino release_ino) {
  mark_sent();
  if (fuse_reply_open(req_, &fi) != 0 && release_ino != 0) fs_.release(release_ino);
}

bool Reply::buffer(const char* data, size_t size) {
  mark_sent();
  return fuse_reply_buf(req_, data, size) == 0;
}

void Reply::written(size_t count) {
  mark_sent();
  fuse_reply_write(req_, count);
}

void Reply::xattr_size(size_t size) {
  mark_sent();
  fuse_reply_xattr(req_, size);
}

void Reply::readlink(const std::string& target) {
  mark_sent();
  fuse_reply_readlink(req_, target.c_str());
}

void Reply::statfs(const struct statvfs& st) {
  mark_sent();
  fuse_reply_statfs(req_, &st);
}

void Reply::lseek(off_t offset) {
  mark_sent();
  fuse_reply_lseek(req_, offset);
}

void handler_failed(Reply& reply, Op op, int errno_value, const char* what) noexcept {
  // Reply first: formatting the message could itself run out of memory.
  const bool replied_before = reply.sent();
  if (!replied_before) reply.error(errno_value);
  try {
    log_error(std::string(op_name(op)) + ": " + what +
              (replied_before ? " (after the reply was sent)" : ""));
  } catch (...) {
    log_error("a request failed and its message could not be formatted");
  }
}

}  // namespace zsfs::mount
