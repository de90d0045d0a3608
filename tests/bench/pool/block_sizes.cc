// Sampling and compressing real file blocks.
//
// Owns one zstd context for the length of a call. Invariant: the sample is a deterministic
// function of the file tree (see block_sizes.h).
#include "block_sizes.h"

// ZSTD_c_format (the magicless frame) is in zstd's advanced API.
#define ZSTD_STATIC_LINKING_ONLY
#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

#include <zstd.h>

namespace zsfs::pool::bench {

namespace {

constexpr size_t kBlockSize = 4096;
// Enough blocks per file to see its body, few enough that no single large file dominates.
constexpr size_t kBlocksPerFile = 32;

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool same_filled(const std::array<char, kBlockSize>& block) {
  for (size_t i = 8; i < kBlockSize; i += 8) {
    if (std::memcmp(block.data(), block.data() + i, 8) != 0) return false;
  }
  return true;
}

}  // namespace

BlockSample sample_block_sizes(size_t max_blocks) {
  namespace fs = std::filesystem;
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const char* root : {"/usr/share", "/usr/lib"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator
             it(root, fs::directory_options::skip_permission_denied, ec),
         end;
         it != end; it.increment(ec)) {
      if (ec) break;
      std::error_code type_ec;
      if (it->is_regular_file(type_ec) && !it->is_symlink(type_ec)) {
        files.emplace_back(fnv1a(it->path().string()), it->path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());

  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
  std::array<char, ZSTD_COMPRESSBOUND(kBlockSize)> out;
  std::array<char, kBlockSize> block;

  BlockSample sample;
  for (const auto& [hash, path] : files) {
    if (sample.blocks_read >= max_blocks) break;
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    ++sample.files;
    for (size_t n = 0; n < kBlocksPerFile && sample.blocks_read < max_blocks; ++n) {
      in.read(block.data(), kBlockSize);
      const auto got = static_cast<size_t>(in.gcount());
      if (got == 0) break;
      std::fill(block.begin() + static_cast<std::ptrdiff_t>(got), block.end(), '\0');
      ++sample.blocks_read;
      if (same_filled(block)) {
        ++sample.same_filled;
      } else {
        const size_t size = ZSTD_compress2(cctx, out.data(), out.size(), block.data(), kBlockSize);
        if (!ZSTD_isError(size)) sample.compressed_sizes.push_back(static_cast<uint32_t>(size));
      }
      if (got < kBlockSize) break;
    }
  }
  ZSTD_freeCCtx(cctx);
  return sample;
}

}  // namespace zsfs::pool::bench
