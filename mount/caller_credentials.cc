#include "mount/caller_credentials.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

namespace zsfs::mount {
namespace {

// The value of the line "key:\t..." of a status file, or an empty view.
std::string_view field(std::string_view status, std::string_view key) {
  for (size_t at = 0; at < status.size();) {
    const size_t end = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, end - at);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      return line.substr(key.size() + 1);
    }
    at = end + 1;
  }
  return {};
}

bool read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return n == 0;
}

// The caller's /proc/<pid>/status; false where it cannot be read.
bool read_status(const fs::Caller& caller, std::string& status) noexcept {
  if (caller.pid <= 0) return false;
  try {
    return read_file("/proc/" + std::to_string(caller.pid) + "/status", status);
  } catch (...) {
    return false;  // out of memory for a few hundred bytes: as for an unreadable status
  }
}

}  // namespace

bool status_in_group_or_capable(std::string_view status, uint32_t group) {
  std::string_view groups = field(status, "Groups");
  while (!groups.empty()) {
    const size_t start = groups.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    groups.remove_prefix(start);
    uint32_t gid = 0;
    const auto [end, error] = std::from_chars(groups.data(), groups.data() + groups.size(), gid);
    if (error != std::errc()) break;
    if (gid == group) return true;
    groups.remove_prefix(static_cast<size_t>(end - groups.data()));
  }
  return status_capable_fsetid(status);
}

bool status_capable_fsetid(std::string_view status) {
  std::string_view caps = field(status, "CapEff");
  caps.remove_prefix(std::min(caps.find_first_not_of(" \t"), caps.size()));
  uint64_t effective = 0;
  const auto [end, error] = std::from_chars(caps.data(), caps.data() + caps.size(), effective, 16);
  (void)end;
  return error == std::errc() && (effective >> CAP_FSETID & 1) != 0;
}

bool in_group_or_capable(const fs::Caller& caller, uint32_t group) noexcept {
  if (caller.gid == group) return true;
  std::string status;
  if (read_status(caller, status)) return status_in_group_or_capable(status, group);
  return caller.uid == 0;
}

bool capable_fsetid(const fs::Caller& caller) noexcept {
  std::string status;
  if (read_status(caller, status)) return status_capable_fsetid(status);
  return caller.uid == 0;
}

}  // namespace zsfs::mount
