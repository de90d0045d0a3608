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

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/json.h"
#include "ctl/disk_report.h"
#include "ctl/prometheus.h"
#include "ctl/report.h"
#include "ctl/top_screen.h"
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

enum class StatsFormat { kTable, kJson, kPrometheus };

// Each mount point's statistics: tables separated by a blank line, one JSON document per line, or
// one Prometheus exposition covering them all. A mount that cannot be read is reported and the
// others are still printed.
int cmd_stats(const std::vector<std::string>& mount_points, StatsFormat format) {
  int status = kExitOk;
  std::vector<MountStats> mounts;
  bool first = true;
  for (const std::string& mount_point : mount_points) {
    std::string raw;
    auto stats = read_json_attribute(mount_point, "user.zsfs.stats", true, &raw);
    if (!stats.ok()) {
      status = fail(stats.message());
      continue;
    }
    switch (format) {
      case StatsFormat::kJson:
        std::printf("%s\n", raw.c_str());
        break;
      case StatsFormat::kTable:
        if (!first) std::fputc('\n', stdout);
        std::fputs(render_stats(*stats, mount_point).c_str(), stdout);
        break;
      case StatsFormat::kPrometheus:
        // A mount point given twice would repeat its samples, which the format forbids.
        if (std::none_of(mounts.begin(), mounts.end(),
                         [&](const MountStats& m) { return m.mount_point == mount_point; })) {
          mounts.push_back(MountStats{mount_point, std::move(stats).value()});
        }
        break;
    }
    first = false;
  }
  if (format == StatsFormat::kPrometheus) std::fputs(render_prometheus(mounts).c_str(), stdout);
  return status;
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

// Sets a zsfs action attribute on the mount point, explaining failures in zsfs terms.
Check set_zsfs_attribute(const std::string& mount_point, const char* name, const std::string& value,
                         const char* off_message) {
  Check on_fuse = check_on_fuse(mount_point);
  if (!on_fuse.ok()) return on_fuse;
  if (setxattr(mount_point.c_str(), name, value.data(), value.size(), 0) == 0) return Done{};
  switch (errno) {
    case EPERM:
    case EACCES:
      return Unexpected{"permission denied setting " + std::string(name) + " on " +
                        quoted(mount_point) +
                        " (for root and the user who mounted the filesystem, on its mount point)"};
    case EOPNOTSUPP:
      return Unexpected{quoted(mount_point) + ": " + off_message};
    default:
      return Unexpected{"cannot set " + std::string(name) + " on " + quoted(mount_point) + ": " +
                        std::strerror(errno)};
  }
}

// The value of a pass request attribute (user.zsfs.recompress, user.zsfs.writeback).
std::string pass_request(const std::optional<uint64_t>& idle_seconds, bool huge) {
  std::string request;
  if (idle_seconds) request = "idle=" + std::to_string(*idle_seconds);
  if (huge) request += std::string(request.empty() ? "" : ",") + "huge";
  return request;
}

// The object at path in a statistics document, or null.
const Json* stats_member(const Json& stats, std::initializer_list<const char*> path) {
  const Json* at = &stats;
  for (const char* key : path) {
    if (at == nullptr) return nullptr;
    at = mount::json_member(*at, key);
  }
  return at;
}

// Reads the statistics until the section at path has served its requests: requests_done at least
// at_least, or, without it, at least its requests (the requests queued so far, ours among them:
// they are served in order). Returns the last statistics read.
Expected<Json> wait_for_requests(const std::string& mount_point,
                                 std::initializer_list<const char*> path,
                                 std::optional<uint64_t> at_least) {
  for (;;) {
    auto stats = read_json_attribute(mount_point, "user.zsfs.stats", true);
    if (!stats.ok()) return stats;
    const Json* section = stats_member(*stats, path);
    if (section == nullptr) {
      return Unexpected{"the daemon's statistics have no " + std::string(*path.begin()) +
                        " section"};
    }
    const uint64_t done = mount::json_u64(*section, "requests_done").value_or(0);
    if (done >= at_least.value_or(mount::json_u64(*section, "requests").value_or(0))) {
      return stats;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int cmd_recompress(const std::string& mount_point, const std::optional<uint64_t>& idle_seconds,
                   bool huge, bool wait, bool json) {
  // Reading the statistics first lets the background compress what was just written: the
  // recompressor leaves blocks that still wait for it alone.
  auto before = read_json_attribute(mount_point, "user.zsfs.stats", true);
  if (!before.ok()) return fail(before.message());
  Check queued =
      set_zsfs_attribute(mount_point, "user.zsfs.recompress", pass_request(idle_seconds, huge),
                         "recompression is off on this mount (recompress=off)");
  if (!queued.ok()) return fail(queued.message());
  if (!wait) {
    if (!json) std::printf("recompression queued on %s\n", mount_point.c_str());
    return kExitOk;
  }
  auto stats = wait_for_requests(mount_point, {"recompressor"}, std::nullopt);
  if (!stats.ok()) return fail(stats.message());
  if (json) {
    std::printf("%s\n", to_json_text(*stats).c_str());
  } else {
    std::fputs(render_recompress(*before, *stats).c_str(), stdout);
  }
  return kExitOk;
}

int cmd_save(const std::string& mount_point, bool json) {
  auto before = read_json_attribute(mount_point, "user.zsfs.stats", true);
  if (!before.ok()) return fail(before.message());
  const char* no_image = "this mount has no image (mount it with -o image=PATH)";
  const Json* image = mount::json_member(*before, "image");
  if (image == nullptr) return fail(quoted(mount_point) + ": " + no_image);
  // Our request takes the next number; the save that serves it ends with requests_done at
  // least that.
  const uint64_t ours = mount::json_u64(*image, "requests").value_or(0) + 1;
  Check queued = set_zsfs_attribute(mount_point, "user.zsfs.save", "", no_image);
  if (!queued.ok()) return fail(queued.message());
  auto stats = wait_for_requests(mount_point, {"image"}, ours);
  if (!stats.ok()) return fail(stats.message());
  bool ok = false;
  const std::string text = render_save(*stats_member(*stats, {"image"}), ok);
  if (json) {
    std::printf("%s\n", to_json_text(*stats_member(*stats, {"image"})).c_str());
  } else {
    std::fputs(text.c_str(), ok ? stdout : stderr);
  }
  return ok ? kExitOk : kExitFailure;
}

int cmd_writeback(const std::string& mount_point, const std::optional<uint64_t>& idle_seconds,
                  bool huge, bool wait, bool json) {
  auto before = read_json_attribute(mount_point, "user.zsfs.stats", true);
  if (!before.ok()) return fail(before.message());
  Check queued =
      set_zsfs_attribute(mount_point, "user.zsfs.writeback", pass_request(idle_seconds, huge),
                         "this mount has no backing file (mount it with -o backing=PATH)");
  if (!queued.ok()) return fail(queued.message());
  if (!wait) {
    if (!json) std::printf("writeback queued on %s\n", mount_point.c_str());
    return kExitOk;
  }
  auto stats = wait_for_requests(mount_point, {"backing", "writeback"}, std::nullopt);
  if (!stats.ok()) return fail(stats.message());
  if (json) {
    std::printf("%s\n", to_json_text(*stats).c_str());
  } else {
    std::fputs(render_writeback(*before, *stats).c_str(), stdout);
  }
  return kExitOk;
}

int cmd_dict_export(const std::string& mount_point, const std::optional<unsigned>& slot_wanted,
                    const std::string& file) {
  auto stats = read_json_attribute(mount_point, "user.zsfs.stats", true);
  if (!stats.ok()) return fail(stats.message());
  const Json* dictionaries = mount::json_member(*stats, "dictionaries");
  const Json* list = dictionaries == nullptr ? nullptr : mount::json_member(*dictionaries, "list");
  std::optional<uint64_t> slot;
  uint64_t size = 0;
  if (list != nullptr && list->is_array()) {
    for (const Json& d : *list) {
      const auto s = mount::json_u64(d, "slot");
      const bool wanted = slot_wanted ? s == *slot_wanted : mount::json_bool(d, "current") == true;
      if (s && wanted) {
        slot = s;
        size = mount::json_u64(d, "size_bytes").value_or(0);
      }
    }
  }
  if (!slot) {
    return fail(slot_wanted ? "no dictionary in slot " + std::to_string(*slot_wanted) + " on " +
                                  quoted(mount_point) + " (zsfsctl stats lists them)"
                            : quoted(mount_point) +
                                  " has no current dictionary yet (one is trained once 16 MiB "
                                  "of data is due for recompression; zsfsctl recompress)");
  }
  std::string bytes;
  for (uint64_t chunk = 0; bytes.size() < size; ++chunk) {
    const std::string name =
        "user.zsfs.dict." + std::to_string(*slot) + "." + std::to_string(chunk);
    auto part = read_zsfs_attribute(mount_point, name.c_str(), true);
    if (!part.ok()) return fail(part.message());
    if (part->empty()) break;
    bytes += *part;
  }
  if (bytes.size() != size) {
    return fail("dictionary in slot " + std::to_string(*slot) + " changed while it was read");
  }
  std::FILE* out = file == "-" ? stdout : std::fopen(file.c_str(), "wbe");
  if (out == nullptr) return fail("cannot open " + quoted(file) + ": " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
  const bool closed = out == stdout ? std::fflush(out) == 0 : std::fclose(out) == 0;
  if (!written || !closed)
    return fail("cannot write " + quoted(file) + ": " + std::strerror(errno));
  if (file != "-") {
    std::fprintf(stderr, "zsfsctl: wrote the dictionary in slot %llu (%zu bytes) to %s\n",
                 static_cast<unsigned long long>(*slot), bytes.size(), file.c_str());
  }
  return kExitOk;
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
  stats->add_option("MOUNTPOINT", paths, "where zsfs is mounted (one or more)")->required();
  CLI::Option* stats_json = stats->add_flag("--json", json, "print the daemon's JSON");
  bool prometheus = false;
  stats
      ->add_flag("--prometheus", prometheus,
                 "print Prometheus' text format (node_exporter's textfile collector)")
      ->excludes(stats_json);

  CLI::App* du = app.add_subcommand("du", "size and compressed size of files and directories");
  du->add_option("PATH", paths, "files or directories on zsfs")->required();
  du->add_flag("--json", json, "print JSON");

  CLI::App* classes = app.add_subcommand("classes", "the pool's size classes");
  classes->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();

  CLI::App* compact = app.add_subcommand("compact", "compact the pool now");
  compact->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  compact->add_flag("--json", json, "print the daemon's JSON");

  TopOptions top_options;
  CLI::App* top = app.add_subcommand("top", "a live view, redrawn every second (q quits)");
  top->add_option("MOUNTPOINT", top_options.mount_point, "where zsfs is mounted")->required();
  top->add_option("--interval", top_options.interval_seconds, "seconds between readings")
      ->check(CLI::Range(0.1, 3600.0));
  top->add_flag("--once", top_options.once,
                "print one view, with the rates over one interval, and exit (for scripts)");

  CLI::App* check = app.add_subcommand("check", "run the consistency check");
  check->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  check->add_flag("--json", json, "print the daemon's JSON");

  std::optional<uint64_t> idle_seconds;
  bool huge = false;
  bool wait = false;
  CLI::App* recompress =
      app.add_subcommand("recompress", "recompress stored blocks now with the secondary codec");
  recompress->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  recompress->add_option("--idle", idle_seconds, "only blocks not written for SECONDS")
      ->check(CLI::NonNegativeNumber);
  recompress->add_flag("--huge", huge, "only blocks kept raw (incompressible so far)");
  recompress->add_flag("--wait", wait, "return when nothing is left to do, with the figures");
  recompress->add_flag("--json", json, "with --wait: print the daemon's statistics as JSON");

  CLI::App* writeback = app.add_subcommand(
      "writeback", "move blocks to the backing file now (mounted with backing=)");
  writeback->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  writeback->add_option("--idle", idle_seconds, "only blocks not written for SECONDS")
      ->check(CLI::NonNegativeNumber);
  writeback->add_flag("--huge", huge, "only blocks kept raw (incompressible)");
  writeback->add_flag("--wait", wait, "return when it is done, with the figures");
  writeback->add_flag("--json", json, "with --wait: print the daemon's statistics as JSON");

  CLI::App* save = app.add_subcommand("save", "save the mount's image now (mounted with image=)");
  save->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  save->add_flag("--json", json, "print the daemon's image statistics as JSON");

  std::optional<unsigned> slot;
  std::string file;
  CLI::App* dict = app.add_subcommand("dict", "the zstd dictionaries trained on a mount");
  dict->require_subcommand(1);
  CLI::App* dict_export = dict->add_subcommand("export", "write a dictionary's bytes to a file");
  dict_export->add_option("MOUNTPOINT", mount_point, "where zsfs is mounted")->required();
  dict_export->add_option("FILE", file, "where to write it (- for standard output)")->required();
  dict_export->add_option("--slot", slot, "the dictionary in this slot (default: the current one)");

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
  if (stats->parsed()) {
    return cmd_stats(paths, prometheus ? StatsFormat::kPrometheus
                            : json     ? StatsFormat::kJson
                                       : StatsFormat::kTable);
  }
  if (du->parsed()) return cmd_du(paths, json);
  if (classes->parsed()) return cmd_classes(mount_point);
  if (compact->parsed()) return cmd_compact(mount_point, json);
  if (check->parsed()) return cmd_check(mount_point, json);
  if (recompress->parsed()) return cmd_recompress(mount_point, idle_seconds, huge, wait, json);
  if (dict_export->parsed()) return cmd_dict_export(mount_point, slot, file);
  if (save->parsed()) return cmd_save(mount_point, json);
  if (writeback->parsed()) return cmd_writeback(mount_point, idle_seconds, huge, wait, json);
  if (top->parsed()) {
    return run_top(top_options, [&top_options] {
      return read_json_attribute(top_options.mount_point, "user.zsfs.stats", true);
    });
  }
  std::fprintf(stderr,
               "zsfsctl: missing command: stats, du, classes, compact, check, recompress, dict, "
               "save, writeback or top\nTry 'zsfsctl --help' for more information.\n");
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
