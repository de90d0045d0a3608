// zsfsctl: reads a zsfs mount's statistics and runs its maintenance actions. See zsfsctl(8).
//
// Everything goes through the virtual user.zsfs.* extended attributes that the daemon serves;
// zsfsctl does not link the filesystem core. Each attribute is read with one getxattr(2) call and
// a buffer large enough for any value the kernel passes (XATTR_SIZE_MAX), retried larger only on
// ERANGE; never with a size query first, which for compact and check would run the action twice.
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ctl/report.h"
#include "mount/expected.h"
#include "mount/json_reader.h"

namespace zsfs::ctl {

using mount::Check;
using mount::Done;
using mount::Expected;
using mount::parse_json;
using mount::Unexpected;
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitFailure = 2;
constexpr int kExitInconsistent = 3;

// The kernel passes at most XATTR_SIZE_MAX (64 KiB) of a value; start there.
constexpr size_t kFirstBufferBytes = 64 * 1024;
constexpr size_t kLastBufferBytes = 16 * 1024 * 1024;

std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

// Checks that path is on a FUSE filesystem (zsfs is one).
Check check_on_fuse(const std::string& path) {
  struct statfs st {};
  if (statfs(path.c_str(), &st) != 0) {
    return Unexpected{"cannot access " + quoted(path) + ": " + std::strerror(errno)};
  }
  if (static_cast<unsigned long>(st.f_type) != FUSE_SUPER_MAGIC) {
    char type[32];
    std::snprintf(type, sizeof type, "0x%lx", static_cast<unsigned long>(st.f_type));
    return Unexpected{quoted(path) + " is not on a zsfs mount (filesystem type " + type + ")"};
  }
  return Done{};
}

// Reads one attribute with the protocol above. On error, errno_out holds the errno.
Expected<std::string> read_attribute(const std::string& path, const char* name, int& errno_out) {
  errno_out = 0;
  std::string value;
  for (size_t size = kFirstBufferBytes; size <= kLastBufferBytes; size *= 4) {
    value.resize(size);
    const ssize_t n = getxattr(path.c_str(), name, value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return value;
    }
    if (errno != ERANGE) break;
  }
  errno_out = errno;
  return Unexpected{std::strerror(errno)};
}

// Reads a zsfs attribute and explains failures in zsfs terms.
Expected<std::string> read_zsfs_attribute(const std::string& path, const char* name,
                                          bool mount_point_only) {
  Check on_fuse = check_on_fuse(path);
  if (!on_fuse.ok()) return Unexpected{on_fuse.message()};
  int err = 0;
  auto value = read_attribute(path, name, err);
  if (value.ok()) return value;
  switch (err) {
    case ENODATA:
    case ENOTSUP: {
      if (mount_point_only) {
        // Inside a zsfs mount, every inode has user.zsfs.file; only the root has the rest.
        const bool inside = getxattr(path.c_str(), "user.zsfs.file", nullptr, 0) >= 0;
        if (inside) {
          return Unexpected{quoted(path) +
                            " is inside a zsfs mount but is not its mount point; give the "
                            "directory zsfs is mounted on"};
        }
      }
      return Unexpected{quoted(path) + " is not a zsfs mount (it has no " + name + " attribute)"};
    }
    case EPERM:
    case EACCES:
      return Unexpected{"permission denied reading " + std::string(name) + " on " + quoted(path) +
                        (mount_point_only ? " (compact and check are for root and the user who "
                                            "mounted the filesystem)"
                                          : "")};
    default:
      return Unexpected{"cannot read " + std::string(name) + " on " + quoted(path) + ": " +
                        value.message()};
  }
}

Expected<Json> read_json_attribute(const std::string& path, const char* name, bool mount_point_only,
                                   std::string* raw = nullptr) {
  auto text = read_zsfs_attribute(path, name, mount_point_only);
  if (!text.ok()) return Unexpected{text.message()};
  auto json = parse_json(*text);
  if (!json.ok()) {
    return Unexpected{"the daemon answered " + std::string(name) + " with " + json.message()};
  }
  if (raw != nullptr) *raw = *text;
  return json;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "zsfsctl: %s\n", message.c_str());
  return kExitFailure;
}

int cmd_stats(const std::string& mount_point, bool json) {
  std::string raw;
  auto stats = read_json_attribute(mount_point, "user.zsfs.stats", true, &raw);
  if (!stats.ok()) return fail(stats.message());
  if (json) {
    std::printf("%s\n", raw.c_str());
  } else {
    std::fputs(render_stats(*stats, mount_point).c_str(), stdout);
  }
  return kExitOk;
}

int cmd_du(const std::vector<std::string>& paths, bool json) {
  std::vector<DuRow> rows;
  int status = kExitOk;
  for (const std::string& path : paths) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      status = fail("cannot access " + quoted(path) + ": " + std::strerror(errno));
      continue;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      // The kernel keeps user.* attributes to files and directories; others hold no data.
      continue;
    }
    auto file = read_json_attribute(path, "user.zsfs.file", false);
    if (!file.ok()) {
      status = fail(file.message());
      continue;
    }
    rows.push_back(DuRow{path, std::move(file).value()});
  }
  if (json) {
    std::printf("%s\n", render_du_json(rows).c_str());
  } else if (!rows.empty()) {
    std::fputs(render_du(rows).c_str(), stdout);
  }
  return status;
}

int cmd_classes(const std::string& mount_point) {
  auto text = read_zsfs_attribute(mount_point, "user.zsfs.classes", true);
  if (!text.ok()) return fail(text.message());
  std::fputs(text->c_str(), stdout);
  if (!text->empty() && text->back() != '\n') std::fputc('\n', stdout);
  return kExitOk;
}

int cmd_compact(const std::string& mount_point, bool json) {
  std::string raw;
  auto result = read_json_attribute(mount_point, "user.zsfs.compact", true, &raw);
  if (!result.ok()) return fail(result.message());
  if (json) {
    std::printf("%s\n", raw.c_str());
  } else {
    std::fputs(render_compact(*result).c_str(), stdout);
  }
  return kExitOk;
}

int cmd_check(const std::string& mount_point, bool json) {
  std::string raw;
  auto report = read_json_attribute(mount_point, "user.zsfs.check", true, &raw);
  if (!report.ok()) return fail(report.message());
  bool consistent = false;
  const std::string text = render_check(*report, consistent);
  if (json) {
    std::printf("%s\n", raw.c_str());
  } else {
    std::fputs(text.c_str(), consistent ? stdout : stderr);
  }
  return consistent ? kExitOk : kExitInconsistent;
}

int run(int argc, char** argv) {
  CLI::App app{"zsfsctl: statistics and maintenance of zsfs mounts (see zsfsctl(8))", "zsfsctl"};
  bool version = false;
  app.add_flag("-V,--version", version, "show the version");
  app.require_subcommand(0, 1);

  std::string mount_point;
  std::vector<std::string> paths;
  bool json = false;

  CLI::App* stats = app.add_subcommand("stats", "memory, compression and dedup figures");
  stats->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  stats->add_flag("--json", json, "print the daemon's JSON");

  CLI::App* du = app.add_subcommand("du", "size and compressed size of files and directories");
  du->add_option("PATH", paths, "files or directories on zsfs")->required();
  du->add_flag("--json", json, "print JSON");

  CLI::App* classes = app.add_subcommand("classes", "the pool's size classes");
  classes->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();

  CLI::App* compact = app.add_subcommand("compact", "compact the pool now");
  compact->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  compact->add_flag("--json", json, "print the daemon's JSON");

  CLI::App* check = app.add_subcommand("check", "run the consistency check");
  check->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  check->add_flag("--json", json, "print the daemon's JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "zsfsctl: %s\nTry 'zsfsctl --help' for more information.\n", e.what());
    return kExitUsage;
  }
  if (version) {
    std::printf("zsfsctl %s\n", ZSFS_VERSION);
    return kExitOk;
  }
  if (stats->parsed()) return cmd_stats(mount_point, json);
  if (du->parsed()) return cmd_du(paths, json);
  if (classes->parsed()) return cmd_classes(mount_point);
  if (compact->parsed()) return cmd_compact(mount_point, json);
  if (check->parsed()) return cmd_check(mount_point, json);
  std::fprintf(stderr,
               "zsfsctl: missing command: stats, du, classes, compact or check\nTry 'zsfsctl "
               "--help' for more information.\n");
  return kExitUsage;
}

}  // namespace
}  // namespace zsfs::ctl

int main(int argc, char** argv) {
  try {
    return zsfs::ctl::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zsfsctl: %s\n", e.what());
    return 2;
  }
}
