// Fuzz target: the codec's decoder must turn any payload into an error or exactly 4096 bytes,
// never a crash or an out-of-bounds access; and any block must survive a round trip.
//
// Input: byte 0 picks the encoding (and, for round trips, the level); the rest is the payload.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "codec/codec.h"

using zsfs::codec::Encoding;
using zsfs::codec::kBlockSize;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const auto* payload = reinterpret_cast<const std::byte*>(data + 1);
  const size_t payload_size = size - 1;

  // 1. Decode the payload as it is, in every encoding. The output buffer has guard bytes on
  //    both sides, which must stay untouched.
  constexpr size_t kGuard = 64;
  std::vector<std::byte> buffer(kBlockSize + 2 * kGuard, std::byte{0xa5});
  zsfs::codec::MutableBlock out(buffer.data() + kGuard, kBlockSize);
  const Encoding encoding = static_cast<Encoding>(selector % 4);
  zsfs::Status decoded = zsfs::codec::decompress(encoding, {payload, payload_size}, out);
  (void)decoded;
  for (size_t i = 0; i < kGuard; ++i) {
    ZSFS_CHECK(buffer[i] == std::byte{0xa5});
    ZSFS_CHECK(buffer[kGuard + kBlockSize + i] == std::byte{0xa5});
  }

  // 2. Round trip: the payload, zero-padded to a block, compressed at a level picked by the
  //    selector, must decode to itself.
  std::byte block[kBlockSize] = {};
  std::memcpy(block, payload, payload_size < kBlockSize ? payload_size : kBlockSize);
  zsfs::codec::CodecConfig config;
  config.level = static_cast<int>(selector % 8) - 2;  // -2 .. 5
  if (config.level == 0) config.level = 1;
  auto compressor = zsfs::codec::Compressor::create(config);
  ZSFS_CHECK(compressor.ok());
  std::byte encoded[kBlockSize];
  const zsfs::codec::Compressed c =
      compressor->compress(zsfs::codec::Block(block, kBlockSize), std::span(encoded));
  std::byte back[kBlockSize];
  zsfs::Status round = zsfs::codec::decompress(c.encoding, {encoded, c.size_bytes},
                                               zsfs::codec::MutableBlock(back, kBlockSize));
  ZSFS_CHECK(round.ok());
  ZSFS_CHECK(std::memcmp(back, block, kBlockSize) == 0);
  return 0;
}
