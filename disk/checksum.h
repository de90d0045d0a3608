// checksum(): XXH3-64 of bytes with a seed, the check on everything zsfs reads back from its own
// files (image frames, backing-file records). The seed is where the bytes belong (a file offset,
// a block's identity), so that bytes intact but in the wrong place fail their check too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zsfs::disk {

uint64_t checksum(std::span<const std::byte> bytes, uint64_t seed);

}  // namespace zsfs::disk
