// The metric table (ctl/metrics.h) against the statistics the daemon really writes, and the
// Prometheus rendering (ctl/prometheus.h) of made-up documents, text for text.
#include "ctl/metrics.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "ctl/prometheus.h"
#include "fs/filesystem.h"
#include "fs/stats.h"
#include "mount/json_reader.h"
#include "mount/request_counters.h"
#include "tests/unit/scratch_dir.h"

namespace zsfs::ctl {
namespace {

// The image and backing sections a daemon with image= and backing= writes, from a real filesystem
// that loaded an image and saved it once (so that every figure is there).
Json disk_sections() {
  zsfs::testing::ScratchDir dir;
  fs::Config config;
  config.size_bytes = 64 << 20;
  config.nr_inodes = 1000;
  config.image_path = dir.file("fs.img");
  config.backing_path = dir.file("backing");
  auto one_mount = [&] {
    auto fs = fs::Filesystem::create(config);
    EXPECT_TRUE(fs.ok());
    EXPECT_FALSE((*fs)->open_backing());
    bool loaded = false;
    EXPECT_FALSE((*fs)->open_image(&loaded));
    EXPECT_TRUE((*fs)->mknod(fs::kRootIno, "f" + std::to_string(loaded), 0100644, 0, {}).ok());
    fs::ImageSaveStats saved;
    bool skipped = false;
    EXPECT_FALSE((*fs)->close_image(&saved, &skipped));
    auto stats = (*fs)->getxattr(fs::kRootIno, fs::kXattrStats, {});
    EXPECT_TRUE(stats.ok());
    auto parsed = mount::parse_json(stats.ok() ? *stats : "{}");
    return parsed.ok() ? *parsed : Json();
  };
  one_mount();
  const Json stats = one_mount();
  return Json{{"image", stats["image"]}, {"backing", stats["backing"]}};
}

// user.zsfs.stats as the daemon writes it (fs::Stats::to_json and mount/'s request counts),
// with one dictionary in its list, which a new filesystem does not have yet, and the sections of
// an image and a backing file.
Json daemon_stats() {
  fs::Stats stats;
  stats.dictionaries.resize(1);
  stats.dictionaries[0].slot = 3;
  mount::RequestCounters requests;
  requests.count(mount::Op::kLookup);
  const Json disk = disk_sections();
  const fs::StatsSection sections[] = {{"requests", [&requests] { return requests.to_json(); }},
                                       {"image", [&disk] { return disk["image"]; }},
                                       {"backing", [&disk] { return disk["backing"]; }}};
  const std::string text = stats.to_json(sections);
  auto parsed = mount::parse_json(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? *parsed : Json();
}

// Every field the daemon writes is a counter, a gauge, a setting, or left out with a reason: a
// field added to the statistics fails here until metrics.cc says what it is.
TEST(Metrics, EveryFieldOfTheDaemonsStatisticsHasARule) {
  const Json stats = daemon_stats();
  const std::vector<StatsLeaf> leaves = stats_leaves(stats);
  ASSERT_GT(leaves.size(), 30u) << to_json_text(stats);
  std::set<const MetricRule*> used;
  for (const StatsLeaf& leaf : leaves) {
    EXPECT_NE(leaf.rule, nullptr) << "user.zsfs.stats field " << leaf.path << " = "
                                  << to_json_text(*leaf.value)
                                  << " has no rule in ctl/metrics.cc: add a line saying whether "
                                     "it is a counter, a gauge, a setting or left out (and why)";
    if (leaf.rule == nullptr) continue;
    used.insert(leaf.rule);
    if (leaf.rule->kind == MetricKind::kCounter || leaf.rule->kind == MetricKind::kGauge) {
      EXPECT_TRUE(leaf.value->is_number() || leaf.value->is_boolean())
          << leaf.path << " is exported but is neither a number nor a boolean";
    }
    if (leaf.rule->kind == MetricKind::kCounter) {
      EXPECT_TRUE(leaf.value->is_number_integer()) << leaf.path << ": a counter counts";
    }
  }
  // And the table names nothing the daemon no longer writes.
  for (const MetricRule& rule : metric_rules()) {
    EXPECT_TRUE(used.count(&rule) == 1) << "rule " << rule.path << " matches no field";
  }
}

TEST(Metrics, NamesFollowPrometheusConventions) {
  std::set<std::string_view> names;
  for (const MetricRule& rule : metric_rules()) {
    if (rule.kind == MetricKind::kLeftOut) {
      EXPECT_TRUE(rule.name.empty()) << rule.path;
      EXPECT_FALSE(rule.help.empty()) << rule.path << ": say why it is left out";
      continue;
    }
    const bool wildcard = rule.path.find('*') != std::string_view::npos;
    EXPECT_EQ(wildcard, !rule.label.empty()) << rule.path << ": a '*' needs a label, and only it";
    EXPECT_TRUE(names.insert(rule.name).second) << "two rules export " << rule.name;
    for (char c : rule.name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
          << rule.name << ": metric names are [a-z0-9_]";
    }
    const bool total = rule.name.ends_with("_total");
    if (rule.kind == MetricKind::kCounter) {
      EXPECT_TRUE(total) << rule.name;
    } else if (rule.kind == MetricKind::kGauge) {
      EXPECT_FALSE(total) << rule.name << ": _total is for counters";
      EXPECT_FALSE(rule.help.empty()) << rule.name;
    }
  }
}

TEST(Metrics, WildcardsBecomeLabelsAndExactPathsComeFirst) {
  const Json stats = {{"requests", {{"total", 3}, {"lookup", 1}, {"write", 2}}}, {"new_field", 1}};
  const std::vector<StatsLeaf> leaves = stats_leaves(stats);
  ASSERT_EQ(leaves.size(), 4u);
  EXPECT_EQ(leaves[0].path, "requests.total");
  EXPECT_EQ(leaves[0].rule->kind, MetricKind::kLeftOut);
  EXPECT_EQ(leaves[1].path, "requests.lookup");
  EXPECT_EQ(leaves[1].rule->name, "requests_total");
  EXPECT_EQ(leaves[1].label_value, "lookup");
  EXPECT_EQ(leaves[2].label_value, "write");
  EXPECT_EQ(leaves[3].path, "new_field");
  EXPECT_EQ(leaves[3].rule, nullptr);
}

TEST(Metrics, ArrayItemsAreLabelledByTheirOwnMember) {
  const Json stats = daemon_stats();
  for (const StatsLeaf& leaf : stats_leaves(stats)) {
    if (leaf.path == "dictionaries.list.0.blocks") {
      ASSERT_NE(leaf.rule, nullptr);
      EXPECT_EQ(leaf.rule->name, "dictionary_blocks");
      EXPECT_EQ(leaf.label_value, "3");  // the slot, not the index
      return;
    }
  }
  ADD_FAILURE() << "no dictionaries.list.0.blocks in " << to_json_text(stats);
}

TEST(Prometheus, FamiliesOnceWithEveryMountsSamples) {
  const Json a = {{"mem_used_total", 100},   {"compression_ratio", 2.5},
                  {"algorithm", "zstd"},     {"level", 3},
                  {"dedup", true},           {"requests", {{"total", 5}, {"write", 5}}},
                  {"from_a_newer_daemon", 7}};
  const Json b = {{"mem_used_total", 18446744073709551615u}, {"compression_ratio", 0.0}};
  const std::vector<MountStats> mounts = {{"/mnt/a", a}, {"/mnt/\"b\"\\\n", b}};
  EXPECT_EQ(render_prometheus(mounts),
            "# HELP zsfs_info The mount's settings, as labels; always 1\n"
            "# TYPE zsfs_info gauge\n"
            "zsfs_info{mountpoint=\"/mnt/a\",algorithm=\"zstd\",level=\"3\",dedup=\"true\"} 1\n"
            "zsfs_info{mountpoint=\"/mnt/\\\"b\\\"\\\\\\n\"} 1\n"
            "# HELP zsfs_memory_used_bytes Memory charged to the budget: pool pages and metadata\n"
            "# TYPE zsfs_memory_used_bytes gauge\n"
            "zsfs_memory_used_bytes{mountpoint=\"/mnt/a\"} 100\n"
            "zsfs_memory_used_bytes{mountpoint=\"/mnt/\\\"b\\\"\\\\\\n\"} 18446744073709551615\n"
            "# HELP zsfs_compression_ratio Unique blocks' bytes over their compressed bytes\n"
            "# TYPE zsfs_compression_ratio gauge\n"
            "zsfs_compression_ratio{mountpoint=\"/mnt/a\"} 2.5\n"
            "zsfs_compression_ratio{mountpoint=\"/mnt/\\\"b\\\"\\\\\\n\"} 0\n"
            "# HELP zsfs_requests_total FUSE requests served since the mount, by operation\n"
            "# TYPE zsfs_requests_total counter\n"
            "zsfs_requests_total{mountpoint=\"/mnt/a\",op=\"write\"} 5\n");
  EXPECT_EQ(render_prometheus({}), "");
}

}  // namespace
}  // namespace zsfs::ctl
