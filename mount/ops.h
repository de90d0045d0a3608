// The FUSE low-level operation table, filled family by family: each ops_*.cc file registers the
// handlers it defines. Handlers translate a request into one fs::Filesystem call and reply (see
// request.h for the rules every handler follows).
//
// Not implemented, on purpose:
// - access: zsfs always mounts with default_permissions, so the kernel checks permissions itself
//   and never sends FUSE_ACCESS.
// - getlk/setlk/flock: without them the kernel keeps POSIX and BSD locks locally, which is
//   exactly right for a filesystem that only this machine sees.
// - ioctl, poll, bmap: nothing a tmpfs user reaches.
#pragma once

#include "mount/fuse_api.h"

namespace zsfs::mount {

// The complete table.
fuse_lowlevel_ops lowlevel_ops();

void add_session_ops(fuse_lowlevel_ops& ops);    // init, destroy, statfs
void add_entry_ops(fuse_lowlevel_ops& ops);      // names: lookup, mkdir, rename, setattr, ...
void add_file_ops(fuse_lowlevel_ops& ops);       // open, read, write, fallocate, ...
void add_directory_ops(fuse_lowlevel_ops& ops);  // opendir, readdir, readdirplus, ...
void add_xattr_ops(fuse_lowlevel_ops& ops);      // setxattr, getxattr, listxattr, removexattr

}  // namespace zsfs::mount
