// Handlers for open files: open, create, read, write, flush, release, fsync, fallocate, lseek,
// copy_file_range.
//
// Where the kernel supports it, open and create answer ENOSYS (see ops_session.cc): the kernel
// then opens files without asking, with keep_cache. Otherwise every open sets keep_cache: the
// kernel's page cache for a file stays valid across opens because every change goes through
// this mount, and the kernel drops or updates the affected pages itself on write, truncate,
// fallocate and copy_file_range. Appends need nothing from the daemon: the kernel places an
// O_APPEND write at its size (under the inode lock), which is the core's size too.
//
// flush, fsync are not implemented: every write is in the core when it is answered.
//
// Setuid and setgid: with FUSE_HANDLE_KILLPRIV_V2 (see fuse_protocol.h) the kernel leaves
// clearing them to zsfs. Writes say so with a flag (the request layer acts on it), but
// fallocate and copy_file_range do not, though the kernel's file_modified() would have cleared
// them before either for a caller without CAP_FSETID; so their handlers do that first.
//
// O_TMPFILE: the kernel's FUSE_TMPFILE reaches op_create, rewritten by the request layer, with
// O_TMPFILE in its flags. The file is made without a name, with a lookup reference only: the
// kernel sends RELEASE at its last close only while it still sends opens (no_open unset), which
// can change while the file is open. So its open reply carries the file handle
// kNoOpenReference, and a release carrying that handle has nothing to give back. The FORGET that
// follows the last close frees the file if no link gave it a name.
#include <fcntl.h>
#include <sys/stat.h>

#include <span>

#include "mount/caller_credentials.h"
#include "mount/ops.h"
#include "mount/request.h"
#include "mount/thread_buffers.h"

namespace zsfs::mount {
namespace {

void reply_status(Reply& reply, const Status& status) {
  reply.error(status.ok() ? 0 : status.error());
}

// The file handle of an open that holds no open reference in the core (an O_TMPFILE file);
// other opens have 0.
constexpr uint64_t kNoOpenReference = 1;

// Marks an open file the way zsfs wants the kernel to treat it.
void set_open_flags(fuse_file_info& fi) {
  fi.keep_cache = 1;
  // close(2) needs no round trip: there is nothing to flush. (The kernel ignores this when the
  // writeback cache is on, since it must write dirty pages back on close then.)
  fi.noflush = 1;
}

// What the kernel's file_modified() does to setuid and setgid before a change to ino's data, which
// FUSE_HANDLE_KILLPRIV_V2 leaves to zsfs. Files without either bit, most of them, cost one
// getattr; the caller's capabilities are read only for the others.
void kill_suidgid_as_modified(MountContext& ctx, fuse_ino_t ino, const fs::Caller& caller) {
  if (!ctx.killpriv_v2()) return;
  auto attr = ctx.fs().getattr(ino);
  if (!attr.ok() || (attr->mode & (S_ISUID | S_ISGID)) == 0 || capable_fsetid(caller)) return;
  ctx.kill_suidgid(ino, caller);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  serve(req, Op::kOpen, [&](MountContext& ctx, Reply& reply) {
    if (ctx.skip_open()) return reply.error(ENOSYS);
    Status opened = ctx.fs().open(ino, fi->flags);
    if (!opened.ok()) return reply.error(opened.error());
    set_open_flags(*fi);
    reply.open(*fi, ino);
  });
}

void op_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, fuse_file_info* fi) {
  serve(req, Op::kTmpfile, [&](MountContext& ctx, Reply& reply) {
    auto attr = ctx.fs().tmpfile(parent, mode, fi->flags, caller_of(req));
    if (!attr.ok()) return reply.error(attr.error());
    set_open_flags(*fi);
    fi->fh = kNoOpenReference;
    reply.create(*attr, *fi, /*opened=*/false);
  });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  if ((fi->flags & O_TMPFILE) == O_TMPFILE) return op_tmpfile(req, parent, mode, fi);
  serve(req, Op::kCreate, [&](MountContext& ctx, Reply& reply) {
    // Without opens the kernel creates with mknod, and saves the release that a create brings.
    if (ctx.skip_open()) return reply.error(ENOSYS);
    auto attr = ctx.fs().create(parent, name, mode, fi->flags, caller_of(req));
    if (!attr.ok()) return reply.error(attr.error());
    set_open_flags(*fi);
    reply.create(*attr, *fi, /*opened=*/true);
  });
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  serve(req, Op::kRead, [&](MountContext& ctx, Reply& reply) {
    uint64_t start = 0;
    if (!to_unsigned(offset, start)) return reply.error(EINVAL);
    std::span<std::byte> buffer = thread_buffer(size);
    auto count = ctx.fs().read(ino, start, buffer);
    if (!count.ok()) return reply.error(count.error());
    reply.buffer(reinterpret_cast<const char*>(buffer.data()), *count);
  });
}

// write_buf rather than write: libfuse hands over its own receive buffer, so data that arrived in
// memory reaches the core without a copy; data in a pipe (splice) is copied out once.
void op_write_buf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* bufv, off_t offset,
                  fuse_file_info*) {
  serve(req, Op::kWrite, [&](MountContext& ctx, Reply& reply) {
    uint64_t start = 0;
    if (!to_unsigned(offset, start)) return reply.error(EINVAL);
    const size_t size = fuse_buf_size(bufv);
    std::span<const std::byte> data;
    const fuse_buf& first = bufv->buf[0];
    if (bufv->count == 1 && bufv->idx == 0 && bufv->off == 0 &&
        (first.flags & FUSE_BUF_IS_FD) == 0) {
      data = {static_cast<const std::byte*>(first.mem), size};
    } else {
      std::span<std::byte> buffer = thread_buffer(size);
      fuse_bufvec dst{};
      dst.count = 1;
      dst.buf[0].size = size;
      dst.buf[0].mem = buffer.data();
      dst.buf[0].fd = -1;
      const ssize_t copied = fuse_buf_copy(&dst, bufv, static_cast<fuse_buf_copy_flags>(0));
      if (copied < 0) return reply.error(static_cast<int>(-copied));
      data = buffer.first(static_cast<size_t>(copied));
    }
    auto written = ctx.fs().write(ino, start, data, false);
    if (!written.ok()) return reply.error(written.error());
    reply.written(*written);
  });
}

void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  serve(req, Op::kRelease, [&](MountContext& ctx, Reply& reply) {
    if (fi->fh != kNoOpenReference) ctx.fs().release(ino);
    reply.ok();
  });
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                  fuse_file_info*) {
  serve(req, Op::kFallocate, [&](MountContext& ctx, Reply& reply) {
    uint64_t start = 0;
    uint64_t count = 0;
    if (!to_unsigned(offset, start) || !to_unsigned(length, count)) return reply.error(EINVAL);
    kill_suidgid_as_modified(ctx, ino, caller_of(req));
    reply_status(reply, ctx.fs().fallocate(ino, mode, start, count));
  });
}

void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t offset, int whence, fuse_file_info*) {
  serve(req, Op::kLseek, [&](MountContext& ctx, Reply& reply) {
    // With the writeback cache, written data may still sit in the kernel's page cache, where the
    // core cannot see it, and the kernel does not write it back before asking. ENOSYS makes the
    // kernel answer SEEK_DATA/SEEK_HOLE itself from then on (all data, a hole at the end):
    // coarser, but never wrong.
    if (ctx.writeback()) return reply.error(ENOSYS);
    uint64_t start = 0;
    if (!to_unsigned(offset, start)) return reply.error(EINVAL);
    auto position = ctx.fs().lseek(ino, start, whence);
    if (!position.ok()) return reply.error(position.error());
    reply.lseek(static_cast<off_t>(*position));
  });
}

void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t offset_in, fuse_file_info*,
                        fuse_ino_t ino_out, off_t offset_out, fuse_file_info*, size_t length,
                        int flags) {
  serve(req, Op::kCopyFileRange, [&](MountContext& ctx, Reply& reply) {
    uint64_t in = 0;
    uint64_t out = 0;
    if (!to_unsigned(offset_in, in) || !to_unsigned(offset_out, out)) {
      return reply.error(EINVAL);
    }
    kill_suidgid_as_modified(ctx, ino_out, caller_of(req));
    auto copied =
        ctx.fs().copy_file_range(ino_in, in, ino_out, out, length, static_cast<unsigned>(flags));
    if (!copied.ok()) return reply.error(copied.error());
    reply.written(*copied);
  });
}

}  // namespace

void add_file_ops(fuse_lowlevel_ops& ops) {
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write_buf = op_write_buf;
  ops.release = op_release;
  ops.fallocate = op_fallocate;
  ops.lseek = op_lseek;
  ops.copy_file_range = op_copy_file_range;
}

}  // namespace zsfs::mount
