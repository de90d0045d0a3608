// zsfs::codec: how one 4 KiB block is kept.
//
// A block is one of:
// - same-filled: one 8-byte word repeated (all zeros included), kept as that word alone, as zram
//   does;
// - lz4: compressed with lz4, the fast encoding a write stores first (lz4_block.h);
// - zstd: compressed with zstd, with or without a dictionary (zstd_block.h, dictionary.h): the
//   small encoding, for writes when chosen, and for what the recompressor keeps;
// - raw: kept as it is, when compression would not save enough to matter (the compressed size is
//   at or above the raw threshold, which the filesystem ties to the pool's huge-class size).
// The Encoding tag is stored with each block (and, for zstd, which dictionary), so a block stays
// readable whatever the compression settings are later.
//
// Both compressed payloads end with a 4-byte check, the low 32 bits of the block's fingerprint
// (block_check.h): decoders turn many damaged payloads into 4096 wrong bytes without complaint,
// and the check turns that into EIO. Raw and same-filled payloads carry no redundancy and are not
// checked: a damaged raw block reads back damaged, as it would from tmpfs. Payloads live in RAM
// for the life of one process (or in zsfs's own files), so the formats owe nothing to other
// readers and carry no byte a 4 KiB object does not need.
//
// The fingerprint (XXH3-128) is an index key only: equal fingerprints never prove two blocks
// equal; the dedup store compares bytes before sharing a block.
//
// Thread safety: everything here may be called from any thread. Compression and decompression
// use per-thread contexts, created on a thread's first use and reused until it exits or releases
// them (release_thread_contexts()); dictionaries are shared read-only.
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

class Dictionary;  // codec/dictionary.h

// Two bits in a stored block's format (fs/ packs it with a dictionary slot): keep below 4.
enum class Encoding : uint8_t {
  kSameFilled = 0,  // the block is one 8-byte word repeated; the word is the whole payload
  kRaw = 1,         // the 4096 bytes as they are
  kZstd = 2,        // a zstd payload (zstd_block.h) that decodes to exactly 4096 bytes
  kLz4 = 3,         // an lz4 payload (lz4_block.h) that decodes to exactly 4096 bytes
};
inline constexpr unsigned kEncodingBits = 2;
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

enum class Algorithm : uint8_t { kNone, kLz4, kZstd };
std::string_view to_string(Algorithm algorithm);
// The inverse of to_string(Algorithm): "none", "lz4" or "zstd"; nothing for any other name.
std::optional<Algorithm> parse_algorithm(std::string_view name);

// The default zstd level, chosen by measurement (see codec.cc and the closing note of the codec
// issue for the figures).
extern const int kDefaultLevel;
// zstd's accepted range, negative "fast" levels included.
int min_level();
int max_level();

struct CodecConfig {
  Algorithm algorithm = Algorithm::kZstd;
  // zstd's level, min_level()..max_level(); as in zstd, 0 means zstd's own default level (3).
  // lz4 has one setting only (its default acceleration), and ignores it.
  int level = kDefaultLevel;
  // A compressed result of this many bytes or more is kept raw instead. 1..4096.
  size_t raw_threshold_bytes = kBlockSize;
};

struct Compressed {
  Encoding encoding;  // kZstd, kLz4 or kRaw
  size_t size_bytes;  // bytes written to the output
};

class Compressor {
 public:
  // EINVAL when the algorithm is unknown, the level is outside min_level()..max_level() or the
  // threshold outside 1..4096. The level is checked even for Algorithm::kNone.
  static Result<Compressor> create(const CodecConfig& config);

  // Encodes block into out (which must hold kBlockSize bytes and not overlap block) with the
  // configured algorithm when that is smaller than the raw threshold, raw otherwise. Does not
  // look for same-filled blocks: callers check that first with same_filled_word().
  // Deterministic: the same block, config and dictionary give the same bytes. Both algorithms
  // give up as soon as their output cannot fit under the threshold, so an incompressible block
  // costs little more than a first pass over it. dict (zstd only; lz4 ignores it) must have been
  // digested for the configured level; the result then decodes only with dict.
  Compressed compress(Block block, MutableBlock out, const Dictionary* dict = nullptr) const;

  const CodecConfig& config() const { return config_; }

 private:
  explicit Compressor(const CodecConfig& config) : config_(config) {}
  CodecConfig config_;
};

// Decodes a kZstd, kLz4 or kRaw payload into out; dict is the dictionary a kZstd payload was
// made with (null for none; ignored by the others). EIO when the payload is corrupt, truncated,
// has trailing bytes, fails its check (a kZstd payload decoded with the wrong dictionary does),
// or does not decode to exactly kBlockSize bytes, and for a kSameFilled or unknown encoding (the
// caller decodes kSameFilled payloads with fill_block()). ENOMEM when this thread's zstd context
// cannot be allocated. On error out's contents are unspecified, but nothing outside out is
// touched. payload and out must not overlap. The codec does not log: the caller knows which file
// and block failed, and says so.
Status decompress(Encoding encoding, std::span<const std::byte> payload, MutableBlock out,
                  const Dictionary* dict = nullptr);

// Frees the calling thread's zstd contexts (a compression context at level 15 with a dictionary
// holds about 350 KiB, a decompression context about 100 KiB), for a thread about to sit idle;
// its next compression or decompression creates them anew, which costs microseconds.
void release_thread_contexts();

}  // namespace zsfs::codec
