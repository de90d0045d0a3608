// The codec tiers on a real mount: what a write stores is lz4; zsfsctl recompress --wait turns
// it into zstd against a dictionary trained on the mount's own files, with less memory and every
// byte intact; the dictionary can be exported and is a zstd dictionary; the automatic pass
// settles blocks after recompress_after; the request's filters and permissions; recompress=off.
#include <sys/xattr.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

using mount::json_member;
using mount::json_u64;

uint64_t u64(const Json& json, const std::string& name) {
  const auto value = json_u64(json, name);
  EXPECT_TRUE(value) << "no integer " << name;
  return value.value_or(0);
}

Json stats(const ZsfsMount& m) {
  settle(m.path());
  return read_json_xattr(m.path(), "user.zsfs.stats");
}

uint64_t encoding_blocks(const Json& s, const char* encoding) {
  return u64(*json_member(*json_member(s, "encodings"), encoding), "blocks");
}

// 24 files of 1 MiB of text-like data: more than the 16 MiB the daemon wants before it trains a
// dictionary.
std::vector<std::pair<std::string, uint64_t>> write_tree(const std::string& root) {
  std::vector<std::pair<std::string, uint64_t>> files;
  for (int i = 0; i < 24; ++i) {
    const std::string path = root + "/file" + std::to_string(i);
    const std::string data = compressible_data(1 << 20, static_cast<uint64_t>(i) * 256);
    write_file(path, data);
    files.emplace_back(path, checksum(data.data(), data.size()));
  }
  return files;
}

void expect_intact(const std::vector<std::pair<std::string, uint64_t>>& files) {
  for (const auto& [path, sum] : files) {
    const std::string data = read_file(path);
    EXPECT_EQ(checksum(data.data(), data.size()), sum) << path;
  }
}

// Text of words drawn at random from a vocabulary of 512 made-up words: long matches are rare,
// so lz4 keeps it at 1.3:1, while zstd's entropy coding gets 2:1 (zstd -b9 -B4096, lz4 -b1
// -B4096 on such text).
std::string word_salad(size_t size, uint64_t seed) {
  static const std::vector<std::string> vocabulary = [] {
    std::vector<std::string> words;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 512; ++i) {
      std::string word;
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      for (uint64_t n = 3 + x % 6, y = x; n > 0; --n, y /= 26)
        word += static_cast<char>('a' + y % 26);
      words.push_back(word);
    }
    return words;
  }();
  std::string text;
  uint64_t x = seed * 2654435761u + 1;
  while (text.size() < size) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    text += vocabulary[x % vocabulary.size()];
    text += (x >> 20) % 12 == 0 ? ".\n" : " ";
  }
  text.resize(size);
  return text;
}

class RecompressTest : public ZsfsTest {};

TEST_F(RecompressTest, RecompressWaitTrainsADictionaryAndKeepsEveryByte) {
  // lz4 everywhere first, so that every block has a tier to climb.
  ZSFS_START_OR_SKIP(zsfs_, "size=256M,compress=lz4,recompress_after=off,dict_size=32k");
  const auto files = write_tree(zsfs_.path());
  const Json before = stats(zsfs_);
  EXPECT_GT(encoding_blocks(before, "lz4"), 6000u);
  EXPECT_EQ(encoding_blocks(before, "zstd"), 0u);
  EXPECT_EQ(u64(before, "unsettled_blocks"), u64(before, "unique_blocks"));

  const RunResult result = zsfsctl({"recompress", "--wait", zsfs_.path()});
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("Recompressed"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("1 trained"), std::string::npos) << result.output;

  const Json after = stats(zsfs_);
  EXPECT_EQ(u64(after, "unsettled_blocks"), 0u);
  EXPECT_GT(encoding_blocks(after, "zstd"), 6000u);
  EXPECT_LT(u64(after, "compr_data_size"), u64(before, "compr_data_size") * 3 / 4);
  const Json& dictionaries = *json_member(after, "dictionaries");
  EXPECT_EQ(u64(dictionaries, "live"), 1u);
  EXPECT_GT(u64(after, "dictionary_bytes"), 32u << 10);
  expect_intact(files);

  // The dictionary, exported: a zstd dictionary (magic 0xEC30A437, little-endian) of the size
  // the statistics give.
  TempDir out;
  const std::string dict = out.path() + "/dict";
  const RunResult exported = zsfsctl({"dict", "export", zsfs_.path(), dict});
  ASSERT_EQ(exported.status, 0) << exported.output;
  const std::string bytes = read_file(dict);
  const Json& entry = (*json_member(dictionaries, "list"))[0];
  EXPECT_EQ(bytes.size(), u64(entry, "size_bytes"));
  ASSERT_GE(bytes.size(), 4u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x37\xa4\x30\xec", 4));
  // zstd itself can use it on the same kind of data.
  const std::string sample = shell_quote(files[0].first);
  const RunResult zstd_check =
      sh("command -v zstd >/dev/null || exit 0; cd " + shell_quote(out.path()) +
         "; zstd -q -D dict -o packed " + sample + " && zstd -q -d -D dict -o unpacked packed" +
         " && cmp unpacked " + sample);
  EXPECT_EQ(zstd_check.status, 0) << zstd_check.output;

  // A second request finds nothing left to do.
  const RunResult again = zsfsctl({"recompress", "--wait", "--json", zsfs_.path()});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(u64(*json_member(stats(zsfs_), "recompressor"), "tried"),
            u64(*json_member(after, "recompressor"), "tried"));
}

TEST_F(RecompressTest, TheAutomaticPassSettlesIdleBlocks) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,recompress_after=1");
  write_file(zsfs_.path() + "/a", compressible_data(2 << 20));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (u64(stats(zsfs_), "unsettled_blocks") != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "blocks never recompressed";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const Json s = stats(zsfs_);
  EXPECT_GT(encoding_blocks(s, "zstd"), 0u);
  EXPECT_EQ(u64(*json_member(s, "dictionaries"), "live"), 0u);  // 2 MiB: too little to train on
  EXPECT_EQ(read_file(zsfs_.path() + "/a"), compressible_data(2 << 20));
}

TEST_F(RecompressTest, FiltersPermissionsAndBadRequests) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,recompress_after=off");
  write_file(zsfs_.path() + "/text", compressible_data(1 << 20));
  write_file(zsfs_.path() + "/random", random_data(1 << 20, 7));
  // Nothing is an hour old.
  ASSERT_EQ(zsfsctl({"recompress", "--wait", "--idle", "3600", zsfs_.path()}).status, 0);
  EXPECT_EQ(u64(*json_member(stats(zsfs_), "recompressor"), "tried"), 0u);
  // The huge (raw) blocks only: the random file's 256.
  ASSERT_EQ(zsfsctl({"recompress", "--wait", "--huge", zsfs_.path()}).status, 0);
  const Json s = stats(zsfs_);
  EXPECT_EQ(u64(*json_member(s, "recompressor"), "tried"), 256u);
  EXPECT_EQ(u64(s, "unsettled_blocks"), 256u);  // the text waits

  // Bad values are EINVAL, and only the mount point takes requests.
  const std::string root = zsfs_.path();
  for (const char* bad : {"idle=", "idle=-1", "idle=1x", "huge,", "fast", "idle=1,bogus"}) {
    errno = 0;
    EXPECT_EQ(setxattr(root.c_str(), "user.zsfs.recompress", bad, std::strlen(bad), 0), -1) << bad;
    EXPECT_EQ(errno, EINVAL) << bad;
  }
  const std::string file = root + "/text";
  EXPECT_EQ(setxattr(file.c_str(), "user.zsfs.recompress", "", 0, 0), -1);
  EXPECT_EQ(errno, EPERM);
  // Another user may not, even where the directory lets them write.
  const RunResult other = zsfsctl({"recompress", root}, RunOptions{}.as_user(65534, 65534));
  EXPECT_EQ(other.status, 2) << other.output;
  EXPECT_NE(other.output.find("permission denied"), std::string::npos) << other.output;
  // No dictionary yet: export says why.
  TempDir out;
  const RunResult none = zsfsctl({"dict", "export", root, out.path() + "/d"});
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.output.find("no current dictionary yet"), std::string::npos) << none.output;
}

TEST_F(RecompressTest, AFullBudgetRecompressesBeforeItRefusesAWrite) {
  // lz4 alone would keep 24 MiB of this text in 18.5 MiB, more than the 16 MiB budget; zstd at
  // level 9 in 12 MiB. Writers that find the budget full recompress what is stored (direct
  // recompression) before they give up.
  ZSFS_START_OR_SKIP(zsfs_, "size=16M,compress=lz4,recompress_after=off");
  constexpr int kFiles = 24;
  for (int i = 0; i < kFiles; ++i) {
    int err = 0;
    const std::string path = zsfs_.path() + "/w" + std::to_string(i);
    ASSERT_EQ(write_until_error(path, word_salad(1 << 20, static_cast<uint64_t>(i)), err), 1u << 20)
        << "file " << i << ": " << errno_name(err);
  }
  const Json s = stats(zsfs_);
  EXPECT_EQ(u64(s, "orig_data_size"), uint64_t{kFiles} << 20);
  const Json& r = *json_member(s, "recompressor");
  EXPECT_GT(u64(r, "reclaims"), 0u);
  EXPECT_GT(u64(r, "reclaimed_bytes"), 2u << 20);
  EXPECT_LE(u64(s, "mem_used_total"), 16u << 20);
  for (int i = 0; i < kFiles; i += 5) {
    const std::string path = zsfs_.path() + "/w" + std::to_string(i);
    EXPECT_EQ(read_file(path), word_salad(1 << 20, static_cast<uint64_t>(i))) << i;
  }
}

TEST_F(RecompressTest, RequestsAreRefusedWhenRecompressionIsOff) {
  ZSFS_START_OR_SKIP(zsfs_, "size=64M,recompress=off");
  const RunResult result = zsfsctl({"recompress", "--wait", zsfs_.path()});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("recompression is off on this mount"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace zsfs::test
