// Faults: failures injected into the disk layer's system calls, so that tests can show what a
// failed or interrupted image save or writeback leaves behind.
//
// A plan names points the disk layer passes through and what happens there:
//   POINT=ACTION[@N][,POINT=ACTION[@N]...]
// ACTION is an errno name (EIO, ENOSPC, EDQUOT, EROFS, EFBIG, EINTR), "short" (a write or read
// moves only half of its bytes, as a signal or a full disk can make it), or "stop" (the process
// stops itself with SIGSTOP; a test then kills it with SIGKILL, which is a crash at exactly that
// moment). @N acts on the N-th time the point is reached only (counting from 1); without it, on
// every time. Points:
//   image.create image.write image.fsync image.rename image.dirsync   system calls of a save
//   image.fsync_ahead                    the syncs a save makes along the way (every 64 MiB)
//   image.created image.metadata image.blocks image.written image.synced image.renamed
//   image.done                                                         stages of a save (stop)
//   image.read                                                         reads of a load
//   backing.write backing.read backing.punch                           the backing file
// A point the plan does not name is never affected. Stages accept "stop" and errno actions
// (the save then fails at that stage).
//
// The daemon takes its plan from the environment variable ZSFS_FAULTS (see zsfs(8), TESTING);
// without one nothing is injected, and each point costs one relaxed atomic load.
//
// Thread safety: set_plan() must run before other threads use the disk layer (the daemon calls
// it at start, tests between cases); at() may be called from any thread.
#pragma once

#include <string_view>

#include "disk/problem.h"

namespace zsfs::disk::faults {

enum class Action { kNone, kFail, kShort };

struct Fault {
  Action action = Action::kNone;
  int error = 0;  // kFail: the errno to fail with
};

// Parses and installs plan (empty: no faults). EINVAL and a message naming the bad item when it
// does not parse; the previous plan stays then.
Problem set_plan(std::string_view plan);
// What to do at point now. Counts the visit; a "stop" action stops the process here and returns
// kNone once it is continued.
Fault at(std::string_view point);

}  // namespace zsfs::disk::faults
