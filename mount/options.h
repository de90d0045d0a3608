// The zsfs command line: `zsfs [SOURCE] MOUNTPOINT [-o OPT[,OPT...]] [-f] [-d]`, the form FUSE
// filesystems share, so that mount(8) and /etc/fstab work through mount.fuse3, which runs
// `zsfs SOURCE MOUNTPOINT -o rw,...,dev,suid` for type fuse.zsfs (found through PATH).
//
// parse_command_line() turns argv into one plain Options struct: the core's fs::Config, the
// daemon's own switches, and the options handed on to libfuse. Every value is validated here,
// before anything is mounted; a bad one gives a message naming it and what is accepted.
// Nothing here touches FUSE or the filesystem core (only their plain types), so the parsing is
// unit-tested without either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/types.h"
#include "mount/expected.h"

namespace zsfs::mount {

// Exit statuses of zsfs, as zsfs(8) documents them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;    // bad command line, option, or mount point
inline constexpr int kExitFailure = 2;  // the mount or the daemon failed
inline constexpr int kExitCheck = 3;    // the consistency check at unmount found a problem

// Whether the kernel's writeback cache is on unless writeback= says otherwise. Off: with it on,
// write(2) succeeds once the data is in the page cache and a full budget shows up only later, at
// fsync(2) or close(2), where tmpfs fails the write itself; measured, it made writes at best
// 1.2x to 1.7x faster and saved no memory (the page cache keeps written pages in both modes).
// The figures are in zsfs(8).
inline constexpr bool kDefaultWriteback = false;

// Threads that serve FUSE requests unless threads= says otherwise. One, by measurement: every
// request wakes a thread waiting on /dev/fuse, and on a small virtual machine a wakeup that lands
// on another CPU than the caller's costs three times one that does not (20,000 creates, stats and
// unlinks: 0.30/0.13/0.35 s with one thread, 0.55-0.66/0.25-0.30/0.44-0.74 s with two to four).
// The kernel wakes waiting threads in turn, so several of them bounce between CPUs; a single one
// mostly follows the caller. Compression does not need these threads: background workers
// (encode_threads=) do it.
inline constexpr unsigned kDefaultThreads = 1;
inline constexpr unsigned kMaxThreads = 64;

// The longest save_interval= (30 days): longer is as good as off.
inline constexpr uint64_t kMaxSaveIntervalSeconds = 30 * 24 * 3600;

// The least backing_size= worth a backing file.
inline constexpr uint64_t kMinBackingBytes = 1 << 20;

// Budgets below this cannot hold the root directory's metadata plus one 16-page zspage chain.
inline constexpr uint64_t kMinSizeBytes = 1 << 20;

// Facts about the machine and the codec that defaults and limits depend on. Tests make their own.
struct SystemInfo {
  uint64_t ram_bytes = 0;  // physical RAM
  uint64_t ram_pages = 0;  // physical RAM in pages
  uint32_t uid = 0;        // who is mounting
  uint32_t gid = 0;
  unsigned cores = 1;  // online CPUs
  int min_level = 0;   // the codec's level range and default
  int max_level = 0;
  int default_level = 0;
  bool selinux = false;  // SELinux is enabled (the kernel takes context= and its kin)

  // The running machine and user, with the codec's levels given by the caller (the option
  // parser does not link the codec).
  static SystemInfo probe(int min_level, int max_level, int default_level);
};

struct Options {
  std::string source = "zsfs";  // shown as the mount's source in /proc/mounts
  std::string mount_point;
  bool foreground = false;  // -f, and -d
  bool debug = false;       // -d or -o debug: libfuse's request log on stderr
  bool writeback = kDefaultWriteback;
  unsigned threads = kDefaultThreads;  // FUSE request threads
  // readahead=: the mount's read-ahead window in bytes (mount/readahead.h); unset, zsfs asks for
  // kDefaultReadaheadBytes where it may and keeps the kernel's quietly where it may not.
  std::optional<uint64_t> readahead_bytes;
  bool allow_other = false;
  bool nonempty = false;  // mount over a directory that has entries
  fs::Config config;
  // For libfuse's fuse_session_new(): kernel mount flags (ro, nosuid, ...) and FUSE mount options
  // (allow_other, fsname=, ...), in the order given. See fuse_arguments().
  std::vector<std::string> fuse_options;
  std::string fsname;            // fsname= (default: the source)
  std::string subtype = "zsfs";  // subtype=; /proc/mounts shows fuse.<subtype>, or fuse if empty
  // The mount(2) flags the generic options left set that libfuse does not pass on (MS_NOATIME,
  // MS_STRICTATIME, MS_RELATIME, MS_NODIRATIME, MS_NOSYMFOLLOW): see generic_options.h.
  unsigned long mount_flags = 0;
};

enum class Action { kMount, kHelp, kVersion, kUsageError };

struct CommandLine {
  Action action = Action::kUsageError;
  Options options;
  std::string message;  // kUsageError: what was wrong, without the program name
};

// Parses argv (argv[0] is the program name). Defaults come from system.
CommandLine parse_command_line(int argc, const char* const* argv, const SystemInfo& system);

// The defaults for this machine, before any option is applied.
Options default_options(const SystemInfo& system);

// Splits one -o argument on commas; "\," is a comma inside a value and "\\" a backslash.
std::vector<std::string> split_option_list(std::string_view text);

// Applies one option from an -o list ("size=2G", "ro", ...).
Check apply_mount_option(std::string_view option, const SystemInfo& system, Options& options);

// The argument vector for fuse_session_new(): program name, then "-o" and the options libfuse
// understands, always with default_permissions, fsname and subtype.
std::vector<std::string> fuse_arguments(const Options& options);

// Every option -o accepts, as shell completion offers it: "size=" for one that takes a value,
// "ro" for a flag (x-* options aside).
std::vector<std::string> option_names();

// --help text, with this machine's defaults.
std::string usage_text(const SystemInfo& system);

}  // namespace zsfs::mount
