// lz4_block: makes and reads kLz4 payloads, the fast primary encoding. Internal to codec/; the
// filesystem goes through Compressor and decompress().
//
// A kLz4 payload is
//
//   [ one LZ4 block (the raw block format, no frame) ][ check: 4 bytes, see block_check.h ]
//
// The LZ4 block format (lz4's doc/lz4_Block_format.md) carries no length and no checksum: the
// decoder is told the block decodes to exactly 4096 bytes and fails on anything that would read
// or write out of bounds; the check catches the damage it cannot see. Per object that is 4 bytes
// of overhead, against 7 for a kZstd payload and 15 for an LZ4 frame.
//
// Invariants:
// - A payload that encode() returns is shorter than the limit it was given, and decodes to the
//   block it was made from.
// - Each thread keeps one LZ4 compression state (16 KiB), reused for every block it encodes:
//   LZ4_compress_fast_extState re-initialises it, so blocks are independent and deterministic.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "base/result.h"
#include "codec/codec.h"

namespace zsfs::codec::lz4_block {

// The smallest payload there can be: one token byte (a block of only literals needs more, but
// any real block does), and the check.
inline constexpr size_t kMinPayloadBytes = 1 + 4;

// Encodes block into out when the payload is shorter than limit_bytes; returns its size. Nothing
// when it would not be (lz4 stops as soon as its output cannot fit); the caller keeps the block
// raw then.
std::optional<size_t> encode(Block block, size_t limit_bytes, MutableBlock out);

// Decodes a kLz4 payload into out: EIO when it is damaged in any way (it does not decode to
// exactly 4096 bytes, leaves bytes unread, or fails its check).
Status decode(std::span<const std::byte> payload, MutableBlock out);

}  // namespace zsfs::codec::lz4_block
