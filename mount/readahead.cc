#include "mount/readahead.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mount/mount_point.h"

namespace zsfs::mount {

Check set_mount_readahead(const std::string& mount_point, uint64_t bytes,
                          const std::string& mountinfo_path, const std::string& sysfs_bdi) {
  std::string device;
  for (const MountEntry& mount : read_mountinfo(mountinfo_path)) {
    if (mount.mount_point == mount_point) device = mount.device;  // the last one is on top
  }
  if (device.empty()) {
    return Unexpected{"no mount on '" + mount_point + "' in " + mountinfo_path};
  }
  const std::string path = sysfs_bdi + "/" + device + "/read_ahead_kb";
  // O_TRUNC as the shell's ">" does: sysfs ignores it, and a plain file (in tests) needs it.
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Unexpected{"cannot open " + path + ": " + std::strerror(errno)};
  const std::string value = std::to_string(bytes >> 10) + "\n";
  const ssize_t written = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (written != static_cast<ssize_t>(value.size())) {
    return Unexpected{"cannot write " + path + ": " +
                      (written < 0 ? std::strerror(err) : "short write")};
  }
  return Done{};
}

}  // namespace zsfs::mount
