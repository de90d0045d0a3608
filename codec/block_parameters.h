// zsfs_block_parameters(): the compression parameters zsfs digests a zstd dictionary with, for
// the 4 KiB blocks it compresses one at a time.
//
// zstd chooses a level's parameters from a table picked by the size of the input it expects,
// dictionary included (ZSTD_createCDict assumes a 513-byte input). Past 256 KiB it takes the
// table for large inputs, whose search is weaker at some levels (level 15: ZSTD_btopt with matches
// of 5 bytes or more, against ZSTD_btultra with matches of 3 up to 256 KiB). zsfs's inputs are
// 4 KiB blocks whatever the dictionary's size: a dictionary that large keeps the window zstd sizes
// for it, takes the search of the table below where that table's strategy is the stronger (levels
// 2, 4 and 11 to 18), and tables sized for itself rather than for megabytes of input. Measured on
// 4 MB of the Linux 6.1 fs/ext4 sources in 4 KiB blocks, with dictionaries trained on net/:
// smaller at every one of those levels, by 4.3% at level 15 with 256 KiB (486,780 bytes with
// zstd's choice, 465,896 with this) and 4.7% with 512 KiB; the other levels, and every dictionary
// up to 256 KiB, compress exactly as zstd chooses. The tables: on the Linux 6.1 fs/ tree, 256 KiB
// compresses the same with 2^19 slots as with zstd's 2^20, 512 KiB with 2^20 as with 2^21; on the
// ext4 sample, the same at levels 11 to 19 and within 0.1% at 7 to 10, and the form at level 15
// takes 4.2 and 8.4 MB instead of 8.4 and 16.8.
//
// Written in the subset C and C++ share: codec/dictionary.cc digests with it, and so does the
// benchmark's dictionary floor (tests/bench/compare/floor.c, built alone by the system's C
// compiler), which must digest a dictionary exactly as zsfs does.
#pragma once

#include <stddef.h>

#ifndef ZSTD_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getCParams and ZSTD_compressionParameters
#endif
#include <zstd.h>

static inline ZSTD_compressionParameters zsfs_block_parameters(int level, size_t dict_bytes) {
  const unsigned long long assumed_input = 513;
  // The most dictionary that keeps the table for inputs up to 256 KiB (zstd adds 500 bytes).
  const size_t small_table_dict = 256 * 1024 - 513 - 500;
  const size_t block_bytes = 4096;
  ZSTD_compressionParameters params = ZSTD_getCParams(level, assumed_input, dict_bytes);
  if (dict_bytes <= small_table_dict) return params;
  const ZSTD_compressionParameters small = ZSTD_getCParams(level, assumed_input, small_table_dict);
  if (small.strategy > params.strategy) {
    params.strategy = small.strategy;
    params.searchLog = small.searchLog;
    params.minMatch = small.minMatch;
    params.targetLength = small.targetLength;
  }
  // Hash and chain tables of no more than a slot per position of the dictionary and a block.
  unsigned fit = 0;
  for (size_t slots = 1; slots < dict_bytes + block_bytes; slots <<= 1)
    ++fit;
  if (params.hashLog > fit) params.hashLog = fit;
  if (params.chainLog > fit) params.chainLog = fit;
  return params;
}
