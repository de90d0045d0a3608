#include "mount/generic_options.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace zsfs::mount {
namespace {

// What a generic flag does: to the mount(2) flags that decide access times and the per-mount
// attributes (as libmount turns the options into flags, each setting or clearing one), to
// libfuse's options, or nothing.
enum class Effect : uint8_t { kSetFlag, kClearFlag, kToFuse, kNone };

struct GenericFlag {
  std::string_view key;
  Effect effect;
  unsigned long flag;  // for kSetFlag and kClearFlag
};

constexpr std::array kFlags = {
    // Applied by the kernel, through libfuse.
    GenericFlag{"ro", Effect::kToFuse, 0},
    GenericFlag{"rw", Effect::kToFuse, 0},
    GenericFlag{"suid", Effect::kToFuse, 0},
    GenericFlag{"nosuid", Effect::kToFuse, 0},
    GenericFlag{"dev", Effect::kToFuse, 0},
    GenericFlag{"nodev", Effect::kToFuse, 0},
    GenericFlag{"exec", Effect::kToFuse, 0},
    GenericFlag{"noexec", Effect::kToFuse, 0},
    GenericFlag{"sync", Effect::kToFuse, 0},
    GenericFlag{"async", Effect::kToFuse, 0},
    GenericFlag{"dirsync", Effect::kToFuse, 0},
    // Access times and symbolic links: the core's policy and the mount's attributes.
    GenericFlag{"noatime", Effect::kSetFlag, MS_NOATIME},
    GenericFlag{"atime", Effect::kClearFlag, MS_NOATIME},
    GenericFlag{"strictatime", Effect::kSetFlag, MS_STRICTATIME},
    GenericFlag{"nostrictatime", Effect::kClearFlag, MS_STRICTATIME},
    // relatime is the default whenever neither of the above says otherwise.
    GenericFlag{"relatime", Effect::kSetFlag, MS_RELATIME},
    GenericFlag{"norelatime", Effect::kClearFlag, MS_RELATIME},
    GenericFlag{"nodiratime", Effect::kSetFlag, MS_NODIRATIME},
    GenericFlag{"diratime", Effect::kClearFlag, MS_NODIRATIME},
    GenericFlag{"nosymfollow", Effect::kSetFlag, MS_NOSYMFOLLOW},
    GenericFlag{"symfollow", Effect::kClearFlag, MS_NOSYMFOLLOW},
    // Nothing to do for a FUSE filesystem in memory (see generic_options.h).
    GenericFlag{"lazytime", Effect::kNone, 0},
    GenericFlag{"nolazytime", Effect::kNone, 0},
    GenericFlag{"iversion", Effect::kNone, 0},
    GenericFlag{"noiversion", Effect::kNone, 0},
    GenericFlag{"silent", Effect::kNone, 0},
    GenericFlag{"loud", Effect::kNone, 0},
    GenericFlag{"mand", Effect::kNone, 0},
    GenericFlag{"nomand", Effect::kNone, 0},
    // mount(8)'s and fstab(5)'s own.
    GenericFlag{"defaults", Effect::kNone, 0},
    GenericFlag{"auto", Effect::kNone, 0},
    GenericFlag{"noauto", Effect::kNone, 0},
    GenericFlag{"user", Effect::kNone, 0},
    GenericFlag{"users", Effect::kNone, 0},
    GenericFlag{"nouser", Effect::kNone, 0},
    GenericFlag{"owner", Effect::kNone, 0},
    GenericFlag{"group", Effect::kNone, 0},
    GenericFlag{"_netdev", Effect::kNone, 0},
    GenericFlag{"nofail", Effect::kNone, 0},
};

// SELinux labels, which take a value.
constexpr std::array<std::string_view, 4> kSelinuxLabels = {"context", "fscontext", "defcontext",
                                                            "rootcontext"};

// The core's access time policy from the mount(2) flags, as the kernel's path_mount() derives
// the mount's: strictatime over noatime over the default, relatime.
void derive_atime_policy(Options& options) {
  const unsigned long flags = options.mount_flags;
  if (flags & MS_STRICTATIME) {
    options.config.atime = fs::AtimePolicy::kStrictatime;
  } else if (flags & MS_NOATIME) {
    options.config.atime = fs::AtimePolicy::kNoatime;
  } else {
    options.config.atime = fs::AtimePolicy::kRelatime;
  }
  options.config.dir_atime = (flags & MS_NODIRATIME) == 0;
}

}  // namespace

std::vector<std::string> generic_option_names() {
  std::vector<std::string> names;
  for (const GenericFlag& flag : kFlags)
    names.emplace_back(flag.key);
  for (std::string_view label : kSelinuxLabels)
    names.push_back(std::string(label) + "=");
  return names;
}

std::optional<Check> apply_generic_option(std::string_view option, const SystemInfo& system,
                                          Options& options) {
  const size_t eq = option.find('=');
  const std::string_view key = option.substr(0, eq);
  const bool has_value = eq != std::string_view::npos;
  const std::string_view value = has_value ? option.substr(eq + 1) : std::string_view();

  if (key.starts_with("x-")) return Check(Done{});  // userspace fstab options (x-systemd.*, ...)
  for (std::string_view label : kSelinuxLabels) {
    if (key != label) continue;
    if (!has_value || value.empty()) {
      return Check(Unexpected{"option '" + std::string(key) + "' needs a value"});
    }
    if (!system.selinux) {
      return Check(Unexpected{
          "option '" + std::string(option) +
          "': SELinux is not enabled on this system, and without it the kernel refuses SELinux "
          "labels (mount(8) drops them then, which is why other filesystems seem to take them); "
          "leave the option out"});
    }
    options.fuse_options.emplace_back(option);
    return Check(Done{});
  }
  for (const GenericFlag& flag : kFlags) {
    if (flag.key != key) continue;
    if (has_value) {
      return Check(Unexpected{"option '" + std::string(option) + "': '" + std::string(key) +
                              "' takes no value"});
    }
    switch (flag.effect) {
      case Effect::kSetFlag:
        options.mount_flags |= flag.flag;
        derive_atime_policy(options);
        break;
      case Effect::kClearFlag:
        options.mount_flags &= ~flag.flag;
        derive_atime_policy(options);
        break;
      case Effect::kToFuse:
        options.fuse_options.emplace_back(option);
        break;
      case Effect::kNone:
        break;
    }
    return Check(Done{});
  }
  return std::nullopt;
}

MountAttributes mount_attributes(const Options& options) {
  MountAttributes attributes;
  if (options.mount_flags & MS_NODIRATIME) attributes.set |= MOUNT_ATTR_NODIRATIME;
  if (options.mount_flags & MS_STRICTATIME) attributes.set |= MOUNT_ATTR_STRICTATIME;
  if (options.mount_flags & MS_NOSYMFOLLOW) {
    attributes.set |= MOUNT_ATTR_NOSYMFOLLOW;
    attributes.required |= MOUNT_ATTR_NOSYMFOLLOW;
  }
  return attributes;
}

Check apply_mount_attributes(const std::string& mount_point, const MountAttributes& attributes) {
  if (attributes.set == 0) return Done{};
  mount_attr attr{};
  attr.attr_set = attributes.set;
  // The access time mode is one field: setting one of its values clears the others.
  if (attributes.set & MOUNT_ATTR__ATIME) attr.attr_clr = MOUNT_ATTR__ATIME;
  if (mount_setattr(AT_FDCWD, mount_point.c_str(), 0, &attr, sizeof attr) == 0) return Done{};
  const int err = errno;
  if ((attributes.required & attributes.set) == 0) {
    // Only root may set them (EPERM otherwise, as generic_options.h says); the core keeps the
    // access times they stand for all the same.
    if (err != EPERM) {
      log(LogLevel::kWarning,
          "cannot set nodiratime or strictatime on the mount (mount_setattr: %s); access times "
          "follow them all the same, but /proc/self/mountinfo does not show them",
          std::strerror(err));
    }
    return Done{};
  }
  std::string message = "nosymfollow: cannot set it on the mount (mount_setattr: ";
  message += std::strerror(err);
  message += ")";
  if (err == EPERM) {
    message +=
        "; only root may set it on a FUSE mount, and zsfs cannot refuse to follow symbolic links "
        "by itself (the kernel follows them without telling the filesystem)";
  }
  return Unexpected{message};
}

}  // namespace zsfs::mount
