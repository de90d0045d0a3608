// `zsfsctl top`: a live view of one mount, redrawn every interval, for people who would rather
// watch than read JSON. render_top() draws one frame from two readings of user.zsfs.stats and
// the time between them; it is a pure function, unit-tested without a mount or a terminal (the
// loop that reads, waits and draws is ctl/top_screen.h).
//
// Apart from the first lines (memory, data against memory, files), the frame is driven by the
// metric table (ctl/metrics.h), so a figure given a line there appears here without code:
// - "Requests": the family labelled "op", as a rate per second by operation, busiest first;
// - "Activity": every other counter, as its rate per second and its count since the mount
//   (the compactor's runs and freed pages, and whatever background work adds counters);
// - "Figures": every gauge, formatted by its unit (_bytes as sizes, _ratio as ratios).
// Lines beyond the terminal's height are left out, the figures first; lines are cut at its
// width rather than wrapped.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"

namespace zsfs::ctl {

struct TopFrame {
  std::string_view mount_point;
  const Json* previous = nullptr;  // the reading before, nullptr for the first frame (no rates)
  const Json* current = nullptr;   // this reading
  double elapsed_seconds = 0;      // between the two readings
  double interval_seconds = 1;     // how often the view is redrawn, for the title
  std::string_view clock;          // the wall-clock time shown in the title, e.g. "14:03:07"
  size_t max_lines = 0;            // the terminal's height; 0: no limit
  size_t max_columns = 0;          // its width, beyond which lines are cut; 0: no limit
};

std::string render_top(const TopFrame& frame);

}  // namespace zsfs::ctl
