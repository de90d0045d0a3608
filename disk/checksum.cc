// checksum() (see checksum.h): the fastest XXH3-64 the machine offers, as codec/fingerprint.cc
// picks its XXH3-128 (same values, only the speed differs).
#include "disk/checksum.h"

#include <xxhash.h>

#if ZSFS_HAVE_XXH_X86DISPATCH
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define ZSFS_XXH3_64_SEEDED XXH3_64bits_withSeed_dispatch
#else
#define ZSFS_XXH3_64_SEEDED XXH3_64bits_withSeed
#endif

namespace zsfs::disk {

uint64_t checksum(std::span<const std::byte> bytes, uint64_t seed) {
  return ZSFS_XXH3_64_SEEDED(bytes.data(), bytes.size(), seed);
}

}  // namespace zsfs::disk
