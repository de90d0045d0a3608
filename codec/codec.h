// zsfs::codec: how one 4 KiB block is kept.
//
// A block is one of:
// - same-filled: one 8-byte word repeated (all zeros included), kept as that word alone, as zram
//   does;
// - zstd: compressed with zstd into a payload with no byte that a 4 KiB object in RAM does not
//   need (layout below);
// - raw: kept as it is, when compression would not save enough to matter (the compressed size is
//   at or above the raw threshold, which the filesystem ties to the pool's huge-class size).
// The Encoding tag is stored with each block, so a block stays readable whatever the compression
// settings are later.
//
// A kZstd payload is
//
//   [ the blocks of one magicless zstd frame ][ check: 4 bytes, little-endian ]
//
// - The frame carries no magic number, content size, checksum or dictionary id, and its window is
//   the block (window log 12). Its 2-byte frame header is then the same for every block, so it is
//   not stored either: the decoder hands it to zstd ahead of the payload. What remains per object
//   is zstd's 3-byte block header and the check: 7 bytes, against 10 for zstd's default frame
//   (14 with its checksum). Payloads live in RAM for the life of one process and never reach a
//   disk, so the format owes nothing to other zstd readers.
// - check = the low 32 bits of the block's fingerprint. Without it, zstd decodes many damaged
//   frames to 4096 wrong bytes without complaint (a flipped literal is a flipped output byte); with
//   it, decompress() reports damage as EIO, except for the 1 in 2^32 damaged payloads whose wrong
//   bytes happen to share the check. Raw and same-filled payloads carry no redundancy and are not
//   checked: a damaged raw block reads back damaged, as it would from tmpfs.
//
// The fingerprint (XXH3-128) is an index key only: equal fingerprints never prove two blocks
// equal; the dedup store compares bytes before sharing a block.
//
// Thread safety: everything here may be called from any thread. Compression and decompression
// use per-thread zstd contexts, created on a thread's first use and reused until it exits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/result.h"

namespace zsfs::codec {

inline constexpr size_t kBlockSize = 4096;

using Block = std::span<const std::byte, kBlockSize>;
using MutableBlock = std::span<std::byte, kBlockSize>;

enum class Encoding : uint8_t {
  kSameFilled = 0,  // the block is one 8-byte word repeated; the word is the whole payload
  kRaw = 1,         // the 4096 bytes as they are
  kZstd = 2,        // a zstd payload (layout above) that decodes to exactly 4096 bytes
};
std::string_view to_string(Encoding encoding);

// The repeated word if the block is one 8-byte word repeated, else nothing. The word is the
// block's first 8 bytes read in host byte order, so fill_block(word) gives the block back.
std::optional<uint64_t> same_filled_word(Block block);
// Fills out with word repeated.
void fill_block(uint64_t word, MutableBlock out);

struct Fingerprint {
  uint64_t low;
  uint64_t high;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};
// XXH3-128 of the block (seed 0).
Fingerprint fingerprint(Block block);

enum class Algorithm : uint8_t { kNone, kZstd };
std::string_view to_string(Algorithm algorithm);
// The inverse of to_string(Algorithm): "none" or "zstd"; nothing for any other name.
std::optional<Algorithm> parse_algorithm(std::string_view name);

// The default zstd level, chosen by measurement (see codec.cc and the closing note of the codec
// issue for the figures).
extern const int kDefaultLevel;
// zstd's accepted range, negative "fast" levels included.
int min_level();
int max_level();

struct CodecConfig {
  Algorithm algorithm = Algorithm::kZstd;
  // min_level()..max_level(); as in zstd, 0 means zstd's own default level (3).
  int level = kDefaultLevel;
  // A compressed result of this many bytes or more is kept raw instead. 1..4096.
  size_t raw_threshold_bytes = kBlockSize;
};

struct Compressed {
  Encoding encoding;  // kZstd or kRaw
  size_t size_bytes;  // bytes written to the output
};

class Compressor {
 public:
  // EINVAL when the algorithm is unknown, the level is outside min_level()..max_level() or the
  // threshold outside 1..4096. The level is checked even for Algorithm::kNone.
  static Result<Compressor> create(const CodecConfig& config);

  // Encodes block into out (which must hold kBlockSize bytes and not overlap block): zstd when
  // that is smaller than the raw threshold, raw otherwise. Does not look for same-filled blocks:
  // callers check that first with same_filled_word(). Deterministic: the same block and config
  // give the same bytes. zstd gives up as soon as its output cannot fit under the threshold, so
  // an incompressible block costs little more than zstd's first pass over it.
  Compressed compress(Block block, MutableBlock out) const;

  const CodecConfig& config() const { return config_; }

 private:
  explicit Compressor(const CodecConfig& config) : config_(config) {}
  CodecConfig config_;
};

// Decodes a kZstd or kRaw payload into out. EIO when the payload is corrupt, truncated, has
// trailing bytes, fails its check, or does not decode to exactly kBlockSize bytes, and for a
// kSameFilled or unknown encoding (the caller decodes kSameFilled payloads with fill_block()).
// ENOMEM when this thread's zstd context cannot be allocated. On error out's contents are
// unspecified, but nothing outside out is touched. payload and out must not overlap.
// The codec does not log: the caller knows which file and block failed, and says so.
Status decompress(Encoding encoding, std::span<const std::byte> payload, MutableBlock out);

}  // namespace zsfs::codec
