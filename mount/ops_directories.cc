// Handlers for open directories: opendir, readdir, readdirplus, releasedir.
//
// Where the kernel supports it, opendir answers ENOSYS once and the kernel stops sending
// OPENDIR and RELEASEDIR, caching listings (cache_readdir) as if every opendir had asked for it.
// fsyncdir is not implemented: a directory lives in memory only (the kernel asks once).
//
// The core calls emit() with its directory lock held, so emit only fills the reply buffer: it
// never allocates (the name buffer and the list of accepted inodes are reserved beforehand) and
// never throws. The reply goes out after the core has returned.
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "mount/ops.h"
#include "mount/request.h"

namespace zsfs::mount {
namespace {

bool is_dot_or_dotdot(const std::string& name) {
  return name == "." || name == "..";
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  serve(req, Op::kOpendir, [&](MountContext& ctx, Reply& reply) {
    if (ctx.skip_opendir()) return reply.error(ENOSYS);
    Status opened = ctx.fs().opendir(ino);
    if (!opened.ok()) return reply.error(opened.error());
    // The kernel may cache listings, and keep them across opens: it invalidates the cache itself
    // when an entry changes through this mount, the only way entries change.
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    reply.open(*fi, 0);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  serve(req, Op::kReaddir, [&](MountContext& ctx, Reply& reply) {
    uint64_t start = 0;
    if (!to_unsigned(offset, start)) return reply.error(EINVAL);
    auto buffer = std::make_unique_for_overwrite<char[]>(size);
    size_t used = 0;
    std::string name;
    name.reserve(fs::kNameMax + 1);
    Status listed = ctx.fs().readdir(ino, start, [&](const fs::DirEntry& entry) noexcept {
      name.assign(entry.name);
      struct stat st {};
      st.st_ino = entry.ino;
      st.st_mode = entry.type;
      const size_t needed = fuse_add_direntry(req, buffer.get() + used, size - used, name.c_str(),
                                              &st, static_cast<off_t>(entry.next_offset));
      if (needed > size - used) return false;
      used += needed;
      return true;
    });
    if (!listed.ok()) return reply.error(listed.error());
    reply.buffer(buffer.get(), used);
  });
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  serve(req, Op::kReaddirplus, [&](MountContext& ctx, Reply& reply) {
    uint64_t start = 0;
    if (!to_unsigned(offset, start)) return reply.error(EINVAL);
    auto buffer = std::make_unique_for_overwrite<char[]>(size);
    size_t used = 0;
    std::string name;
    name.reserve(fs::kNameMax + 1);
    // Inodes whose lookup reference the reply hands on. An entry takes at least
    // sizeof(fuse_entry_out) + sizeof(fuse_dirent) bytes, 152, so this bounds the count.
    std::vector<fs::Ino> accepted;
    accepted.reserve(size / 152 + 1);
    Status listed = ctx.fs().readdirplus(
        ino, start, [&](const fs::DirEntry& entry, const fs::Attr& attr) noexcept {
          name.assign(entry.name);
          const fuse_entry_param param = to_entry(attr);
          const size_t needed =
              fuse_add_direntry_plus(req, buffer.get() + used, size - used, name.c_str(), &param,
                                     static_cast<off_t>(entry.next_offset));
          if (needed > size - used) return false;
          used += needed;
          if (!is_dot_or_dotdot(name)) accepted.push_back(attr.ino);
          return true;
        });
    if (listed.ok() && reply.buffer(buffer.get(), used)) return;
    // The kernel never saw these entries: give their references back.
    for (fs::Ino accepted_ino : accepted)
      ctx.fs().forget(accepted_ino, 1);
    if (!listed.ok()) reply.error(listed.error());
  });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  serve(req, Op::kReleasedir, [&](MountContext&, Reply& reply) { reply.ok(); });
}

}  // namespace

void add_directory_ops(fuse_lowlevel_ops& ops) {
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
}

}  // namespace zsfs::mount
