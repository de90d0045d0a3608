// The loop of `zsfsctl top`: reads the statistics every interval and draws ctl/top.h's frame.
//
// On a terminal it takes the alternate screen (as top(1) does), hides the cursor, redraws in
// place, and reads keys without echo: q (or Ctrl-C, SIGTERM, SIGHUP) ends it and puts the
// terminal back as it was. Elsewhere (a pipe, a file) it prints one frame after another, without
// escape sequences, until interrupted; once prints a single frame, with the rates over one
// interval, and ends: the form for scripts.
#pragma once

#include <functional>
#include <string>

#include "base/json.h"
#include "mount/expected.h"

namespace zsfs::ctl {

struct TopOptions {
  std::string mount_point;
  double interval_seconds = 1;
  bool once = false;
};

// read gives one reading of user.zsfs.stats. Returns the exit status: 0, or 2 after printing
// why when a reading fails (the mount went away).
int run_top(const TopOptions& options, const std::function<mount::Expected<Json>()>& read);

}  // namespace zsfs::ctl
