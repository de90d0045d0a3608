// zstd_block: makes and reads kZstd payloads (layout in codec.h), with the calling thread's zstd
// contexts. Internal to codec/; the filesystem goes through Compressor and decompress().
//
// Invariants:
// - Every frame is made with the parameters set in one place (zstd_block.cc): magicless format,
//   no content size, checksum or dictionary id, window log 12. Per RFC 8878 that fixes the frame
//   header to kFrameHeader, which is why it need not be stored; encode() verifies it on every
//   block rather than trusting it.
// - A payload that encode() returns is shorter than the limit it was given, and decodes to the
//   block it was made from.
// - Each thread owns at most one compression and one decompression context, created on first use
//   and freed when the thread exits or releases them. A compression context's level is set only
//   when it differs from the level that context last used; the dictionary a context refers to is
//   set for every block (a pointer swap inside zstd), so no block is ever made or read with a stale
//   one.
// - A frame made with a dictionary has the same 2-byte header as one made without (no dictionary
//   id is written, the window stays 4 KiB: the dictionary is history in front of the block, which
//   zstd lets matches reach whatever the window), so the header check covers both.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.h"
#include "codec/block_check.h"
#include "codec/codec.h"
#include "codec/dictionary.h"

namespace zsfs::codec::zstd_block {

// The header of every frame we make: frame header descriptor 0x00 (no content size, not single
// segment, no checksum, no dictionary id), then window descriptor 0x10 (window log 12 = 10 + 2,
// no mantissa). RFC 8878, section 3.1.1.1.
inline constexpr std::array<std::byte, 2> kFrameHeader{std::byte{0x00}, std::byte{0x10}};
// The window a 4 KiB block needs: itself. zstd would pick it for a 4 KiB input anyway; we set it
// so the window descriptor above cannot change.
inline constexpr int kWindowLog = 12;
static_assert(size_t{1} << kWindowLog == kBlockSize);
// Bytes of the check that ends each payload (block_check.h).
inline constexpr size_t kCheckBytes = block_check::kCheckBytes;
// The smallest payload there can be: a 3-byte block header, one byte of RLE block content, check.
inline constexpr size_t kMinPayloadBytes = 3 + 1 + kCheckBytes;

// Encodes block at level into out when the payload is shorter than limit_bytes; returns its size.
// Nothing when it would not be (zstd stops as soon as its output cannot fit), or when this thread
// cannot allocate its context: either way the caller keeps the block raw. level must be in
// min_level()..max_level(). With dict, the block is compressed against it: dict must have been
// digested for level (Dictionary::cdict(level) not null), and the payload decodes only with dict.
std::optional<size_t> encode(Block block, int level, size_t limit_bytes, MutableBlock out,
                             const Dictionary* dict = nullptr);

// Decodes a kZstd payload into out, with the dictionary it was made with (null for none): EIO
// when it is damaged in any way or was made with another dictionary (see decompress()), ENOMEM
// when this thread cannot allocate its context.
Status decode(std::span<const std::byte> payload, MutableBlock out,
              const Dictionary* dict = nullptr);

// For tests and benchmarks: how often this thread's compression context has had its level set,
// and the bytes its zstd contexts hold now (0 before first use).
uint64_t thread_level_changes();
size_t thread_context_bytes();

// Frees this thread's contexts (see codec::release_thread_contexts()).
void release_thread_contexts();

}  // namespace zsfs::codec::zstd_block
