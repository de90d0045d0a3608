// Handlers for extended attributes. The core serves both stored attributes and the virtual,
// read-only user.zsfs.* statistics; the kernel (default_permissions) checks access to the inode,
// the core decides who may run the action attributes. This file only forwards and applies the
// size protocol of getxattr(2)/listxattr(2): size 0 asks for the size, a value larger than
// size is ERANGE.
#include <string>
#include <string_view>

#include "mount/ops.h"
#include "mount/request.h"

namespace zsfs::mount {
namespace {

void reply_sized(Reply& reply, size_t size, const std::string& value) {
  if (size == 0) return reply.xattr_size(value.size());
  if (value.size() > size) return reply.error(ERANGE);
  reply.buffer(value.data(), value.size());
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                 int flags) {
  serve(req, Op::kSetxattr, [&](MountContext& ctx, Reply& reply) {
    Status set = ctx.fs().setxattr(ino, name, std::string_view(value, size), flags, caller_of(req));
    reply.error(set.ok() ? 0 : set.error());
  });
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  serve(req, Op::kGetxattr, [&](MountContext& ctx, Reply& reply) {
    if (size == 0) {
      // A size query must not run an action attribute; the core answers it without doing so.
      auto value_size = ctx.fs().getxattr_size(ino, name, caller_of(req));
      if (!value_size.ok()) return reply.error(value_size.error());
      return reply.xattr_size(*value_size);
    }
    auto value = ctx.fs().getxattr(ino, name, caller_of(req));
    if (!value.ok()) return reply.error(value.error());
    reply_sized(reply, size, *value);
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  serve(req, Op::kListxattr, [&](MountContext& ctx, Reply& reply) {
    auto names = ctx.fs().listxattr(ino, caller_of(req));
    if (!names.ok()) return reply.error(names.error());
    reply_sized(reply, size, *names);
  });
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  serve(req, Op::kRemovexattr, [&](MountContext& ctx, Reply& reply) {
    Status removed = ctx.fs().removexattr(ino, name, caller_of(req));
    reply.error(removed.ok() ? 0 : removed.error());
  });
}

}  // namespace

void add_xattr_ops(fuse_lowlevel_ops& ops) {
  ops.setxattr = op_setxattr;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.removexattr = op_removexattr;
}

}  // namespace zsfs::mount
