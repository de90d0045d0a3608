// Round trips on real files from this machine: blocks of a bounded number of files found at run
// time under /usr/share and /usr/lib (documentation, locale data, libraries, images, compressed
// archives), at the levels the issue names and with compression off. Skipped, saying why, when no
// such file can be read.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"
#include "tests/unit/codec/test_blocks.h"

namespace zsfs::codec {
namespace {

using testing::BlockBytes;

// Bounds that keep the test well under a second: directory entries looked at and files used per
// root, blocks per file.
constexpr size_t kMaxEntriesVisited = 20000;
constexpr size_t kMaxFilesPerRoot = 8;
constexpr size_t kMaxFilesPerExtension = 2;
constexpr size_t kBlocksPerFile = 16;
constexpr uintmax_t kMinFileBytes = 64 * 1024;

struct RealBlock {
  std::string origin;  // path and offset, for failure messages
  BlockBytes bytes;
};

// Blocks spread evenly over each file, from files of varied kinds (at most a couple per
// extension, so that one directory of man pages does not make up the whole sample).
std::vector<RealBlock> find_real_blocks() {
  std::vector<RealBlock> blocks;
  std::map<std::string, size_t> files_per_extension;
  for (const char* root : {"/usr/share", "/usr/lib"}) {
    size_t files = 0, visited = 0;
    std::error_code error;
    std::filesystem::recursive_directory_iterator it(
        root, std::filesystem::directory_options::skip_permission_denied, error);
    for (; !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (++visited > kMaxEntriesVisited || files == kMaxFilesPerRoot) break;
      std::error_code status_error;
      if (!it->is_regular_file(status_error) || it->is_symlink(status_error)) continue;
      const uintmax_t size = it->file_size(status_error);
      if (status_error || size < kMinFileBytes) continue;
      const std::string extension = it->path().extension().string();
      if (files_per_extension[extension] == kMaxFilesPerExtension) continue;

      std::ifstream file(it->path(), std::ios::binary);
      const uintmax_t nr_blocks = size / kBlockSize;
      const size_t before = blocks.size();
      for (size_t i = 0; i < kBlocksPerFile && i < nr_blocks && file; ++i) {
        const uintmax_t offset = nr_blocks * i / kBlocksPerFile * kBlockSize;
        RealBlock block{it->path().string() + " @" + std::to_string(offset), {}};
        file.seekg(static_cast<std::streamoff>(offset));
        if (file.read(reinterpret_cast<char*>(block.bytes.data()), kBlockSize)) {
          blocks.push_back(std::move(block));
        }
      }
      if (blocks.size() > before) {
        ++files;
        ++files_per_extension[extension];
        std::cout << "real data: " << blocks.size() - before << " blocks of " << it->path() << "\n";
      }
    }
  }
  return blocks;
}

const std::vector<RealBlock>& real_blocks() {
  static const std::vector<RealBlock> blocks = find_real_blocks();
  return blocks;
}

TEST(RealData, RoundTripsAtEveryLevelAndUncompressed) {
  const std::vector<RealBlock>& blocks = real_blocks();
  if (blocks.empty()) GTEST_SKIP() << "no readable file of 64 KiB or more under /usr";

  struct Setting {
    Algorithm algorithm;
    int level;
  };
  const Setting settings[] = {
      {Algorithm::kZstd, -5}, {Algorithm::kZstd, -1}, {Algorithm::kZstd, 1}, {Algorithm::kZstd, 3},
      {Algorithm::kZstd, 9},  {Algorithm::kZstd, 19}, {Algorithm::kNone, 1}};
  for (const Setting& setting : settings) {
    Result<Compressor> compressor =
        Compressor::create(CodecConfig{.algorithm = setting.algorithm, .level = setting.level});
    ASSERT_TRUE(compressor.ok());
    size_t in_bytes = 0, out_bytes = 0;
    for (const RealBlock& block : blocks) {
      SCOPED_TRACE(::testing::Message() << block.origin << ", " << to_string(setting.algorithm)
                                        << " level " << setting.level);
      BlockBytes decoded;
      if (std::optional<uint64_t> word = same_filled_word(block.bytes)) {
        fill_block(*word, decoded);
        ASSERT_EQ(decoded, block.bytes);
        continue;
      }
      BlockBytes payload;
      const Compressed compressed = compressor->compress(block.bytes, payload);
      if (setting.algorithm == Algorithm::kNone) {
        ASSERT_EQ(compressed.encoding, Encoding::kRaw);
      }
      ASSERT_TRUE(
          decompress(compressed.encoding, std::span(payload.data(), compressed.size_bytes), decoded)
              .ok());
      ASSERT_EQ(decoded, block.bytes);
      in_bytes += kBlockSize;
      out_bytes += compressed.size_bytes;
    }
    std::cout << blocks.size() << " real blocks, " << to_string(setting.algorithm) << " level "
              << setting.level << ": ratio "
              << static_cast<double>(in_bytes) / static_cast<double>(out_bytes) << "\n";
  }
}

TEST(RealData, RawThresholdIsExactToTheByte) {
  // zstd is given the threshold's room plus a slack it needs to finish a frame; whatever the
  // block, a payload of S bytes must be kept under a threshold of S + 1 and not under S.
  const std::vector<RealBlock>& blocks = real_blocks();
  if (blocks.empty()) GTEST_SKIP() << "no readable file of 64 KiB or more under /usr";
  for (int level : {-1, 1, 3}) {
    Result<Compressor> unlimited = Compressor::create(CodecConfig{.level = level});
    ASSERT_TRUE(unlimited.ok());
    for (const RealBlock& block : blocks) {
      BlockBytes payload;
      const Compressed compressed = unlimited->compress(block.bytes, payload);
      if (compressed.encoding != Encoding::kZstd) continue;
      const size_t size = compressed.size_bytes;
      Result<Compressor> just_above =
          Compressor::create(CodecConfig{.level = level, .raw_threshold_bytes = size + 1});
      Result<Compressor> at =
          Compressor::create(CodecConfig{.level = level, .raw_threshold_bytes = size});
      ASSERT_TRUE(just_above.ok() && at.ok());
      const Compressed kept = just_above->compress(block.bytes, payload);
      EXPECT_EQ(kept.encoding, Encoding::kZstd) << block.origin << " level " << level;
      EXPECT_EQ(kept.size_bytes, size) << block.origin << " level " << level;
      EXPECT_EQ(at->compress(block.bytes, payload).encoding, Encoding::kRaw)
          << block.origin << " level " << level;
    }
  }
}

TEST(RealData, FingerprintsFollowContent) {
  const std::vector<RealBlock>& blocks = real_blocks();
  if (blocks.empty()) GTEST_SKIP() << "no readable file of 64 KiB or more under /usr";
  for (const RealBlock& a : blocks) {
    EXPECT_EQ(fingerprint(a.bytes), fingerprint(a.bytes));
  }
  // Distinct contents, distinct fingerprints (a collision here would be news).
  for (size_t i = 1; i < blocks.size(); ++i) {
    if (blocks[i].bytes != blocks[i - 1].bytes) {
      EXPECT_NE(fingerprint(blocks[i].bytes), fingerprint(blocks[i - 1].bytes)) << blocks[i].origin;
    }
  }
}

}  // namespace
}  // namespace zsfs::codec
