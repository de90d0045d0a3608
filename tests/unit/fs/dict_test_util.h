// Dictionaries for the fs unit tests: text blocks in two unrelated vocabularies (so that a
// dictionary trained on one does little for the other), and a dictionary trained on one.
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "codec/codec.h"
#include "codec/dictionary.h"

namespace zsfs::fs::testing {

using BlockBytes = std::array<std::byte, codec::kBlockSize>;

// A block of words drawn from vocabulary 0 (C-like source) or 1 (number-heavy log lines).
inline BlockBytes vocabulary_block(int vocabulary, uint64_t seed) {
  static constexpr std::string_view kSource[] = {
      "static ",   "int ",    "return ", "struct ",    "if (",  ") {\n",    "}\n",
      "const ",    "void ",   "size_t ", "->",         "++i",   "0x10",     "NULL",
      "unsigned ", "long ",   "page",    "inode",      "block", "lock",     "map",
      "err",       "= ",      "; ",      "/* ",        " */\n", "#define ", "#include <",
      ">\n",       "sizeof(", "kfree(",  "goto out;\n"};
  static constexpr std::string_view kLog[] = {
      "2026-12-05T", "Z ",    "INFO ",  "WARN ",   "status=", "latency_ms=", "bytes=", "id=",
      "GET ",        "POST ", "/api/v", "/users/", " 200 ",   " 404 ",       "\n",     "client=",
      "region=eu-",  "west-", "north-", "ok",      "retry=",  "shard=",      "[",      "]"};
  std::mt19937_64 rng(seed * 2654435761u + static_cast<uint64_t>(vocabulary));
  BlockBytes block{};
  size_t offset = 0;
  while (offset < block.size()) {
    std::string_view word =
        vocabulary == 0 ? kSource[rng() % std::size(kSource)] : kLog[rng() % std::size(kLog)];
    char digits[8];
    if (vocabulary == 1 && rng() % 3 == 0) {
      const int n = static_cast<int>(rng() % 100000);
      word = std::string_view(digits,
                              static_cast<size_t>(std::snprintf(digits, sizeof digits, "%d", n)));
    }
    const size_t n = std::min(word.size(), block.size() - offset);
    std::memcpy(block.data() + offset, word.data(), n);
    offset += n;
  }
  return block;
}

// Dictionary bytes trained on 256 blocks of vocabulary.
inline std::vector<std::byte> trained_dictionary(int vocabulary, size_t size = 8 << 10) {
  std::vector<std::byte> samples;
  for (uint64_t i = 0; i < 256; ++i) {
    const BlockBytes b = vocabulary_block(vocabulary, 1000000 + i);
    samples.insert(samples.end(), b.begin(), b.end());
  }
  Result<std::vector<std::byte>> bytes = codec::train_dictionary(samples, size, 3);
  ZSFS_CHECK(bytes.ok());
  return *bytes;
}

}  // namespace zsfs::fs::testing
