// fingerprint(): XXH3-128 of a block, the dedup index key (an index key only: equal fingerprints
// do not prove equal blocks). It is computed for every block written and, through the kZstd
// check, for every zstd block read, so it takes the fastest XXH3 the machine offers.
#include <xxhash.h>

#include "codec/codec.h"

#if ZSFS_HAVE_XXH_X86DISPATCH
// libxxhash's x86 dispatcher picks the SSE2, AVX2 or AVX-512 XXH3 at run time. The plain
// XXH3_128bits in Debian's shared library is its portable build: four times slower on a 4 KiB
// block in cache (472 against 114 ns, measured on the AVX-512 Xeon the codec was tuned on).
// Same function, same values (the golden tests pin them): only the speed differs.
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define ZSFS_XXH3_128 XXH3_128bits_dispatch
#else
#define ZSFS_XXH3_128 XXH3_128bits
#endif

namespace zsfs::codec {

Fingerprint fingerprint(Block block) {
  const XXH128_hash_t hash = ZSFS_XXH3_128(block.data(), block.size());
  return Fingerprint{hash.low64, hash.high64};
}

}  // namespace zsfs::codec
