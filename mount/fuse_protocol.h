// The FUSE wire protocol, for the parts that libfuse 3.14 does not pass on and the request layer
// (request_layer.h) reads and writes itself.
//
// The structures and constants are the kernel's own: include/uapi/linux/fuse.h of Linux 6.1
// (protocol 7.38), which Debian 12 installs as <linux/fuse.h> (package linux-libc-dev), so this
// header defines none of them again; it names the ones zsfs relies on and checks, at compile
// time, the facts the layer depends on. What they mean is documented in that header and in
// Documentation/filesystems/fuse.rst; where the documentation is silent, the kernel's
// fs/fuse/{inode,dir,file}.c is the reference (quoted below by function).
//
// - FUSE_TMPFILE (opcode 51, protocol 7.37): open(O_TMPFILE) on a directory. fuse_tmpfile()
//   sends it through fuse_create_open(), exactly as FUSE_CREATE: a struct fuse_create_in
//   (flags, with O_TMPFILE; mode; umask; open_flags) and a name (the dentry's, "/"), answered
//   with a struct fuse_entry_out and a struct fuse_open_out. ENOSYS makes the kernel answer
//   EOPNOTSUPP from then on (fc->no_tmpfile). libfuse 3.14 knows no opcode 51 and answers
//   ENOSYS, so the request layer hands it to libfuse as the FUSE_CREATE it is shaped like; the
//   O_TMPFILE bit in its flags, which no FUSE_CREATE can carry (open(2) refuses O_CREAT with
//   O_TMPFILE), tells the create handler what it is.
// - FUSE_HANDLE_KILLPRIV_V2 (INIT flag 1 << 28, protocol 7.33): the filesystem clears setuid and
//   setgid (setgid only when the group may execute) itself, on the requests that carry a kill
//   flag, which the kernel sets when the caller lacks CAP_FSETID (chown: always, for
//   non-directories): FUSE_WRITE_KILL_SUIDGID in fuse_write_in.write_flags (fuse_send_write),
//   FATTR_KILL_SUIDGID in fuse_setattr_in.valid (truncate, chown: fuse_do_setattr) and
//   FUSE_OPEN_KILL_SUIDGID in fuse_open_in.open_flags (O_TRUNC reaching the filesystem, only
//   with FUSE_ATOMIC_O_TRUNC: fuse_send_open). In exchange the kernel keeps SB_NOSEC on the
//   superblock (process_init_reply), so that file_remove_privs() stops asking for
//   security.capability before writes once an inode has been seen without it. What the kernel
//   does not do is forget the mode it cached when a WRITE or OPEN carried a kill flag (it
//   invalidates size and times only, fuse_write_update_attr()), so it would go on exec'ing the
//   file setuid; zsfs tells it to fetch the attributes again whenever it clears a bit
//   (FUSE_NOTIFY_INVAL_INODE with offset -1: MountContext::kill_suidgid).
//
// libfuse 3.14.0 as Debian builds it (3.14.0-4: its fuse_kernel.h reverted to protocol 7.31 for
// setxattr's sake, Debian bug #1031524) answers INIT with minor 31 and passes on only the
// capabilities it has FUSE_CAP_* names for; FUSE_HANDLE_KILLPRIV_V2 is not one. The kernel does
// not gate either feature on the minor version the filesystem answers with.
#pragma once

#include <linux/fuse.h>

#include <cstddef>

static_assert(FUSE_KERNEL_VERSION == 7 && FUSE_KERNEL_MINOR_VERSION >= 37,
              "zsfs needs <linux/fuse.h> of protocol 7.37 (Linux 6.1) or later, for FUSE_TMPFILE");

// The layouts the request layer reads and patches.
static_assert(sizeof(fuse_in_header) == 40 && sizeof(fuse_out_header) == 16);
static_assert(sizeof(fuse_create_in) == 16, "FUSE_CREATE and FUSE_TMPFILE share one argument");
static_assert(offsetof(fuse_init_in, flags) == 12 && offsetof(fuse_init_in, flags2) == 16);
static_assert(offsetof(fuse_init_out, flags) == 12);
static_assert(offsetof(fuse_write_in, write_flags) == 20);
static_assert(offsetof(fuse_open_in, open_flags) == 4);
