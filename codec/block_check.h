// block_check: the 4-byte check that ends every compressed payload (kZstd and kLz4), and how it
// is stored. Internal to codec/.
//
// check = the low 32 bits of the block's fingerprint (XXH3-128), stored little-endian whatever
// the host. Decoders of both algorithms turn many damaged payloads into 4096 wrong bytes without
// complaint (a flipped literal is a flipped output byte); comparing the check of what was decoded
// with the stored one reports such damage as EIO, except for the 1 in 2^32 damaged payloads whose
// wrong bytes happen to share it. 32 bits is zstd's own choice for its frame checksum.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "codec/codec.h"

namespace zsfs::codec::block_check {

inline constexpr size_t kCheckBytes = 4;

inline uint32_t of(Block block) {
  return static_cast<uint32_t>(fingerprint(block).low);
}

inline void store(uint32_t value, std::byte* out) {
  if constexpr (std::endian::native == std::endian::big) value = __builtin_bswap32(value);
  std::memcpy(out, &value, sizeof value);
}

inline uint32_t load(const std::byte* in) {
  uint32_t value;
  std::memcpy(&value, in, sizeof value);
  if constexpr (std::endian::native == std::endian::big) value = __builtin_bswap32(value);
  return value;
}

// Whether out, just decoded, is the block whose payload ends with check_bytes.
inline bool matches(Block out, const std::byte* check_bytes) {
  return of(out) == load(check_bytes);
}

}  // namespace zsfs::codec::block_check
