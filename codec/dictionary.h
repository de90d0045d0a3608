// Dictionary: a zstd dictionary, digested once and shared read-only by every thread.
//
// zsfs trains its dictionaries on the mount's own blocks (fs/dictionary_set.h decides when and on
// which); this file makes them: train_dictionary() runs zstd's fastCover trainer (ZDICT) on
// sample blocks, and Dictionary::create() digests the result for the compression levels that
// will use it (one ZSTD_CDict each) and for decompression (one ZSTD_DDict). Digesting costs a
// few milliseconds and up to a MiB per level; doing it once, instead of loading the dictionary
// into a context for every 4 KiB block, is what makes a dictionary cheap per block.
//
// A block compressed with a dictionary decodes only with the same dictionary: the stored block
// names it (fs/ keeps a dictionary slot with each block), and decoding with another, or none,
// fails its check (EIO), never gives wrong bytes silently.
//
// Invariants: a Dictionary never changes after create(), except that its compression forms can
// be dropped while nothing compresses with it (drop_compression_forms()) and digested again
// (make_compression_forms(), then adopt_compression_forms()): a dictionary that only old blocks
// use, or that nothing has compressed with for a while, needs its decompression form alone, a
// fifteenth of the whole at level 15. Every digested form refers to bytes() (held once), which
// lives as long as the object. Thread safety: the const methods, make_compression_forms()
// included, may be called from any thread; drop_compression_forms() and
// adopt_compression_forms() only when no thread compresses with the dictionary (its owner
// ensures it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.h"
#include "codec/codec.h"

// zstd's opaque types, declared here so that users of this header need not include zstd.h.
struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace zsfs::codec {

// Dictionaries smaller than this hold too little to help; the largest is also the default size
// (fs/filesystem.cc scales it down for small mounts). Measured on the Linux 6.1 tree settled at
// level 15 with dictionaries zsfs trained (tests/bench/compare's W2): 112 KiB 254.4 MB of blocks,
// 192 KiB 249.5, 256 KiB 247.9, 512 KiB 242.0, 1 MiB 236.9; the dictionary keeps its content in
// memory, and its compression form (about 16 times its size at level 15) while compressing.
inline constexpr size_t kMinDictionaryBytes = 4 << 10;
inline constexpr size_t kMaxDictionaryBytes = 1 << 20;

class Dictionary {
 public:
  // Digests bytes (a dictionary as train_dictionary() or zstd --train make it) for compression at
  // each of levels and for decompression. EINVAL when zstd cannot load the bytes or a level is
  // out of range, ENOMEM when memory runs out.
  static Result<std::unique_ptr<Dictionary>> create(std::span<const std::byte> bytes,
                                                    std::span<const int> levels);
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  std::span<const std::byte> bytes() const { return bytes_; }
  // The id in the dictionary's header (ZDICT picks one at random), for people and logs; 0 for a
  // dictionary without a header.
  uint32_t dict_id() const { return dict_id_; }
  // Bytes of memory it holds: the content and every digested form.
  size_t memory_bytes() const { return memory_bytes_; }

  // The compression form for level, or null when it was not digested for that level (or was
  // dropped). For the codec's use (zstd_block.cc).
  const ZSTD_CDict_s* cdict(int level) const;
  // Frees the compression forms; returns the bytes freed (memory_bytes() shrinks by as much).
  size_t drop_compression_forms();
  // Compression forms digested apart from the dictionary, for adopt_compression_forms(); freed
  // with the object when not adopted. Movable.
  class Forms;
  // Digests the compression forms for levels (once each) without changing the dictionary: the
  // slow part of restoring them (0.2 s for 1 MiB at level 15), which needs no lock. EINVAL for a
  // level out of range, ENOMEM when memory runs out.
  Result<Forms> make_compression_forms(std::span<const int> levels) const;
  // Takes forms made from this dictionary, for the levels it has none of (the others are
  // freed); returns the bytes added (memory_bytes() grows by as much).
  size_t adopt_compression_forms(Forms forms);
  const ZSTD_DDict_s* ddict() const { return ddict_; }

 private:
  Dictionary() = default;

  std::vector<std::byte> bytes_;
  uint32_t dict_id_ = 0;
  size_t memory_bytes_ = 0;
  struct LevelForm {
    int level;
    ZSTD_CDict_s* cdict;
  };
  std::vector<LevelForm> cdicts_;
  ZSTD_DDict_s* ddict_ = nullptr;
};

class Dictionary::Forms {
 public:
  Forms() = default;
  Forms(Forms&& other) noexcept;
  Forms& operator=(Forms&& other) noexcept;
  ~Forms();
  // The memory they take.
  size_t bytes() const { return bytes_; }

 private:
  friend class Dictionary;
  std::vector<LevelForm> forms_;
  size_t bytes_ = 0;
};

// Trains a dictionary of at most max_bytes (kMinDictionaryBytes..kMaxDictionaryBytes) on
// samples, whole 4 KiB blocks one after another, for use at level. zstd's fastCover with fixed
// parameters (k=50, d=8): on the Linux tree it matched the trainer's own parameter search to
// within 1% at a hundredth of the time (0.45 s against 13 s on 8 MiB of samples). EINVAL when
// the sizes are out of range or the samples too few or too alike to train on (zstd needs many
// times max_bytes of varied samples), ENOMEM when memory runs out.
Result<std::vector<std::byte>> train_dictionary(std::span<const std::byte> samples,
                                                size_t max_bytes, int level);

}  // namespace zsfs::codec
