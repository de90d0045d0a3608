// The figures of user.zsfs.stats as metrics: one table (metric_rules()) says, for every field
// the daemon writes, whether it is a counter (only grows while the filesystem is mounted), a
// gauge (a level that goes up and down), a setting, or left out and why; and gives its
// Prometheus name and help text. `zsfsctl stats --prometheus` and `zsfsctl top` are both driven
// by it, so a figure added to the statistics later needs one line here to appear in both.
//
// Fields are named by their path in the document: "mem_used_total", "pool.objects". A '*'
// stands for any one key and becomes a label: "requests.*" with label "op" turns
// {"requests": {"lookup": 5}} into zsfs_requests_total{op="lookup"} 5. An array's items are
// keyed by their index, but an item that is an object with a member named like the label gives
// that member's value instead: "dictionaries.list.*.blocks" with label "slot" labels each
// dictionary by its slot. The first rule that matches a path wins, so exact paths go before the
// patterns that would also match them.
//
// The tests check that every field of a real user.zsfs.stats is matched by a rule, so a new field
// cannot be forgotten silently. At run time a field no rule matches (a newer daemon than this
// zsfsctl) is left out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"

namespace zsfs::ctl {

enum class MetricKind {
  kCounter,  // Prometheus counter: a count since the mount; `top` shows its rate
  kGauge,    // Prometheus gauge: a level (bytes, blocks, a ratio)
  kSetting,  // a mount setting: a label of zsfs_info
  kLeftOut,  // not exported; help says why (the same figure under another name, a sum of others)
};

struct MetricRule {
  std::string_view path;  // the field's path, '*' for any one key
  MetricKind kind;
  std::string_view name;   // the metric's name without "zsfs_"; a setting's label name
  std::string_view label;  // the label '*' becomes; empty when the path has none
  std::string_view help;   // HELP text; for kLeftOut, why it is left out
};

std::span<const MetricRule> metric_rules();

// One leaf of a statistics document (a number, string, boolean or null) and the rule matching it.
struct StatsLeaf {
  std::string path;         // "requests.lookup"
  const Json* value;        // points into the document
  const MetricRule* rule;   // nullptr when no rule matches
  std::string label_value;  // what the rule's '*' matched
};

// Every leaf of stats, in document order.
std::vector<StatsLeaf> stats_leaves(const Json& stats);

// A leaf's value as a number: integers exactly up to 2^53, booleans as 0 and 1; nothing for
// strings and nulls.
std::optional<double> leaf_number(const Json& value);
// A leaf's value as a count: a non-negative integer, exactly; nothing otherwise.
std::optional<uint64_t> leaf_count(const Json& value);

}  // namespace zsfs::ctl
