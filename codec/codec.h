// zsfs::codec: how one 4 KiB block is kept.
//
// A block is one of:
// - same-filled: one 8-byte word repeated (all zeros included), kept as that word alone, as zram
//   does;
// - zstd: compressed with zstd in the magicless frame format, without the content-size field,
//   checksum or dictionary id, none of which a 4 KiB object needs;
// - raw: kept as it is, when compression would not save enough to matter (the compressed size is
//   at or above the raw threshold, which the filesystem ties to the pool's huge-class size).
// The Encoding tag is stored with each block, so a block stays readable whatever the compression
// settings are later.
//
// The fingerprint (XXH3-128) is an index key only: equal fingerprints never prove two blocks
// equal; the dedup store compares bytes before sharing a block.
//
// Thread safety: everything here may be called from any thread. Compression and decompression
// use per-thread zstd contexts, created once per thread and reused.
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
  kZstd = 2,        // a magicless zstd frame that decodes to exactly 4096 bytes
};
std::string_view to_string(Encoding encoding);

// The repeated word if the block is one 8-byte word repeated, else nothing.
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

// The default zstd level, chosen by measurement (see codec.cc and the closing note of the codec
// issue for the figures).
extern const int kDefaultLevel;
// zstd's accepted range, negative "fast" levels included.
int min_level();
int max_level();

struct CodecConfig {
  Algorithm algorithm = Algorithm::kZstd;
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
  // EINVAL when the level is outside min_level()..max_level() or the threshold outside 1..4096.
  static Result<Compressor> create(const CodecConfig& config);

  // Encodes block into out (which must hold kBlockSize bytes): zstd when that is smaller than the
  // raw threshold, raw otherwise. Does not look for same-filled blocks: callers check that first
  // with same_filled_word(). Deterministic: the same block and config give the same bytes.
  Compressed compress(Block block, std::span<std::byte, kBlockSize> out) const;

  const CodecConfig& config() const { return config_; }

 private:
  explicit Compressor(const CodecConfig& config) : config_(config) {}
  CodecConfig config_;
};

// Decodes a kZstd or kRaw payload into out. EIO when the payload is corrupt, truncated, has
// trailing bytes, or does not decode to exactly kBlockSize bytes; out's contents are then
// unspecified, but nothing outside out is touched. kSameFilled payloads are decoded by the
// caller with fill_block().
Status decompress(Encoding encoding, std::span<const std::byte> payload, MutableBlock out);

}  // namespace zsfs::codec
