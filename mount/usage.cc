// zsfs --help: the options with this machine's defaults.
#include <string>

#include "codec/dictionary.h"
#include "mount/options.h"
#include "mount/units.h"

namespace zsfs::mount {

std::string usage_text(const SystemInfo& system) {
  const Options defaults = default_options(system);
  std::string text;
  text += "Usage: zsfs [SOURCE] MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]\n";
  text += "\n";
  text += "Mounts a RAM filesystem like tmpfs that keeps file data compressed and deduplicated.\n";
  text += "Through mount(8) and /etc/fstab: mount -t fuse.zsfs none MOUNTPOINT -o OPTIONS\n";
  text += "\n";
  text += "  -f, --foreground   stay in the foreground\n";
  text += "  -d, --debug        foreground, and log every FUSE request to stderr\n";
  text += "  -h, --help         show this help\n";
  text += "  -V, --version      show the version\n";
  text += "\n";
  text += "Options (-o), with this machine's defaults:\n";
  text += "  size=SIZE          memory budget: bytes with k/m/g/t suffix, or N% of RAM\n";
  text += "                     (default 50% = " + format_bytes(defaults.config.size_bytes) + ")\n";
  text += "  nr_inodes=N        inode limit, k/m/g suffixes (default " +
          std::to_string(defaults.config.nr_inodes) + ")\n";
  text += "  mode=OCTAL         root directory mode (default 1777)\n";
  text += "  uid=ID, gid=ID     root directory owner (default the mounting user: " +
          std::to_string(system.uid) + ":" + std::to_string(system.gid) + ")\n";
  text += "  compress=auto|lz4|zstd|none  what a write stores: auto is lz4, or zstd when an\n";
  text += "                     idle core compresses for it (default auto)\n";
  text += "  level=N            zstd level of compress=zstd, " + std::to_string(system.min_level) +
          " to " + std::to_string(system.max_level) + " (default " +
          std::to_string(system.default_level) + ")\n";
  text += "  recompress=zstd|off  recompress idle blocks in the background (default " +
          std::string(defaults.config.recompress ? "zstd" : "off") + ")\n";
  text += "  recompress_level=N zstd level of recompression, 1 to " +
          std::to_string(system.max_level) + " (default " +
          std::to_string(defaults.config.recompress_level) + ")\n";
  text += "  recompress_after=T|off  seconds (or m, h) a block rests first (default " +
          std::to_string(defaults.config.recompress_after_seconds) + "s)\n";
  text +=
      std::string("  dict=on|off        zstd dictionaries trained on this mount's data (default ") +
      (defaults.config.dict ? "on" : "off") + ")\n";
  text += "  dict_size=SIZE     largest dictionary (default " +
          format_bytes(codec::kMaxDictionaryBytes) + ", at most a 1024th of size=)\n";
  text += "  dedup=on|off       share identical 4 KiB blocks (default on)\n";
  text += "  image=PATH         load the files from PATH at mount (when it exists) and save\n";
  text += "                     them there at unmount and on zsfsctl save (default none)\n";
  text += "  save_interval=T|off  also save the image every T seconds (or m, h) when\n";
  text += "                     anything changed (default off)\n";
  text += "  backing=PATH       move cold blocks to the file PATH when size= is reached\n";
  text += "                     (default none)\n";
  text += "  backing_size=SIZE  largest backing file (default: what its file system holds)\n";
  text += "  writeback_after=T|off  also move blocks stored T seconds (or m, h) ago\n";
  text += "                     (default off)\n";
  text += "  promote=on|off     bring a block read from the backing file back into RAM\n";
  text += std::string("                     (default ") + (defaults.config.promote ? "on" : "off") +
          ")\n";
  text += "  chain=N            pages per zspage, 1 to 16 (default 8)\n";
  text += std::string("  writeback=on|off   kernel writeback cache (default ") +
          (kDefaultWriteback ? "on" : "off") + ")\n";
  text += "  threads=N          threads serving requests, 1 to 64 (default " +
          std::to_string(kDefaultThreads) + ")\n";
  text += "  readahead=SIZE     read-ahead window, 0 to 64m (default 1m where root may set\n";
  text += "                     it; the kernel's 128k otherwise)\n";
  text += "  encode_threads=N   threads compressing in the background, 0 to 64 (default " +
          std::to_string(defaults.config.encode_threads) + ")\n";
  text += "  acl, noacl         POSIX ACLs (default acl, as tmpfs)\n";
  text += "  noatime, relatime, strictatime, nodiratime   access time updates (default\n";
  text += "                     relatime)\n";
  text += "  allow_other        let other users in (non-root: needs user_allow_other in\n";
  text += "                     /etc/fuse.conf)\n";
  text += "  nonempty           mount over a directory that is not empty\n";
  text += "  fsname=NAME        source shown in /proc/mounts (default SOURCE or zsfs)\n";
  text += "  subtype=NAME       type fuse.NAME (default zsfs; empty: fuse)\n";
  text += "  ro, rw, nosuid, nodev, noexec, sync, dirsync, nosymfollow, ... as mount(8);\n";
  text += "  lazytime, iversion, silent, mand, auto, noauto, user, _netdev, nofail, x-*\n";
  text += "  and their kin are accepted and change nothing (see zsfs(8))\n";
  text += "\n";
  text += "Statistics: zsfsctl stats MOUNTPOINT. See zsfs(8) and zsfsctl(8).\n";
  return text;
}

}  // namespace zsfs::mount
