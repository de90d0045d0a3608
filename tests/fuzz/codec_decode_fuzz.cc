// Fuzz target: the codec's decoder must turn any payload into an error or exactly 4096 bytes,
// never a crash or an out-of-bounds access, for every encoding, with and without a dictionary;
// and any block must survive a round trip through every algorithm, with and without one.
//
// Input: byte 0 (the selector) picks the encoding, the dictionary (none, or one trained once at
// start-up on deterministic text blocks) and, for round trips, the algorithm and level; the rest
// is the payload.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "base/check.h"
#include "codec/codec.h"
#include "codec/dictionary.h"
#include "tests/unit/codec/test_blocks.h"

using zsfs::codec::Algorithm;
using zsfs::codec::Encoding;
using zsfs::codec::kBlockSize;

namespace {

// The levels the round trips use: the dictionary is digested for each.
constexpr int kLevels[] = {-2, 1, 3, 5};

const zsfs::codec::Dictionary& fuzz_dictionary() {
  static const std::unique_ptr<zsfs::codec::Dictionary> dict = [] {
    std::mt19937_64 rng(42);
    std::vector<std::byte> samples;
    for (int i = 0; i < 256; ++i) {
      const auto block = zsfs::codec::testing::text_block(rng);
      samples.insert(samples.end(), block.begin(), block.end());
    }
    auto bytes = zsfs::codec::train_dictionary(samples, 8 << 10, 3);
    ZSFS_CHECK(bytes.ok());
    auto made = zsfs::codec::Dictionary::create(*bytes, kLevels);
    ZSFS_CHECK(made.ok());
    return std::move(*made);
  }();
  return *dict;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const auto* payload = reinterpret_cast<const std::byte*>(data + 1);
  const size_t payload_size = size - 1;
  const zsfs::codec::Dictionary* dict = (selector & 0x80) != 0 ? &fuzz_dictionary() : nullptr;

  // 1. Decode the payload as it is, in the encoding the selector picks. The output buffer has
  //    guard bytes on both sides, which must stay untouched.
  constexpr size_t kGuard = 64;
  std::vector<std::byte> buffer(kBlockSize + 2 * kGuard, std::byte{0xa5});
  zsfs::codec::MutableBlock out(buffer.data() + kGuard, kBlockSize);
  const auto encoding = static_cast<Encoding>(selector % 5);  // 4: no encoding at all
  zsfs::Status decoded = zsfs::codec::decompress(encoding, {payload, payload_size}, out, dict);
  (void)decoded;
  for (size_t i = 0; i < kGuard; ++i) {
    ZSFS_CHECK(buffer[i] == std::byte{0xa5});
    ZSFS_CHECK(buffer[kGuard + kBlockSize + i] == std::byte{0xa5});
  }

  // 2. Round trip: the payload, zero-padded to a block, compressed with the algorithm and level
  //    the selector picks, must decode to itself (with the same dictionary).
  std::byte block[kBlockSize] = {};
  std::memcpy(block, payload, payload_size < kBlockSize ? payload_size : kBlockSize);
  zsfs::codec::CodecConfig config;
  constexpr Algorithm kAlgorithms[] = {Algorithm::kNone, Algorithm::kLz4, Algorithm::kZstd};
  config.algorithm = kAlgorithms[(selector >> 3) % 3];
  config.level = kLevels[(selector >> 5) % 4];
  auto compressor = zsfs::codec::Compressor::create(config);
  ZSFS_CHECK(compressor.ok());
  std::byte encoded[kBlockSize];
  const zsfs::codec::Compressed c =
      compressor->compress(zsfs::codec::Block(block, kBlockSize), std::span(encoded), dict);
  std::byte back[kBlockSize];
  zsfs::Status round = zsfs::codec::decompress(c.encoding, {encoded, c.size_bytes},
                                               zsfs::codec::MutableBlock(back, kBlockSize), dict);
  ZSFS_CHECK(round.ok());
  ZSFS_CHECK(std::memcmp(back, block, kBlockSize) == 0);
  return 0;
}
