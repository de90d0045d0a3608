// The statistics users can read: the virtual user.zsfs.* xattrs and zsfsctl's output, checked
// against what was written (zeros cost no pool memory; a second copy costs no new compressed
// bytes), and the rules around them (not listed; read-only; actions for root and the owner).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

using mount::json_bool;
using mount::json_i64;
using mount::json_member;
using mount::json_string;
using mount::json_u64;

// Every field fs/stats.h promises in user.zsfs.stats and user.zsfs.file.
const std::vector<std::string> kStatsFields = {
    "orig_data_size",   "compr_data_size",  "mem_used_total",      "mem_limit",
    "staged_blocks",    "mem_used_max",     "same_pages",          "pages_compacted",
    "huge_pages",       "logical_bytes",    "hole_bytes",          "data_blocks",
    "unique_blocks",    "shared_refs",      "dedup_saved_bytes",   "inodes",
    "inode_limit",      "pool_pages",       "metadata_bytes",      "inode_bytes",
    "block_map_bytes",  "dedup_bytes",      "pool_metadata_bytes", "compactions",
    "dictionary_bytes", "unsettled_blocks", "recompress_level",    "dict_size"};
const std::vector<std::string> kFileFields = {"ino",          "files",         "logical_bytes",
                                              "data_blocks",  "same_blocks",   "stored_blocks",
                                              "stored_bytes", "shared_blocks", "hole_bytes"};

uint64_t field(const Json& json, const std::string& name) {
  const auto value = json_u64(json, name);
  EXPECT_TRUE(value) << "no integer " << name << " in " << to_json_text(json);
  return value.value_or(0);
}

// Settled statistics: what was written has been compressed and deduplicated.
Json stats(const ZsfsMount& m) {
  settle(m.path());
  return read_json_xattr(m.path(), "user.zsfs.stats");
}
Json file_stats(const std::string& path) {
  return read_json_xattr(path, "user.zsfs.file");
}

class StatsTest : public ZsfsTest {};

TEST_F(StatsTest, StatsHaveEveryField) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,nr_inodes=5000,compress=zstd,level=5,dedup=on");
  const Json s = stats(zsfs_);
  for (const auto& name : kStatsFields)
    field(s, name);
  ASSERT_NE(json_member(s, "pool_efficiency"), nullptr);
  ASSERT_NE(json_string(s, "algorithm"), nullptr);
  EXPECT_EQ(*json_string(s, "algorithm"), "zstd");
  EXPECT_EQ(json_i64(s, "level"), 5);
  EXPECT_EQ(json_bool(s, "dedup"), true);
  EXPECT_EQ(*json_string(s, "recompress"), "zstd");
  EXPECT_EQ(json_i64(s, "recompress_after"), 60);
  EXPECT_EQ(json_bool(s, "dict"), true);
  for (const char* encoding : {"raw", "lz4", "zstd"}) {
    const Json* e = json_member(*json_member(s, "encodings"), encoding);
    ASSERT_NE(e, nullptr) << encoding;
    field(*e, "blocks");
    field(*e, "stored_bytes");
    field(*e, "data_bytes");
  }
  const Json* dictionaries = json_member(s, "dictionaries");
  ASSERT_NE(dictionaries, nullptr);
  EXPECT_EQ(field(*dictionaries, "live"), 0u);
  ASSERT_NE(json_member(*dictionaries, "list"), nullptr);
  const Json* recompressor = json_member(s, "recompressor");
  ASSERT_NE(recompressor, nullptr);
  for (const char* name :
       {"passes", "requests", "requests_done", "tried", "kept", "failed", "bytes_before",
        "bytes_after", "trainings", "training_failures", "trainings_discarded"}) {
    field(*recompressor, name);
  }
  EXPECT_EQ(field(s, "mem_limit"), 64u << 20);
  EXPECT_EQ(field(s, "inode_limit"), 5000u);
  EXPECT_EQ(field(s, "inodes"), 1u);  // the root
  EXPECT_LE(field(s, "mem_used_total"), field(s, "mem_limit"));
  const Json f = file_stats(zsfs_.path());
  for (const auto& name : kFileFields)
    field(f, name);
  EXPECT_EQ(json_bool(f, "directory"), true);
}

TEST_F(StatsTest, ZerosCostNoPoolMemory) {
  ZSFS_START_OR_SKIP(zsfs_);
  const Json before = stats(zsfs_);
  write_file(zsfs_.path() + "/zeros", std::string(16 << 20, '\0'));
  write_file(zsfs_.path() + "/ones", std::string(4 << 20, '\x01'));
  const Json after = stats(zsfs_);
  EXPECT_EQ(field(after, "same_pages") - field(before, "same_pages"), 5120u);
  EXPECT_EQ(field(after, "data_blocks") - field(before, "data_blocks"), 5120u);
  EXPECT_EQ(field(after, "unique_blocks"), field(before, "unique_blocks"));
  EXPECT_EQ(field(after, "compr_data_size"), field(before, "compr_data_size"));
  EXPECT_EQ(field(after, "pool_pages"), field(before, "pool_pages"));
  EXPECT_EQ(field(after, "logical_bytes"), 20u << 20);
  const Json f = file_stats(zsfs_.path() + "/zeros");
  EXPECT_EQ(field(f, "same_blocks"), 4096u);
  EXPECT_EQ(field(f, "stored_blocks"), 0u);
  EXPECT_EQ(field(f, "stored_bytes"), 0u);
}

TEST_F(StatsTest, SecondCopyCostsNoCompressedBytes) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string a = zsfs_.path() + "/a";
  write_file(a, compressible_data(8 << 20));
  const Json one = stats(zsfs_);
  EXPECT_EQ(field(one, "unique_blocks"), 2048u);
  EXPECT_GT(field(one, "compr_data_size"), 0u);
  EXPECT_LT(field(one, "compr_data_size"), 8u << 20);

  // A copy through read(2) and write(2) (dd; cat and cp would use copy_file_range): dedup finds
  // every block.
  ASSERT_EQ(run({"dd", "if=" + a, "of=" + zsfs_.path() + "/b", "bs=1M", "status=none"}).status, 0);
  const Json two = stats(zsfs_);
  EXPECT_EQ(field(two, "unique_blocks"), field(one, "unique_blocks"));
  EXPECT_EQ(field(two, "compr_data_size"), field(one, "compr_data_size"));
  EXPECT_EQ(field(two, "shared_refs") - field(one, "shared_refs"), 2048u);
  EXPECT_EQ(field(two, "dedup_saved_bytes") - field(one, "dedup_saved_bytes"), 8u << 20);

  // A copy through copy_file_range (cp and cat do that): blocks shared by reference.
  ASSERT_EQ(run({"cp", a, zsfs_.path() + "/c"}).status, 0);
  const Json three = stats(zsfs_);
  EXPECT_EQ(field(three, "unique_blocks"), field(one, "unique_blocks"));
  EXPECT_EQ(field(three, "compr_data_size"), field(one, "compr_data_size"));
  EXPECT_EQ(field(three, "orig_data_size"), 3 * (8u << 20));

  const Json b = file_stats(zsfs_.path() + "/b");
  EXPECT_EQ(field(b, "data_blocks"), 2048u);
  EXPECT_EQ(field(b, "stored_blocks"), 2048u);
  EXPECT_EQ(field(b, "shared_blocks"), 2048u);
  EXPECT_EQ(read_file(zsfs_.path() + "/c"), read_file(a));
}

TEST_F(StatsTest, WithoutDedupACopyCostsItsOwnBytes) {
  ZSFS_START_OR_SKIP(zsfs_, "size=256M,dedup=off");
  const std::string a = zsfs_.path() + "/a";
  write_file(a, compressible_data(4 << 20));
  const uint64_t unique = stat_field(zsfs_.path(), "unique_blocks");
  ASSERT_EQ(run({"dd", "if=" + a, "of=" + zsfs_.path() + "/b", "bs=1M", "status=none"}).status, 0);
  EXPECT_EQ(stat_field(zsfs_.path(), "unique_blocks"), 2 * unique);
  EXPECT_EQ(stat_field(zsfs_.path(), "shared_refs"), 0u);
  // copy_file_range still shares whole blocks by reference, dedup or not.
  ASSERT_EQ(run({"cp", a, zsfs_.path() + "/c"}).status, 0);
  EXPECT_EQ(stat_field(zsfs_.path(), "unique_blocks"), 2 * unique);
}

TEST_F(StatsTest, DirectoryTotalsAndHoles) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string d = zsfs_.path() + "/d";
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((d + "/sub").c_str(), 0755), 0);
  write_file(d + "/one", compressible_data(10000));
  write_file(d + "/sub/two", compressible_data(20000, 100));
  ASSERT_EQ(truncate((d + "/sub/sparse").c_str(), 0), -1);  // does not exist yet
  const int fd = open((d + "/sub/sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_EQ(pwrite(fd, "x", 1, 1 << 20), 1);
  close(fd);
  const Json dir = file_stats(d);
  EXPECT_EQ(json_bool(dir, "directory"), true);
  EXPECT_EQ(field(dir, "files"), 3u);
  EXPECT_EQ(field(dir, "logical_bytes"), 10000u + 20000u + (1u << 20) + 1);
  EXPECT_EQ(field(dir, "hole_bytes"), 1u << 20);
  const Json sparse = file_stats(d + "/sub/sparse");
  EXPECT_EQ(json_bool(sparse, "directory"), false);
  EXPECT_EQ(field(sparse, "files"), 1u);
  EXPECT_EQ(field(sparse, "data_blocks"), 1u);
}

TEST_F(StatsTest, VirtualAttributesAreHiddenAndReadOnly) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string root = zsfs_.path();
  char names[4096];
  EXPECT_EQ(listxattr(root.c_str(), names, sizeof names), 0) << "the root lists attributes";
  ASSERT_EQ(setxattr(root.c_str(), "user.mine", "1", 1, 0), 0);
  const ssize_t n = listxattr(root.c_str(), names, sizeof names);
  EXPECT_EQ(std::string(names, static_cast<size_t>(std::max<ssize_t>(n, 0))),
            std::string("user.mine\0", 10));
  for (const char* name : {"user.zsfs.stats", "user.zsfs.classes", "user.zsfs.file",
                           "user.zsfs.compact", "user.zsfs.check"}) {
    EXPECT_EQ(setxattr(root.c_str(), name, "x", 1, 0), -1) << name;
    EXPECT_EQ(errno, EPERM) << name << ": " << errno_name(errno);
    EXPECT_EQ(removexattr(root.c_str(), name), -1) << name;
    EXPECT_EQ(errno, EPERM) << name << ": " << errno_name(errno);
  }
  // A size query gives an upper bound; a buffer that is too small gives ERANGE.
  const ssize_t bound = getxattr(root.c_str(), "user.zsfs.stats", nullptr, 0);
  ASSERT_GT(bound, 0) << errno_name(errno);
  std::string value(static_cast<size_t>(bound), '\0');
  const ssize_t got = getxattr(root.c_str(), "user.zsfs.stats", value.data(), value.size());
  EXPECT_GT(got, 0);
  EXPECT_LE(got, bound);
  char tiny[4];
  EXPECT_EQ(getxattr(root.c_str(), "user.zsfs.stats", tiny, sizeof tiny), -1);
  EXPECT_EQ(errno, ERANGE);
  // Pool-wide figures live on the root only.
  ASSERT_EQ(mkdir((root + "/d").c_str(), 0755), 0);
  EXPECT_EQ(getxattr((root + "/d").c_str(), "user.zsfs.stats", names, sizeof names), -1);
  EXPECT_EQ(errno, ENODATA);
  // getfattr -d (all user.* attributes) shows only the real one.
  RunResult dump = run({"getfattr", "-d", root});
  EXPECT_EQ(dump.output.find("user.zsfs"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("user.mine"), std::string::npos) << dump.output;
}

TEST_F(StatsTest, ZsfsctlStats) {
  ZSFS_START_OR_SKIP(zsfs_, "size=128M");
  write_file(zsfs_.path() + "/f", compressible_data(1 << 20));
  RunResult text = zsfsctl({"stats", zsfs_.path()});
  ASSERT_EQ(text.status, 0) << text.output;
  for (const char* line : {"Mounted on", "Compression", "zstd", "Memory used", "of 128 MiB",
                           "Inodes", "Data ", "stored", "Data to memory"}) {
    EXPECT_NE(text.output.find(line), std::string::npos) << line << " missing in:\n" << text.output;
  }
  RunResult json = zsfsctl({"stats", "--json", zsfs_.path()});
  ASSERT_EQ(json.status, 0) << json.output;
  auto parsed = mount::parse_json(json.output);
  ASSERT_TRUE(parsed.ok()) << json.output;
  EXPECT_EQ(json_u64(*parsed, "mem_limit"), 128u << 20);
  EXPECT_EQ(json_u64(*parsed, "orig_data_size"), 1u << 20);
}

// The FUSE request counts follow the system calls that cause them: each unlink(2) of a name the
// kernel has cached is one UNLINK, each getxattr(2) of a name that does not exist one GETXATTR.
TEST_F(StatsTest, RequestCountsFollowTheSystemCalls) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string f = zsfs_.path() + "/f";
  write_file(f, "x");
  constexpr uint64_t kFiles = 25;
  for (uint64_t i = 0; i < kFiles; ++i)
    write_file(zsfs_.path() + "/u" + std::to_string(i), "data");

  auto requests = [&] {
    const Json s = read_json_xattr(zsfs_.path(), "user.zsfs.stats");
    const Json* r = json_member(s, "requests");
    EXPECT_NE(r, nullptr) << to_json_text(s);
    return r != nullptr ? *r : Json{};
  };
  const Json before = requests();
  uint64_t sum = 0;
  for (const auto& [name, value] : before.items()) {
    if (name != "total") sum += field(before, name);
  }
  EXPECT_EQ(field(before, "total"), sum);
  EXPECT_GE(field(before, "write"), kFiles + 1);

  constexpr uint64_t kGets = 100;
  char buf[16];
  for (uint64_t i = 0; i < kGets; ++i) {
    ASSERT_EQ(getxattr(f.c_str(), "user.missing", buf, sizeof buf), -1);
    ASSERT_EQ(errno, ENODATA);
  }
  for (uint64_t i = 0; i < kFiles; ++i)
    ASSERT_EQ(unlink((zsfs_.path() + "/u" + std::to_string(i)).c_str()), 0);
  const Json after = requests();
  EXPECT_EQ(field(after, "unlink") - field(before, "unlink"), kFiles);
  // The second reading of the statistics is one more getxattr.
  EXPECT_EQ(field(after, "getxattr") - field(before, "getxattr"), kGets + 1);
  EXPECT_EQ(field(after, "write"), field(before, "write"));
  EXPECT_GE(field(after, "total") - field(before, "total"), kGets + 1 + kFiles);

  RunResult text = zsfsctl({"stats", zsfs_.path()});
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("FUSE requests"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("getxattr "), std::string::npos) << text.output;
}

TEST_F(StatsTest, ZsfsctlDu) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string d = zsfs_.path() + "/dir";
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  write_file(d + "/a", compressible_data(1 << 20));
  write_file(d + "/b", compressible_data(1 << 20));  // the same blocks as a
  ASSERT_EQ(symlink("a", (d + "/link").c_str()), 0);
  RunResult du = zsfsctl({"du", d + "/a", d, d + "/link"});
  ASSERT_EQ(du.status, 0) << du.output;
  EXPECT_NE(du.output.find("Stored%"), std::string::npos) << du.output;
  EXPECT_NE(du.output.find(d + "/a\n"), std::string::npos) << du.output;
  EXPECT_NE(du.output.find(d + "\n"), std::string::npos) << du.output;
  EXPECT_NE(du.output.find("total\n"), std::string::npos) << du.output;
  EXPECT_EQ(du.output.find("link"), std::string::npos) << "symlinks hold no data";
  RunResult json = zsfsctl({"du", "--json", d});
  ASSERT_EQ(json.status, 0) << json.output;
  auto parsed = mount::parse_json(json.output);
  ASSERT_TRUE(parsed.ok() && parsed->is_array() && parsed->size() == 1) << json.output;
  const Json& row = parsed->at(0);
  EXPECT_EQ(*json_string(row, "path"), d);
  EXPECT_EQ(json_u64(row, "files"), 2u);
  EXPECT_EQ(json_u64(row, "logical_bytes"), 2u << 20);
  EXPECT_EQ(json_u64(row, "shared_blocks"), 512u);
}

TEST_F(StatsTest, ZsfsctlClassesCompactCheck) {
  ZSFS_START_OR_SKIP(zsfs_);
  for (int i = 0; i < 200; ++i) {
    write_file(zsfs_.path() + "/f" + std::to_string(i),
               compressible_data(20000, static_cast<uint64_t>(i) * 10));
  }
  for (int i = 0; i < 200; i += 2)
    unlink((zsfs_.path() + "/f" + std::to_string(i)).c_str());
  RunResult classes = zsfsctl({"classes", zsfs_.path()});
  EXPECT_EQ(classes.status, 0) << classes.output;
  EXPECT_FALSE(classes.output.empty());
  RunResult compact = zsfsctl({"compact", zsfs_.path()});
  EXPECT_EQ(compact.status, 0) << compact.output;
  EXPECT_NE(compact.output.find("compacted: "), std::string::npos) << compact.output;
  EXPECT_NE(compact.output.find(" pages freed ("), std::string::npos) << compact.output;
  RunResult compact_json = zsfsctl({"compact", "--json", zsfs_.path()});
  EXPECT_EQ(compact_json.status, 0);
  auto parsed = mount::parse_json(compact_json.output);
  ASSERT_TRUE(parsed.ok()) << compact_json.output;
  EXPECT_TRUE(json_u64(*parsed, "pages_freed")) << compact_json.output;
  RunResult check = zsfsctl({"check", zsfs_.path()});
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(check.output, "consistent\n");
  RunResult check_json = zsfsctl({"check", "--json", zsfs_.path()});
  EXPECT_EQ(check_json.status, 0) << check_json.output;
  EXPECT_TRUE(mount::parse_json(check_json.output).ok()) << check_json.output;
  // Everything still reads back after compaction moved objects around.
  for (int i = 1; i < 200; i += 2) {
    EXPECT_TRUE(read_file(zsfs_.path() + "/f" + std::to_string(i)) ==
                compressible_data(20000, static_cast<uint64_t>(i) * 10))
        << i;
  }
}

TEST_F(StatsTest, ZsfsctlErrors) {
  ZSFS_START_OR_SKIP(zsfs_);
  RunResult not_zsfs = zsfsctl({"stats", "/proc"});
  EXPECT_EQ(not_zsfs.status, 2);
  EXPECT_NE(not_zsfs.output.find("'/proc' is not on a zsfs mount"), std::string::npos)
      << not_zsfs.output;
  ASSERT_EQ(mkdir((zsfs_.path() + "/sub").c_str(), 0755), 0);
  RunResult inside = zsfsctl({"stats", zsfs_.path() + "/sub"});
  EXPECT_EQ(inside.status, 2);
  EXPECT_NE(inside.output.find("is inside a zsfs mount but is not its mount point"),
            std::string::npos)
      << inside.output;
  RunResult missing = zsfsctl({"du", zsfs_.path() + "/missing"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("cannot access"), std::string::npos) << missing.output;
  RunResult no_command = zsfsctl({});
  EXPECT_EQ(no_command.status, 1);
  RunResult bad_command = zsfsctl({"frobnicate", zsfs_.path()});
  EXPECT_EQ(bad_command.status, 1) << bad_command.output;
  RunResult no_path = zsfsctl({"stats"});
  EXPECT_EQ(no_path.status, 1) << no_path.output;
  EXPECT_EQ(zsfsctl({"--help"}).status, 0);
  EXPECT_EQ(zsfsctl({"--version"}).status, 0);
}

TEST_F(StatsTest, ActionsAreForRootAndTheOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,allow_other");
  RunOptions as_nobody;
  as_nobody.as_user(65534, 65534);
  RunResult compact = zsfsctl({"compact", zsfs_.path()}, as_nobody);
  EXPECT_EQ(compact.status, 2) << compact.output;
  EXPECT_NE(compact.output.find("permission denied"), std::string::npos) << compact.output;
  RunResult check = zsfsctl({"check", zsfs_.path()}, as_nobody);
  EXPECT_EQ(check.status, 2) << check.output;
  RunResult stats = zsfsctl({"stats", zsfs_.path()}, as_nobody);
  EXPECT_EQ(stats.status, 0) << "statistics are for everyone: " << stats.output;
}

}  // namespace
}  // namespace zsfs::test
