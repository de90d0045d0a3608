// zsfsctl's renderings of what lives in files: the image (user.zsfs.stats' "image" section) and
// the backing file ("backing"). Pure functions of parsed JSON, as report.h's.
#pragma once

#include <optional>
#include <string>

#include "base/json.h"

namespace zsfs::ctl {

// The "Image" row of zsfsctl stats: the path, the last save and the interval; nothing without
// an image section.
std::optional<std::string> image_summary(const Json& stats);
// The "Backing file" row of zsfsctl stats: what is in the file and its traffic (as zram's
// bd_stat); nothing without a backing section.
std::optional<std::string> backing_summary(const Json& stats);
// zsfsctl writeback --wait's report: what moved between the two statistics.
std::string render_writeback(const Json& before, const Json& after);
// zsfsctl save's report of the save that served it (the image section's "last"); ok tells
// whether it succeeded.
std::string render_save(const Json& image, bool& ok);

}  // namespace zsfs::ctl
