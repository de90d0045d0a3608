// The read-ahead window of a zsfs mount: how much the kernel reads ahead of a sequential reader,
// in FUSE READ requests to the daemon.
//
// The kernel gives a FUSE mount's backing device (its bdi) the default window, 128 KiB, and the
// INIT exchange can only lower it (the kernel keeps the smaller of its window and the daemon's
// max_readahead). So a sequential read of a large file comes as one 128 KiB READ request after
// another, each a round trip of 6-40 us to the daemon, although a request may carry 1 MiB
// (max_pages). Only the bdi's sysfs file, /sys/class/bdi/MAJOR:MINOR/read_ahead_kb, raises it,
// and only root may write it: set_mount_readahead() does, once the INIT reply is written (an
// earlier value would be lowered again by it). Files opened before that keep the window they
// opened with; none can be opened before INIT is answered, and with one request thread none is
// before this runs.
//
// Plain files only (mountinfo and sysfs, with paths that tests point elsewhere); no FUSE.
#pragma once

#include <cstdint>
#include <string>

#include "mount/expected.h"

namespace zsfs::mount {

// The window zsfs asks for unless readahead= says otherwise: one READ request of max_pages
// (256 pages, what libfuse 3.14 negotiates). Measured on 2 cores, a 2 GiB file read
// sequentially in 1 MiB reads (fio, page cache dropped, 2 runs each): 1,719 and 1,890 MB/s with
// 128 KiB; 2,109 and 2,198 with 512 KiB; 2,304 and 2,459 with 1 MiB; 2,265 and 2,182 with 2 MiB.
inline constexpr uint64_t kDefaultReadaheadBytes = uint64_t{1} << 20;
// The largest readahead= accepted: far beyond where a larger window stops paying.
inline constexpr uint64_t kMaxReadaheadBytes = uint64_t{64} << 20;

// Sets the read-ahead window of the FUSE mount at mount_point (absolute, as mountinfo shows it;
// the last mount there when several are stacked) to bytes (a multiple of 1 KiB), through
// sysfs_bdi/MAJOR:MINOR/read_ahead_kb. The message says what failed: no such mount, or the file
// could not be written (EACCES for anyone but root).
Check set_mount_readahead(const std::string& mount_point, uint64_t bytes,
                          const std::string& mountinfo_path = "/proc/self/mountinfo",
                          const std::string& sysfs_bdi = "/sys/class/bdi");

}  // namespace zsfs::mount
