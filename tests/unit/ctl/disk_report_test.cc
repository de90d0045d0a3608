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
