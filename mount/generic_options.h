// The mount options that are not zsfs's own: those mount(8) documents for every filesystem, which
// fstab(5) lines, mount(8) itself and test harnesses pass along, with the meaning tmpfs gives
// them. zsfs(8) lists each with what it does here; options.cc has zsfs's own and FUSE's.
//
// - Kernel mount flags libfuse 3.14 knows (ro, rw, suid, nosuid, dev, nodev, exec, noexec, sync,
//   async, dirsync) go to libfuse, which passes them to mount(2).
// - Access times are kept by the core (FUSE leaves them to the filesystem): noatime, atime,
//   relatime, strictatime, norelatime, nostrictatime, nodiratime and diratime set its policy as
//   the kernel combines the flags for tmpfs. noatime also goes to mount(2).
// - Per-mount flags libfuse cannot pass (nodiratime, nosymfollow, strictatime) are set on the
//   mount after mounting, with mount_setattr(2) (apply_mount_attributes). Only root may: for
//   others the core's atime policy gives the same behaviour without the flag in /proc/mounts, but
//   nosymfollow cannot be had without it (symbolic links are followed by the kernel, which never
//   tells the filesystem whether it follows or reads one), so it is refused.
// - Flags without effect on a FUSE filesystem that keeps everything in memory are accepted and
//   do nothing: lazytime, nolazytime (timestamps are never written anywhere), iversion,
//   noiversion (the NFS change counter; zsfs cannot be exported), silent, loud (kernel messages
//   about a failed mount), mand, nomand (mandatory locks are gone from Linux since 5.15).
// - mount(8)'s own options (defaults, auto, noauto, user, users, nouser, owner, group, _netdev,
//   nofail, x-*) are accepted and ignored, as by every filesystem.
// - SELinux labels (context=, fscontext=, defcontext=, rootcontext=) go to the kernel when SELinux
//   is enabled; without it the kernel refuses them, and zsfs says so before mounting (mount(8)
//   drops them itself then, which is why tmpfs seems to take them).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mount/expected.h"
#include "mount/options.h"

namespace zsfs::mount {

// The generic options' names, as option_names() gives them ("context=" for one that takes a
// value); x-* stands for itself.
std::vector<std::string> generic_option_names();

// Applies option if it is a generic one; nothing if it is not (the caller reports it unknown).
std::optional<Check> apply_generic_option(std::string_view option, const SystemInfo& system,
                                          Options& options);

// The per-mount attributes the options ask for (MOUNT_ATTR_* bits), and those of them without
// which the mount would not do what was asked.
struct MountAttributes {
  uint64_t set = 0;
  uint64_t required = 0;
};
MountAttributes mount_attributes(const Options& options);

// Sets attributes.set on the mount at mount_point. Fails only when a required one cannot be set,
// with a message that says why. The daemon calls it before it serves the first request: every
// access to the mount waits for FUSE_INIT until then, so none can see the mount without them
// (only /proc/self/mountinfo can, for that moment).
Check apply_mount_attributes(const std::string& mount_point, const MountAttributes& attributes);

}  // namespace zsfs::mount
