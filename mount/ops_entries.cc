// Handlers for names and inodes: lookup, forget, attributes, and the operations that create,
// link, unlink and rename entries.
#include <sys/stat.h>

#include <ctime>

#include "mount/fuse_protocol.h"
#include "mount/ops.h"
#include "mount/request.h"

namespace zsfs::mount {
namespace {

// libfuse's do_setattr() passes fuse_setattr_in.valid on, masked to the bits it names. Since 3.14
// it names bit 11 FUSE_SET_ATTR_KILL_SUID, after the VFS's ATTR_KILL_SUID, and that is where the
// kernel puts FATTR_KILL_SUIDGID: op_setattr receives the kill flag under that name.
static_assert(FATTR_KILL_SUIDGID == FUSE_SET_ATTR_KILL_SUID);

void reply_entry(Reply& reply, const Result<fs::Attr>& attr) {
  if (!attr.ok()) return reply.error(attr.error());
  reply.entry(*attr);
}

void reply_status(Reply& reply, const Status& status) {
  reply.error(status.ok() ? 0 : status.error());
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  serve(req, Op::kLookup, [&](MountContext& ctx, Reply& reply) {
    auto attr = ctx.fs().lookup(parent, name);
    if (!attr.ok() && attr.error() == ENOENT) return reply.negative_entry();
    reply_entry(reply, attr);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  serve(req, Op::kForget, [&](MountContext& ctx, Reply& reply) {
    ctx.fs().forget(ino, nlookup);
    reply.none();
  });
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  serve(req, Op::kForgetMulti, [&](MountContext& ctx, Reply& reply) {
    for (size_t i = 0; i < count; ++i)
      ctx.fs().forget(forgets[i].ino, forgets[i].nlookup);
    reply.none();
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  serve(req, Op::kGetattr, [&](MountContext& ctx, Reply& reply) {
    auto attr = ctx.fs().getattr(ino);
    if (!attr.ok()) return reply.error(attr.error());
    reply.attr(*attr);
  });
}

fs::TimeChange time_change(int to_set, int set_bit, int now_bit, const timespec& value) {
  // The kernel sends the _NOW bit together with the plain one for utimensat(UTIME_NOW).
  if ((to_set & now_bit) != 0) return fs::TimeChange::now();
  if ((to_set & set_bit) != 0) return fs::TimeChange::at(value);
  return {};
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  serve(req, Op::kSetattr, [&](MountContext& ctx, Reply& reply) {
    fs::SetAttr change;
    if ((to_set & FUSE_SET_ATTR_MODE) != 0) change.mode = attr->st_mode & 07777;
    if ((to_set & FUSE_SET_ATTR_UID) != 0) change.uid = attr->st_uid;
    if ((to_set & FUSE_SET_ATTR_GID) != 0) change.gid = attr->st_gid;
    if ((to_set & FUSE_SET_ATTR_SIZE) != 0) {
      uint64_t size = 0;
      if (!to_unsigned(attr->st_size, size)) return reply.error(EINVAL);
      change.size = size;
    }
    change.atime = time_change(to_set, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, attr->st_atim);
    change.mtime = time_change(to_set, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, attr->st_mtim);
    // With the writeback cache the kernel keeps ctime and sends it along.
    if ((to_set & FUSE_SET_ATTR_CTIME) != 0) change.ctime = attr->st_ctim;
    // FATTR_KILL_SUIDGID (truncate and chown with FUSE_HANDLE_KILLPRIV_V2; see above).
    change.kill_suidgid = (to_set & FUSE_SET_ATTR_KILL_SUID) != 0;

    auto result = ctx.fs().setattr(ino, change, caller_of(req));
    if (!result.ok()) return reply.error(result.error());
    reply.attr(*result);
  });
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  serve(req, Op::kReadlink, [&](MountContext& ctx, Reply& reply) {
    auto target = ctx.fs().readlink(ino);
    if (!target.ok()) return reply.error(target.error());
    reply.readlink(*target);
  });
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  serve(req, Op::kMknod, [&](MountContext& ctx, Reply& reply) {
    reply_entry(reply, ctx.fs().mknod(parent, name, mode, rdev, caller_of(req)));
  });
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  serve(req, Op::kMkdir, [&](MountContext& ctx, Reply& reply) {
    // The kernel sends the permission bits only (umask applied); the type is implied.
    const uint32_t full_mode = S_IFDIR | (mode & 07777);
    reply_entry(reply, ctx.fs().mkdir(parent, name, full_mode, caller_of(req)));
  });
}

void op_symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  serve(req, Op::kSymlink, [&](MountContext& ctx, Reply& reply) {
    reply_entry(reply, ctx.fs().symlink(parent, name, target, caller_of(req)));
  });
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  serve(req, Op::kLink, [&](MountContext& ctx, Reply& reply) {
    reply_entry(reply, ctx.fs().link(ino, new_parent, new_name));
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  serve(req, Op::kUnlink, [&](MountContext& ctx, Reply& reply) {
    reply_status(reply, ctx.fs().unlink(parent, name));
  });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  serve(req, Op::kRmdir, [&](MountContext& ctx, Reply& reply) {
    reply_status(reply, ctx.fs().rmdir(parent, name));
  });
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
               const char* new_name, unsigned int flags) {
  serve(req, Op::kRename, [&](MountContext& ctx, Reply& reply) {
    reply_status(reply, ctx.fs().rename(parent, name, new_parent, new_name, flags, caller_of(req)));
  });
}

}  // namespace

void add_entry_ops(fuse_lowlevel_ops& ops) {
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.symlink = op_symlink;
  ops.link = op_link;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
}

}  // namespace zsfs::mount
