#include "mount/mount_point.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <climits>

namespace zsfs::mount {
namespace {

std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

std::string errno_text(int err) {
  return std::strerror(err);
}

bool is_fd_path(const std::string& path) {
  constexpr std::string_view kPrefix = "/dev/fd/";
  if (!path.starts_with(kPrefix) || path.size() == kPrefix.size()) return false;
  for (size_t i = kPrefix.size(); i < path.size(); ++i) {
    if (path[i] < '0' || path[i] > '9') return false;
  }
  return true;
}

// Whether the directory has an entry other than "." and "..".
Expected<bool> has_entries(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (!dir) {
    return Unexpected{"cannot read mount point " + quoted(path) + ": " + errno_text(errno)};
  }
  errno = 0;
  while (const dirent* entry = readdir(dir.get())) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      return true;
    }
  }
  if (errno != 0) {
    return Unexpected{"cannot read mount point " + quoted(path) + ": " + errno_text(errno)};
  }
  return false;
}

}  // namespace

std::string unescape_mountinfo_field(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::vector<MountEntry> read_mountinfo(const std::string& path) {
  std::vector<MountEntry> mounts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": the mount point is the
    // fifth field; the type and source follow the " - " separator after the optional fields.
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    if (!(fields >> id >> parent >> dev >> root >> mount_point)) continue;
    std::string word;
    while (fields >> word && word != "-") {
    }
    std::string type, source;
    if (word != "-" || !(fields >> type)) continue;
    fields >> source;
    mounts.push_back(MountEntry{unescape_mountinfo_field(mount_point),
                                unescape_mountinfo_field(type), unescape_mountinfo_field(source),
                                dev});
  }
  return mounts;
}

Expected<std::string> check_mount_point(const std::string& path, bool allow_nonempty,
                                        const std::string& mountinfo_path) {
  if (path.empty()) return Unexpected{"missing mount point"};
  if (is_fd_path(path)) return path;

  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Unexpected{"mount point " + quoted(path) + " does not exist"};
    if (err == ENOTCONN) {
      return Unexpected{"mount point " + quoted(path) +
                        ": a FUSE filesystem died there (transport endpoint is not connected); "
                        "release it with 'fusermount3 -u " +
                        path + "'"};
    }
    return Unexpected{"mount point " + quoted(path) + ": " + errno_text(err)};
  }
  if (!S_ISDIR(st.st_mode)) {
    return Unexpected{"mount point " + quoted(path) + " is not a directory"};
  }

  std::unique_ptr<char, decltype(&std::free)> resolved(realpath(path.c_str(), nullptr), std::free);
  if (!resolved) return Unexpected{"mount point " + quoted(path) + ": " + errno_text(errno)};
  const std::string absolute = resolved.get();

  for (const MountEntry& mount : read_mountinfo(mountinfo_path)) {
    if (mount.mount_point == absolute) {
      return Unexpected{"mount point " + quoted(path) + " is already mounted (" + mount.fs_type +
                        " from " + mount.source + "); unmount it first"};
    }
  }

  if (!allow_nonempty) {
    auto entries = has_entries(absolute);
    if (!entries.ok()) return Unexpected{entries.message()};
    if (*entries) {
      return Unexpected{"mount point " + quoted(path) +
                        " is not empty; the mount would hide its files (add -o nonempty to mount "
                        "there anyway)"};
    }
  }

  // fusermount3 refuses a mount point the user cannot write to; say so before trying.
  if (geteuid() != 0 && access(absolute.c_str(), W_OK) != 0) {
    return Unexpected{"mount point " + quoted(path) + ": no write permission (" +
                      errno_text(errno) +
                      "); a user may mount only on a directory they can "
                      "write to"};
  }
  return absolute;
}

Check check_fuse_device(const std::string& device_path) {
  struct stat st {};
  if (stat(device_path.c_str(), &st) != 0) {
    return Unexpected{"cannot use " + device_path + ": " + errno_text(errno) +
                      " (is the fuse kernel module loaded? try 'modprobe fuse')"};
  }
  if (!S_ISCHR(st.st_mode)) {
    return Unexpected{device_path + " is not a character device; FUSE is not usable here"};
  }
  if (geteuid() != 0 && access(device_path.c_str(), R_OK | W_OK) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Unexpected{"cannot open " + device_path + " (mode " + mode +
                      "): users can mount FUSE filesystems only when it is readable and "
                      "writable by them (usually mode 0666)"};
  }
  return Done{};
}

}  // namespace zsfs::mount
