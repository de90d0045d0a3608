// zsfsctl top's frame (ctl/top.h) from two made-up readings: rates from the counters' growth,
// busiest operations first, every other counter and every gauge of the metric table shown by
// its unit, and the frame cut to the terminal's height.
#include "ctl/top.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::ctl {
namespace {

const Json kBefore = {{"mem_used_total", 1 << 20},
                      {"mem_limit", 64 << 20},
                      {"orig_data_size", 4 << 20},
                      {"compression_ratio", 2.5},
                      {"pool_efficiency", 0.5},
                      {"inodes", 12},
                      {"compactions", 1},
                      {"pages_compacted", 9},
                      {"requests", {{"total", 15}, {"lookup", 5}, {"write", 10}, {"read", 0}}}};
// Two seconds later.
const Json kAfter = [] {
  Json after = kBefore;
  after["compactions"] = 3;
  after["pages_compacted"] = 4;  // went down: no rate
  after["requests"] = {{"total", 37}, {"lookup", 7}, {"write", 30}, {"read", 0}};
  return after;
}();

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// The line that starts with prefix, or "" when there is none.
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const std::string& line : lines_of(text)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

TopFrame frame(const Json* previous, const Json& current) {
  TopFrame f;
  f.mount_point = "/mnt/z";
  f.previous = previous;
  f.current = &current;
  f.elapsed_seconds = 2;
  f.interval_seconds = 2;
  f.clock = "12:34:56";
  return f;
}

TEST(Top, TitleMemoryAndData) {
  const std::string text = render_top(frame(&kBefore, kAfter));
  EXPECT_EQ(lines_of(text).at(0), "zsfs top: /mnt/z   every 2 s   12:34:56   (q quits)");
  EXPECT_EQ(line_starting(text, "Memory"), "Memory    1.00 MiB of 64.0 MiB (1.6%)");
  EXPECT_EQ(line_starting(text, "Data"), "Data      4.00 MiB in 1.00 MiB of memory: 4.00:1");
  EXPECT_EQ(line_starting(text, "Files"), "Files     12 inodes");
}

TEST(Top, RequestsPerSecondBusiestFirst) {
  const std::string text = render_top(frame(&kBefore, kAfter));
  // (30 - 10) / 2 s and (7 - 5) / 2 s; the total of the operations, not "total" itself.
  EXPECT_EQ(line_starting(text, "Requests"),
            "Requests                    11/s            37  since mounted");
  const std::vector<std::string> lines = lines_of(text);
  size_t write = 0, lookup = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] == "  write                     10/s            30") write = i;
    if (lines[i] == "  lookup                   1.0/s             7") lookup = i;
  }
  ASSERT_GT(write, 0u) << text;
  ASSERT_GT(lookup, 0u) << text;
  EXPECT_LT(write, lookup);
  EXPECT_EQ(line_starting(text, "  read"), "") << "an operation never served is left out";
}

TEST(Top, EveryOtherCounterIsActivity) {
  const std::string text = render_top(frame(&kBefore, kAfter));
  EXPECT_EQ(line_starting(text, "  compactions"), "  compactions              1.0/s             3");
  EXPECT_EQ(line_starting(text, "  compacted_pages"),
            "  compacted_pages              -             4");
}

TEST(Top, GaugesByTheirUnit) {
  const std::string text = render_top(frame(&kBefore, kAfter));
  EXPECT_NE(text.find("memory_used_bytes              1.00 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("compression_ratio                2.50:1"), std::string::npos) << text;
  EXPECT_NE(text.find("pool_efficiency_ratio             50.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("inodes                               12"), std::string::npos) << text;
}

TEST(Top, FirstFrameHasNoRates) {
  const std::string text = render_top(frame(nullptr, kAfter));
  EXPECT_EQ(line_starting(text, "Requests"),
            "Requests                       -            37  since mounted");
  EXPECT_EQ(line_starting(text, "  write"), "  write                        -            30");
}

TEST(Top, CutToTheTerminalsHeight) {
  TopFrame f = frame(&kBefore, kAfter);
  f.max_lines = 6;
  const std::vector<std::string> lines = lines_of(render_top(f));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[5].rfind("Requests", 0), 0u);
  f.max_lines = 2;  // the title and the three summary lines stay
  EXPECT_EQ(lines_of(render_top(f)).size(), 4u);
  f.max_columns = 12;
  for (const std::string& line : lines_of(render_top(f)))
    EXPECT_LE(line.size(), 12u) << line;
}

TEST(Top, MissingFiguresLeaveTheirLinesOut) {
  const Json bare = {{"inodes", 1}};
  const std::string text = render_top(frame(nullptr, bare));
  EXPECT_EQ(line_starting(text, "Memory"), "");
  EXPECT_EQ(line_starting(text, "Requests"), "");
  EXPECT_EQ(line_starting(text, "Files"), "Files     1 inodes");
}

}  // namespace
}  // namespace zsfs::ctl
