// codec: names, configuration, and the choice between compressed and raw for one block. The
// payloads themselves are made and read in zstd_block.cc and lz4_block.cc; dictionaries,
// same-filled blocks and fingerprints have files of their own.
#include "codec/codec.h"

#include <cerrno>
#include <cstring>

#include <zstd.h>

#include "codec/lz4_block.h"
#include "codec/zstd_block.h"

namespace zsfs::codec {

// Level 3, by measurement (codec_bench compress/L, one core of a 2.1 GHz Xeon, on the Linux 6.1
// source: 78,549 files, 1.30 GB, each padded to whole 4 KiB blocks as zsfs stores them, 1.49 GB):
//
//   level   compress   stored, rounded to the pool's 16-byte classes   bytes/block
//     -1    338 MB/s   432 MB                                          1185
//      1    259 MB/s   358 MB                                           979
//      3    220 MB/s   349 MB                                           954
//      4    148 MB/s   338 MB                                           924
//
// Memory matters most. Negative levels store literals uncompressed: -1 is 30% faster than 1 but
// keeps 21% more, the wrong trade. Level 3 keeps 2.5% less than 1 (9 MB of this tree) for 18% more
// compression time, 3.4 s instead of 2.9 s for the whole tree on 2 cores, and reads back as fast
// (about 640 MB/s at both). Past 3 the trade turns: level 4 saves 3% more for 50% more time (5 s).
// zstd 1.5.4. Reproduce with codec_bench --corpus=FILE --levels=-1,1,3,4 on the padded tree that
// tests/bench/codec/compare_zstd_cli.sh -k builds.
const int kDefaultLevel = 3;

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::kSameFilled:
      return "same_filled";
    case Encoding::kRaw:
      return "raw";
    case Encoding::kZstd:
      return "zstd";
    case Encoding::kLz4:
      return "lz4";
  }
  return "unknown";
}

std::string_view to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kNone:
      return "none";
    case Algorithm::kLz4:
      return "lz4";
    case Algorithm::kZstd:
      return "zstd";
  }
  return "unknown";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  for (Algorithm algorithm : {Algorithm::kNone, Algorithm::kLz4, Algorithm::kZstd}) {
    if (name == to_string(algorithm)) return algorithm;
  }
  return std::nullopt;
}

int min_level() {
  return ZSTD_minCLevel();
}
int max_level() {
  return ZSTD_maxCLevel();
}

Result<Compressor> Compressor::create(const CodecConfig& config) {
  const bool known_algorithm = config.algorithm == Algorithm::kNone ||
                               config.algorithm == Algorithm::kLz4 ||
                               config.algorithm == Algorithm::kZstd;
  if (!known_algorithm || config.level < min_level() || config.level > max_level() ||
      config.raw_threshold_bytes < 1 || config.raw_threshold_bytes > kBlockSize) {
    return Errno{EINVAL};
  }
  return Compressor(config);
}

Compressed Compressor::compress(Block block, MutableBlock out, const Dictionary* dict) const {
  ZSFS_DCHECK(block.data() + block.size() <= out.data() || out.data() + out.size() <= block.data());
  switch (config_.algorithm) {
    case Algorithm::kZstd:
      if (std::optional<size_t> size_bytes =
              zstd_block::encode(block, config_.level, config_.raw_threshold_bytes, out, dict)) {
        return Compressed{Encoding::kZstd, *size_bytes};
      }
      break;
    case Algorithm::kLz4:
      if (std::optional<size_t> size_bytes =
              lz4_block::encode(block, config_.raw_threshold_bytes, out)) {
        return Compressed{Encoding::kLz4, *size_bytes};
      }
      break;
    case Algorithm::kNone:
      break;
  }
  std::memcpy(out.data(), block.data(), kBlockSize);
  return Compressed{Encoding::kRaw, kBlockSize};
}

Status decompress(Encoding encoding, std::span<const std::byte> payload, MutableBlock out,
                  const Dictionary* dict) {
  switch (encoding) {
    case Encoding::kZstd:
      return zstd_block::decode(payload, out, dict);
    case Encoding::kLz4:
      return lz4_block::decode(payload, out);
    case Encoding::kRaw:
      if (payload.size() != kBlockSize) return Errno{EIO};
      std::memcpy(out.data(), payload.data(), kBlockSize);
      return ok_status();
    case Encoding::kSameFilled:
      break;  // decoded by the caller, with fill_block()
  }
  return Errno{EIO};  // kSameFilled, or a tag that is no Encoding at all: a damaged block map
}

void release_thread_contexts() {
  zstd_block::release_thread_contexts();
}

}  // namespace zsfs::codec
