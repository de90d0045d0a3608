// `zsfsctl stats --prometheus`: statistics in Prometheus' text exposition format (version
// 0.0.4), as node_exporter's textfile collector reads it.
//
// Each metric of ctl/metrics.h becomes one family, "zsfs_" + its name, with HELP and TYPE lines
// and one sample per mount, labelled mountpoint="..." (and the rule's own label where its path
// has a '*'). The settings make one zsfs_info gauge per mount whose labels they are, valued 1.
// Families come in the table's order, each once, whatever the number of mounts, as the format
// requires.
#pragma once

#include <span>
#include <string>

#include "base/json.h"

namespace zsfs::ctl {

struct MountStats {
  std::string mount_point;
  Json stats;  // user.zsfs.stats
};

std::string render_prometheus(std::span<const MountStats> mounts);

}  // namespace zsfs::ctl
