// What a FUSE request's header (uid, gid, pid of the caller) does not say about the caller, read
// from /proc/<pid>/status when a decision needs it: its supplementary groups and whether it holds
// CAP_FSETID. Together they answer the kernel's in_group_or_capable(), which decides whether a
// setgid bit survives a write, truncate or chown by a caller without CAP_FSETID, the setting of
// an access ACL, or the creation of a setgid file in a setgid directory; the core asks through
// fs::Caller::in_group_or_capable, only in those cases. CAP_FSETID alone decides whether
// fallocate and copy_file_range clear setuid and setgid (see ops_files.cc).
//
// The caller is blocked in a system call on this filesystem while its request is served, so its
// pid cannot be reused meanwhile. Where its status cannot be read (pid 0: a process in a pid
// namespace the daemon cannot see), the answer falls back to the core's default: the filesystem
// gid alone, and uid 0 as capable. The capability is read as the kernel's capable() sees it, in
// the initial user namespace.
#pragma once

#include <cstdint>
#include <string_view>

#include "fs/types.h"

namespace zsfs::mount {

// Whether caller is in group (as its filesystem gid or a supplementary group) or holds
// CAP_FSETID. Never throws.
bool in_group_or_capable(const fs::Caller& caller, uint32_t group) noexcept;
// Whether caller holds CAP_FSETID. Never throws.
bool capable_fsetid(const fs::Caller& caller) noexcept;

// The same questions answered from the text of a /proc/<pid>/status file; false when the text
// has no Groups or CapEff line.
bool status_in_group_or_capable(std::string_view status, uint32_t group);
bool status_capable_fsetid(std::string_view status);

}  // namespace zsfs::mount
