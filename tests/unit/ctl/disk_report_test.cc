#include "ctl/disk_report.h"

#include <string>

#include <gtest/gtest.h>

#include "mount/json_reader.h"

namespace zsfs::ctl {
namespace {

Json json(std::string_view text) {
  auto parsed = mount::parse_json(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.message());
  return parsed.ok() ? *parsed : Json();
}

constexpr std::string_view kSaved = R"({"image": {"path": "/v/z.img", "save_interval": 600,
  "busy": false, "requests": 2, "requests_done": 2, "saves": 3, "failures": 0, "skipped": 1,
  "loaded": null, "last": {"ok": true, "error": "", "time": 1700000000, "bytes": 395313152,
  "inodes": 78579, "blocks": 317021, "dictionaries": 1, "seconds": 1.234,
  "pause_seconds": 0.045, "sync_seconds": 0.5}}})";

TEST(ImageReport, StatsRow) {
  EXPECT_EQ(image_summary(json(kSaved)),
            "/v/z.img; last saved 377 MiB, 78,579 inodes, 317,021 blocks in 1.23 s (writes "
            "paused 0.045 s); every 600 s when changed");
  EXPECT_EQ(image_summary(json(R"({"image": {"path": "/v/z.img", "last": null}})")),
            "/v/z.img; not saved since mounted");
  EXPECT_EQ(image_summary(json(R"({"image": {"path": "/v/z.img", "last": {"ok": false,
            "error": "cannot write /v/.z.img.zsfs-saving: No space left on device"}}})")),
            "/v/z.img; LAST SAVE FAILED: cannot write /v/.z.img.zsfs-saving: No space left on "
            "device");
  EXPECT_EQ(image_summary(json(R"({"inodes": 1})")), std::nullopt);
}

TEST(ImageReport, Save) {
  bool ok = false;
  EXPECT_EQ(render_save(json(kSaved)["image"], ok),
            "saved /v/z.img: 377 MiB, 78,579 inodes, 317,021 blocks in 1.23 s (writes paused "
            "0.045 s)\n");
  EXPECT_TRUE(ok);
  EXPECT_EQ(
      render_save(json(R"({"path": "/v/z.img", "last": {"ok": false, "error": "boom"}})"), ok),
      "zsfsctl: the save failed: boom\n");
  EXPECT_FALSE(ok);
}

}  // namespace
}  // namespace zsfs::ctl

namespace zsfs::ctl {
namespace {

constexpr std::string_view kBacking = R"({"backing": {"path": "/v/back", "limit_bytes": 0,
  "unit_bytes": 512, "direct_io": true, "bd_count": 1000, "bd_bytes": 2097152,
  "allocated_bytes": 2400000, "file_bytes": 3000000, "disk_bytes": 2500000, "bd_reads": 12,
  "bd_writes": 1500, "read_errors": 0, "promoted": 0,
  "writeback": {"requests": 1, "requests_done": 1}}})";

TEST(BackingReport, StatsRow) {
  EXPECT_EQ(backing_summary(json(kBacking)),
            "/v/back: 2.00 MiB in 1,000 blocks (2.38 MiB on disk); 12 reads, 1,500 writes");
  EXPECT_EQ(backing_summary(json(R"({"backing": {"path": "/b", "bd_bytes": 0, "bd_count": 0,
            "disk_bytes": 4096, "limit_bytes": 1048576, "bd_reads": 3, "bd_writes": 3,
            "promoted": 2, "read_errors": 1, "direct_io": false}})")),
            "/b: 0 B in 0 blocks (4.00 KiB on disk, at most 1.00 MiB); 3 reads, 3 writes, 2 "
            "brought back, 1 CORRUPT READS; no direct I/O");
  EXPECT_EQ(backing_summary(json(R"({"inodes": 1})")), std::nullopt);
}

TEST(BackingReport, Writeback) {
  EXPECT_EQ(render_writeback(json(R"({"backing": {"bd_writes": 500}})"), json(kBacking)),
            "moved 1,000 blocks to the backing file; it holds 2.00 MiB in 1,000 blocks\n");
}

}  // namespace
}  // namespace zsfs::ctl
