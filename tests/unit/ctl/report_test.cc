#include "ctl/report.h"

#include <string>

#include <gtest/gtest.h>

#include "mount/json_reader.h"

namespace zsfs::ctl {

using mount::parse_json;

namespace {

Json json(std::string_view text) {
  auto parsed = parse_json(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.message());
  return parsed.ok() ? *parsed : Json();
}

// A user.zsfs.stats document as fs/fs_stats.cc writes it.
constexpr std::string_view kStats = R"({
  "orig_data_size": 1073741824, "compr_data_size": 104857600, "mem_used_total": 120586240,
  "mem_limit": 2147483648, "mem_used_max": 134217728, "same_pages": 65536,
  "pages_compacted": 300, "huge_pages": 12, "logical_bytes": 1610612736,
  "hole_bytes": 536870912, "data_blocks": 262144, "unique_blocks": 131072,
  "shared_refs": 65536, "dedup_saved_bytes": 268435456, "compression_ratio": 0.2,
  "inodes": 1234, "inode_limit": 3000000, "pool_pages": 27000, "pool_efficiency": 0.948,
  "metadata_bytes": 10000000, "inode_bytes": 1000000, "block_map_bytes": 2000000,
  "dedup_bytes": 6000000, "pool_metadata_bytes": 1000000, "compactions": 4,
  "algorithm": "zstd", "level": 3, "dedup": true, "pool": {"pages_held": 27000}})";

// One table row: labels are padded to the widest ("  incompressible", 16) plus two spaces.
std::string row(const std::string& label, const std::string& value) {
  return label + std::string(18 - label.size(), ' ') + value + "\n";
}

TEST(RenderStats, AllLines) {
  const std::string text = render_stats(json(kStats), "/mnt/z");
  for (const std::string& line : {
           row("Mounted on", "/mnt/z"),
           row("Compression", "zstd level 3, dedup on"),
           row("Memory used", "115 MiB of 2.00 GiB (5.6%), peak 128 MiB"),
           row("  pool", "105 MiB in 27,000 pages, 94.8% filled"),
           row("  metadata",
               "9.54 MiB (inodes 977 KiB, block maps 1.91 MiB, dedup 5.72 MiB, "
               "pool 977 KiB)"),
           row("Inodes", "1,234 of 3,000,000"),
           row("File sizes", "1.50 GiB (512 MiB in holes)"),
           row("Data", "1.00 GiB in 262,144 blocks"),
           row("  same-filled", "256 MiB (65,536 blocks, kept without memory)"),
           row("  deduplicated", "256 MiB saved (65,536 shared references)"),
           row("  stored", "512 MiB in 131,072 unique blocks, compressed to 100 MiB (19.5%)"),
           row("  incompressible", "12 blocks kept as they are"),
           row("Data to memory", "8.90:1 (1.00 GiB of data in 115 MiB of memory)"),
           row("Compaction", "4 runs, 300 pages freed (1.17 MiB)"),
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing line: " << line << "in:\n" << text;
  }
}

TEST(RenderStats, StagedBlocksShowOnlyWhenThereAreSome) {
  EXPECT_EQ(render_stats(json(R"({"staged_blocks": 0})"), "/m"), "Mounted on  /m\n");
  EXPECT_EQ(render_stats(json(R"({"staged_blocks": 1234})"), "/m"),
            "Mounted on     /m\n"
            "  to compress  1,234 blocks kept raw until the background compresses them\n");
}

TEST(RenderStats, RequestsShowTheTotalAndTheMostFrequentOperations) {
  EXPECT_EQ(render_stats(json(R"({"requests": {"total": 1160426, "lookup": 83778, "forget": 47,
                                  "getattr": 157792, "setattr": 251137, "mknod": 78626,
                                  "read": 0, "write": 301858, "getxattr": 281986,
                                  "mkdir": 5096}})"),
                         "/m"),
            "Mounted on     /m\n"
            "FUSE requests  1,160,426 (write 301,858, getxattr 281,986, setattr 251,137, "
            "getattr 157,792, lookup 83,778, mknod 78,626, ...)\n");
  EXPECT_EQ(render_stats(json(R"({"requests": {"total": 3, "statfs": 2, "lookup": 1,
                                  "read": 0}})"),
                         "/m"),
            "Mounted on     /m\n"
            "FUSE requests  3 (statfs 2, lookup 1)\n");
  EXPECT_EQ(render_stats(json(R"({"requests": {"total": 0, "read": 0}})"), "/m"),
            "Mounted on     /m\n"
            "FUSE requests  0\n");
}

TEST(RenderStats, MissingFieldsLeaveLinesOut) {
  const std::string text = render_stats(json(R"({"mem_used_total": 4096})"), "/m");
  EXPECT_EQ(text, "Mounted on  /m\n");
  const std::string none =
      render_stats(json(R"({"algorithm": "none", "level": 3, "dedup": false})"), "/m");
  EXPECT_NE(none.find("Compression  none, dedup off\n"), std::string::npos) << none;
}

TEST(RenderDu, RowsAndTotal) {
  std::vector<DuRow> rows;
  rows.push_back({"/m/a", json(R"({"files":1,"logical_bytes":8192,"data_blocks":2,
                                    "stored_bytes":100,"shared_blocks":1})")});
  rows.push_back({"/m/dir", json(R"({"files":3,"logical_bytes":1048576,"data_blocks":256,
                                      "stored_bytes":10000,"shared_blocks":0})")});
  const std::string text = render_du(rows);
  EXPECT_EQ(text,
            "     Files        Size        Data      Stored  Stored%      Shared  Path\n"
            "         1    8.00 KiB    8.00 KiB       100 B     1.2%    4.00 KiB  /m/a\n"
            "         3    1.00 MiB    1.00 MiB    9.77 KiB     1.0%         0 B  /m/dir\n"
            "         4    1.01 MiB    1.01 MiB    9.86 KiB     1.0%    4.00 KiB  total\n");
  rows.pop_back();
  EXPECT_EQ(render_du(rows).find("total"), std::string::npos);  // no total for one row
}

TEST(RenderDu, Json) {
  std::vector<DuRow> rows;
  rows.push_back({"/m/\"q\"", json(R"({"ino":5,"files":1})")});
  const std::string text = render_du_json(rows);
  EXPECT_EQ(text, R"([{"path":"/m/\"q\"","ino":5,"files":1}])");
  EXPECT_TRUE(parse_json(text).ok());
  EXPECT_EQ(render_du_json({}), "[]");
}

TEST(RenderCompact, PagesFreed) {
  EXPECT_EQ(render_compact(json(R"({"pages_freed":256,"pages_before":1000,"pages_after":744})")),
            "compacted: 256 pages freed (1.00 MiB)\n");
  EXPECT_EQ(render_compact(json(R"({"other":1})")), "compacted: {\"other\":1}\n");
}

TEST(RenderCheck, OkOrProblems) {
  bool consistent = false;
  EXPECT_EQ(render_check(json(R"({"ok":true,"inodes":3,"problems":[]})"), consistent),
            "consistent\n");
  EXPECT_TRUE(consistent);
  const std::string bad = render_check(
      json(R"({"ok":false,"problems":["inode 5 has nlink 2, expected 1"]})"), consistent);
  EXPECT_FALSE(consistent);
  EXPECT_NE(bad.find("inode 5 has nlink 2, expected 1"), std::string::npos) << bad;
  render_check(json(R"({"problems":[]})"), consistent);
  EXPECT_FALSE(consistent);  // no "ok": true is not consistent
}

}  // namespace
}  // namespace zsfs::ctl
