// Blocks for the codec tests: every kind of content a filesystem sees (zeros, repeated words, text,
// binaries, random bytes), built deterministically from a seed, and the seed itself: taken from
// ZSFS_TEST_SEED when set, else fresh for each run and printed, so any failure can be replayed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.h"

namespace zsfs::codec::testing {

using BlockBytes = std::array<std::byte, kBlockSize>;

inline uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* env = std::getenv("ZSFS_TEST_SEED"); env != nullptr && *env != '\0') {
      return static_cast<uint64_t>(std::strtoull(env, nullptr, 0));
    }
    std::random_device device;
    return (uint64_t{device()} << 32) | device();
  }();
  static const bool printed = [] {
    std::cout << "codec tests: seed " << seed << " (replay with ZSFS_TEST_SEED=" << seed << ")\n";
    return true;
  }();
  (void)printed;
  return seed;
}

inline BlockBytes word_block(uint64_t word) {
  BlockBytes block;
  for (size_t offset = 0; offset < kBlockSize; offset += sizeof word) {
    std::memcpy(block.data() + offset, &word, sizeof word);
  }
  return block;
}

inline BlockBytes random_block(std::mt19937_64& rng) {
  BlockBytes block;
  for (size_t offset = 0; offset < kBlockSize; offset += 8) {
    const uint64_t word = rng();
    std::memcpy(block.data() + offset, &word, 8);
  }
  return block;
}

// English-like text: words drawn from a small vocabulary, as in source code and documentation.
inline BlockBytes text_block(std::mt19937_64& rng) {
  static constexpr std::string_view kWords[] = {
      "the",    "block",  "is",   "kept",  "compressed", "in",     "memory", "while",
      "struct", "return", "int",  "if",    "else",       "static", "void",   "const",
      "page",   "zstd",   "map",  "inode", "for",        "(i)",    "{",      "}\n",
      ";\n",    "=",      "0x10", "->",    "/* note */", "size_t", "len",    "buffer"};
  BlockBytes block;
  size_t offset = 0;
  while (offset < kBlockSize) {
    std::string_view word = kWords[rng() % std::size(kWords)];
    for (char c : word) {
      if (offset == kBlockSize) break;
      block[offset++] = static_cast<std::byte>(c);
    }
    if (offset < kBlockSize) block[offset++] = std::byte{' '};
  }
  return block;
}

// Whether the block is one 8-byte word repeated, by the plainest possible test (the helpers here
// must not lean on the code under test).
inline bool is_word_repeated(const BlockBytes& block) {
  for (size_t i = 8; i < kBlockSize; ++i) {
    if (block[i] != block[i % 8]) return false;
  }
  return true;
}

// Machine code and data: a block of this test program itself, at a seeded offset (never one of
// the zero-filled stretches an executable also has).
inline BlockBytes binary_block(std::mt19937_64& rng) {
  BlockBytes block{};
  std::ifstream self("/proc/self/exe", std::ios::binary | std::ios::ate);
  const auto size = static_cast<uint64_t>(self.tellg());
  if (!self || size < 2 * kBlockSize) return text_block(rng);  // not expected on Linux
  do {
    self.seekg(static_cast<std::streamoff>(rng() % (size - kBlockSize)));
    self.read(reinterpret_cast<char*>(block.data()), kBlockSize);
  } while (is_word_repeated(block));
  return block;
}

// Mostly zeros with a few scattered values, as in sparse tables and padded structures.
inline BlockBytes sparse_block(std::mt19937_64& rng) {
  BlockBytes block{};
  for (int i = 0; i < 64; ++i)
    block[rng() % kBlockSize] = static_cast<std::byte>(rng());
  return block;
}

// A short random pattern repeated (period 16, so not same-filled): compresses extremely well.
inline BlockBytes periodic_block(std::mt19937_64& rng) {
  BlockBytes block;
  const uint64_t a = rng(), b = rng();
  for (size_t offset = 0; offset < kBlockSize; offset += 16) {
    std::memcpy(block.data() + offset, &a, 8);
    std::memcpy(block.data() + offset + 8, &b, 8);
  }
  return block;
}

struct NamedBlock {
  std::string name;
  BlockBytes bytes;
};

// One block of each kind; random is the only incompressible one.
inline std::vector<NamedBlock> sample_blocks(std::mt19937_64& rng) {
  return {
      {"zeros", word_block(0)},      {"word", word_block(0x0123456789abcdefULL)},
      {"text", text_block(rng)},     {"binary", binary_block(rng)},
      {"sparse", sparse_block(rng)}, {"periodic", periodic_block(rng)},
      {"random", random_block(rng)},
  };
}

}  // namespace zsfs::codec::testing
