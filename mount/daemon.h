// The zsfs daemon's life: check the mount point, create the filesystem, mount, serve requests on
// a multi-threaded FUSE loop until unmounted or signalled, unmount, free everything.
//
// Backgrounding: unless -f or -d, run_daemon() forks first, and the child does all the work while
// the parent waits for a one-byte report ("mounted", or the exit status of the failure), then
// exits with it. So every failure up to a working mount (bad mount point, the core refusing the
// configuration, the kernel refusing the mount) is reported on the terminal with the right exit
// status, as fuse_daemonize() after mounting would; forking before anything is created also
// means no thread the core may start (background compaction) is lost to a later fork.
//
// Ending: SIGTERM, SIGINT and SIGHUP (libfuse's handlers) end the loop and the daemon unmounts;
// `fusermount3 -u` or umount(8) end the loop from outside. Then the session is destroyed, and in
// debug builds the core's consistency check runs; a failed check is logged and gives exit
// status 3.
#pragma once

#include "mount/options.h"

namespace zsfs::mount {

// Returns the process exit status (kExitOk, kExitUsage, kExitFailure, kExitCheck). In the
// background case the original process never returns: it exits with the child's report.
int run_daemon(const Options& options);

}  // namespace zsfs::mount
