// Checks made before mounting, so that a mount that cannot work fails with a clear message and
// exit status 1 instead of half-way through: the mount point exists, is a directory, is not
// already a mount point, is empty (unless -o nonempty), is writable by a non-root user (as
// fusermount3 requires); and /dev/fuse exists.
#pragma once

#include <string>
#include <vector>

#include "mount/expected.h"

namespace zsfs::mount {

// One line of /proc/self/mountinfo, with the octal escapes (\040 for a space, ...) undone.
struct MountEntry {
  std::string mount_point;
  std::string fs_type;  // "fuse.zsfs", "tmpfs", ...
  std::string source;
  std::string device;  // the superblock's "major:minor" (the third field)
};

// The mounts listed in a mountinfo file; empty if it cannot be read.
std::vector<MountEntry> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

// Undoes mountinfo's octal escapes.
std::string unescape_mountinfo_field(std::string_view field);

// Checks the mount point and returns its absolute path, the one to mount on. "/dev/fd/N" (a
// FUSE device descriptor passed by a privileged parent, as mount.fuse3's drop_privileges does)
// is returned as it is.
Expected<std::string> check_mount_point(const std::string& path, bool allow_nonempty,
                                        const std::string& mountinfo_path = "/proc/self/mountinfo");

// Checks that the FUSE device exists and, for a user other than root, that they can open it:
// libfuse and fusermount3 both open it with the user's own rights.
Check check_fuse_device(const std::string& device_path = "/dev/fuse");

}  // namespace zsfs::mount
