// zsfsctl's output: the core's statistics JSON (fs/stats.h) rendered for people, and the JSON
// documents zsfsctl prints with --json. Pure functions of parsed JSON, so they are unit-tested
// without a mount.
//
// The renderings tolerate missing fields (a line whose figures are absent is left out), so a
// zsfsctl and a daemon from different versions still work together; --json shows everything.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"

namespace zsfs::ctl {

// user.zsfs.stats as a two-column table.
std::string render_stats(const Json& stats, std::string_view mount_point);

// One `zsfsctl du` argument and its user.zsfs.file JSON.
struct DuRow {
  std::string path;
  Json file;
};

// A header, one line per row, and a total line when there is more than one row.
std::string render_du(const std::vector<DuRow>& rows);
// A JSON array of the rows' objects, each with "path" first.
std::string render_du_json(const std::vector<DuRow>& rows);

// user.zsfs.compact's result.
std::string render_compact(const Json& result);
// The outcome of zsfsctl recompress --wait: the statistics before and after.
std::string render_recompress(const Json& before, const Json& after);

// user.zsfs.check's report; consistent tells whether it says "ok": true.
std::string render_check(const Json& report, bool& consistent);

}  // namespace zsfs::ctl
