// The session's own operations (init, destroy, statfs) and the assembled operation table.
//
// init() chooses the FUSE capabilities. Why each:
// - max_write 1 MiB (libfuse 3.14 then asks for max_pages = 256): fewer, larger writes, each
//   cut into 4 KiB blocks by the core anyway. Reads get the same bound from the kernel.
// - ASYNC_READ: the kernel may send several reads (readahead) of one file at once.
// - PARALLEL_DIROPS: lookups and readdirs in one directory run in parallel; the core locks.
// - READDIRPLUS with READDIRPLUS_AUTO: `ls -l` and find(1) get attributes with the listing
//   instead of one lookup per name; plain `ls` stays on cheap readdir.
// - NO_OPEN_SUPPORT and NO_OPENDIR_SUPPORT: the core needs to see neither opens nor closes (an
//   open file keeps its inode through the kernel's lookup reference), so open, opendir and create
//   answer ENOSYS once and the kernel stops sending OPEN, RELEASE, OPENDIR, RELEASEDIR and CREATE
//   (it creates files with MKNOD instead). It then treats every open as keep_cache, and every
//   open directory as cache_readdir. Files: create costs two round trips instead of three, an
//   open-read-close one instead of three. FLUSH, FSYNC and FSYNCDIR are not implemented either
//   (the data is in the core once a write is answered): the kernel asks once and stops.
// - not ATOMIC_O_TRUNC: without OPEN requests, O_TRUNC must reach the core as a setattr.
// - CACHE_SYMLINKS: link targets never change behind the kernel's back.
// - not AUTO_INVAL_DATA: it would drop a file's whole page cache whenever the mtime the kernel
//   fetches differs from the one it had, which after every write is always; with zsfs as the
//   only writer the cache is never stale, so this only costs.
// - not HANDLE_KILLPRIV, but HANDLE_KILLPRIV_V2 (which libfuse cannot name: the request layer
//   adds it to the INIT reply, see fuse_protocol.h): zsfs clears setuid/setgid bits on write,
//   truncate and chown where the requests say so, and the kernel keeps SB_NOSEC, which spares a
//   getxattr of security.capability before most writes.
// - POSIX_ACL and DONT_MASK with the acl option (the default, as tmpfs): the kernel enforces
//   ACLs in its permission checks and leaves the umask to zsfs, which applies it only where no
//   default ACL replaces it (fs/posix_acl.h).
// - not SPLICE_READ/WRITE/MOVE: the core must have the bytes in its own memory to compress or
//   after decompressing them, so splicing saves no copy and adds system calls per request.
//   Measured (release build, 1 GiB, best of five): write 7.4 s without, 8.1 s with; reading
//   with a cold page cache 2.66 s without, 2.75 s with.
// - WRITEBACK_CACHE only with writeback=on (see options.h and zsfs(8) for the default).
#include <sys/statvfs.h>

#include "mount/ops.h"
#include "mount/request.h"

namespace zsfs::mount {
namespace {

// The largest write the kernel sends in one request.
constexpr unsigned kMaxWriteBytes = 1u << 20;

void want_if_capable(fuse_conn_info& conn, unsigned capability) {
  if ((conn.capable & capability) != 0) conn.want |= capability;
}

void op_init(void* userdata, fuse_conn_info* conn) {
  auto& ctx = *static_cast<MountContext*>(userdata);
  conn->max_write = kMaxWriteBytes;
  want_if_capable(*conn, FUSE_CAP_ASYNC_READ);
  want_if_capable(*conn, FUSE_CAP_PARALLEL_DIROPS);
  want_if_capable(*conn, FUSE_CAP_READDIRPLUS);
  want_if_capable(*conn, FUSE_CAP_READDIRPLUS_AUTO);
  want_if_capable(*conn, FUSE_CAP_CACHE_SYMLINKS);
  if (ctx.posix_acl()) {
    if ((conn->capable & FUSE_CAP_POSIX_ACL) != 0 && (conn->capable & FUSE_CAP_DONT_MASK) != 0) {
      conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
    } else {
      log_warning("the kernel offers no POSIX ACLs; access ACLs are kept but not enforced");
    }
  }
  ctx.set_skip_open((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0,
                    (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0);
  constexpr unsigned kUnwanted = FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_HANDLE_KILLPRIV |
                                 FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_SPLICE_READ |
                                 FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
  conn->want &= ~kUnwanted;
  if (ctx.writeback_requested()) {
    if ((conn->capable & FUSE_CAP_WRITEBACK_CACHE) != 0) {
      conn->want |= FUSE_CAP_WRITEBACK_CACHE;
      ctx.set_writeback(true);
    } else {
      log_warning("the kernel offers no writeback cache; continuing with writeback=off");
    }
  }
  conn->time_gran = 1;  // the core keeps nanoseconds
}

void op_destroy(void*) {
  // Nothing to do: the daemon frees the filesystem after the session loop has ended.
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  serve(req, Op::kStatfs, [&](MountContext& ctx, Reply& reply) {
    const fs::StatFs fs_stat = ctx.fs().statfs();
    struct statvfs st {};
    st.f_bsize = fs_stat.block_size;
    st.f_frsize = fs_stat.block_size;
    st.f_blocks = fs_stat.blocks;
    st.f_bfree = fs_stat.blocks_free;
    st.f_bavail = fs_stat.blocks_available;
    st.f_files = fs_stat.files;
    st.f_ffree = fs_stat.files_free;
    st.f_favail = fs_stat.files_available;
    st.f_namemax = fs_stat.name_max;
    reply.statfs(st);
  });
}

}  // namespace

void add_session_ops(fuse_lowlevel_ops& ops) {
  ops.init = op_init;
  ops.destroy = op_destroy;
  ops.statfs = op_statfs;
}

fuse_lowlevel_ops lowlevel_ops() {
  fuse_lowlevel_ops ops{};
  add_session_ops(ops);
  add_entry_ops(ops);
  add_file_ops(ops);
  add_directory_ops(ops);
  add_xattr_ops(ops);
  return ops;
}

}  // namespace zsfs::mount
