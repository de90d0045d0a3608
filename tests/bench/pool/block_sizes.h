// Realistic pool object sizes: real 4 KiB blocks of files on this machine, compressed with zstd as
// zsfs's codec does (level 1, magicless frames, no checksum, no content size, no dictionary id).
//
// Owns nothing but the sample it returns. The sample is deterministic for a given file tree:
// files are visited in the order of a hash of their path (which mixes directories without
// randomness), at most kBlocksPerFile blocks each, the last block zero-padded as the filesystem
// keeps it. Same-filled blocks (one 8-byte word repeated, zeros included) are counted and left
// out: zsfs stores them without the pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zsfs::pool::bench {

struct BlockSample {
  std::vector<uint32_t> compressed_sizes;  // one per block that would reach the pool, 1..~4100
  uint64_t blocks_read = 0;
  uint64_t same_filled = 0;
  uint64_t files = 0;
};

// Up to max_blocks blocks from the files under /usr/share and /usr/lib.
BlockSample sample_block_sizes(size_t max_blocks);

// The size zsfs would store for a block that compresses to compressed_size: the compressed
// frame, or the raw 4 KiB block when compression would not bring it below huge_class_size (the
// codec's raw threshold is tied to the pool's huge class size).
inline uint32_t stored_size(uint32_t compressed_size, size_t huge_class_size) {
  return compressed_size >= huge_class_size ? 4096 : compressed_size;
}

}  // namespace zsfs::pool::bench
