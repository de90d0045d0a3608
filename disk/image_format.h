// The image format: a filesystem's whole contents in one file, as zsfs(5) documents it.
//
//   header (64 bytes) | metadata section | blocks section | dictionaries section | trailer (128)
//
// Each section is a run of frames; a frame is
//   section (u8) | 3 zero bytes | payload length (u32) | payload | XXH3-64 (u64)
// whose checksum covers the frame's first 8 bytes and its payload, seeded with the frame's file
// offset. A payload is a run of whole records, each `type (u8) | body length (varint) | body`.
// Integers are little-endian; varints are LEB128 (signed ones zigzag-encoded first).
//
// The trailer says where each section starts and ends and how many records of each kind the
// image holds, with its own checksum; a file without a valid trailer at its end is refused as
// truncated. Sections appear in the order above; a loader reads the dictionaries first, then the
// blocks, then the metadata, which refers to both.
//
// What the records hold (the fs layer decides what to put in them; this layer only encodes,
// checks lengths and checksums):
// - metadata: inodes (attributes, symlink target), their xattrs, their block maps as runs of
//   block ids, and directory entries, in an order where an entry's directory and child come
//   before the entry;
// - blocks: each stored block once, by id: its format (encoding and dictionary slot, as kept in
//   memory), flags, the 32-bit index tag the dedup store finds it by, and its payload exactly as
//   stored (compressed, raw, or the repeated word);
// - dictionaries: the zstd dictionaries the blocks name, by slot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "codec/codec.h"
#include "disk/problem.h"

namespace zsfs::disk {

inline constexpr std::array<unsigned char, 8> kImageMagic = {0x89, 'z',  's',  'f',
                                                             's',  '\r', '\n', 0x1a};
inline constexpr std::array<unsigned char, 8> kTrailerMagic = {'z', 's', 'f', 's',
                                                               'E', 'N', 'D', '\n'};
inline constexpr uint32_t kImageVersion = 1;
inline constexpr size_t kHeaderBytes = 64;
inline constexpr size_t kTrailerBytes = 128;
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr size_t kFrameChecksumBytes = 8;
// Frames are cut at about this many payload bytes: large enough that a frame is one efficient
// write, small enough that the writer's buffer stays a small part of a save's memory.
inline constexpr size_t kFrameTargetBytes = 1 << 20;
// No frame is larger: a reader refuses a length above this as corrupt. It holds the largest
// record, a dictionary of up to 1 MiB (codec::kMaxDictionaryBytes).
inline constexpr size_t kMaxFramePayloadBytes = 2 << 20;

enum class Section : uint8_t { kMetadata = 1, kBlocks = 2, kDictionaries = 3 };
const char* to_string(Section section);

enum class RecordType : uint8_t {
  kInode = 1,
  kXattr = 2,
  kBlockRun = 3,
  kEntry = 4,
  kBlock = 5,
  kSameFilledBlock = 6,
  kDictionary = 7,
};

struct ImageTime {
  int64_t sec = 0;
  uint32_t nsec = 0;  // 0..999,999,999
};

// Block ids are positive; in a block run, 0 is a preallocated block (fallocate), which has no
// payload.
inline constexpr uint32_t kPreallocatedBlockId = 0;

// Bits of BlockRecord::flags.
inline constexpr uint8_t kBlockSettled = 1;  // the recompressor has been through it
inline constexpr uint8_t kBlockIndexed = 2;  // the dedup store finds it by its tag
inline constexpr uint8_t kBlockFlagsKnown = kBlockSettled | kBlockIndexed;

// The records. Views point into the writer's caller or, when read, into the reader's frame
// buffer, valid during the visitor's call only.
struct InodeRecord {
  uint64_t id = 0;  // the inode's number when saved; the root directory is 1
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t rdev = 0;
  ImageTime atime;
  ImageTime mtime;
  ImageTime ctime;
  std::string_view symlink;  // symbolic links: the target
};

struct XattrRecord {
  uint64_t inode = 0;
  std::string_view name;
  std::string_view value;
};

// Consecutive blocks of a file from first_index on; holes lie between runs.
struct BlockRunRecord {
  uint64_t inode = 0;
  uint64_t first_index = 0;
  std::span<const uint32_t> blocks;  // block ids
};
// Runs are cut at this many blocks, so that a record stays small however large the file.
inline constexpr size_t kMaxRunBlocks = 4096;

struct EntryRecord {
  uint64_t directory = 0;
  uint64_t child = 0;
  std::string_view name;
};

struct BlockRecord {
  uint32_t id = 0;
  uint32_t index_tag = 0;
  codec::Encoding encoding = codec::Encoding::kRaw;
  uint8_t dict_slot = 0;  // kZstd only; 0 for none
  uint8_t flags = 0;
  uint64_t word = 0;                   // kSameFilled: the repeated word
  std::span<const std::byte> payload;  // the others: the stored bytes (1..4096)
};

struct DictionaryRecord {
  uint8_t slot = 0;      // 1..63
  bool current = false;  // the dictionary new blocks were compressed with
  std::span<const std::byte> bytes;
};

// The trailer's summary of an image.
struct SectionExtent {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};
struct ImageSummary {
  uint32_t version = kImageVersion;
  uint32_t block_size = codec::kBlockSize;
  ImageTime saved_at;                       // when the image's point in time was taken
  std::array<SectionExtent, 3> sections{};  // by Section - 1
  uint64_t inodes = 0;
  uint64_t entries = 0;
  uint64_t blocks = 0;
  uint32_t dictionaries = 0;
  uint32_t frames = 0;
  uint64_t max_inode_id = 0;
  uint32_t max_block_id = 0;
  uint64_t file_bytes = 0;

  const SectionExtent& extent(Section s) const { return sections[static_cast<size_t>(s) - 1]; }
  SectionExtent& extent(Section s) { return sections[static_cast<size_t>(s) - 1]; }
};

// --- Encoding helpers (shared by the writer, the reader and their tests) ------------------------

// Appends to a buffer; the caller makes room first.
class ByteWriter {
 public:
  explicit ByteWriter(std::byte* out) : begin_(out), out_(out) {}
  void u8(uint8_t v) { *out_++ = static_cast<std::byte>(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void svarint(int64_t v) {
    varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void bytes(std::span<const std::byte> b);
  void text(std::string_view s) {
    varint(s.size());
    bytes({reinterpret_cast<const std::byte*>(s.data()), s.size()});
  }
  size_t written() const { return static_cast<size_t>(out_ - begin_); }

 private:
  std::byte* begin_;
  std::byte* out_;
};

// Most bytes a varint takes.
inline constexpr size_t kMaxVarintBytes = 10;

// Reads from a span; any read past its end sets failed() and returns zeros, so that a decoder
// checks once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  uint8_t u8() {
    if (pos_ >= in_.size()) return fail(), 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= uint32_t{u8()} << (8 * i);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  uint64_t varint();
  int64_t svarint() {
    const uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  std::span<const std::byte> bytes(uint64_t n) {
    if (n > in_.size() - pos_) return fail(), std::span<const std::byte>{};
    const auto out = in_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  std::string_view text() {
    const auto b = bytes(varint());
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == in_.size(); }
  size_t position() const { return pos_; }

 private:
  void fail() { failed_ = true; }
  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace zsfs::disk

namespace zsfs::disk {

// --- Header, trailer and records: encoders and decoders (image_format.cc) -----------------------

void encode_header(const ImageSummary& summary, std::span<std::byte, kHeaderBytes> out);
// Checks and decodes a header: signature, version, checksum, block size, flags, in that order
// (an image of another version may lay its header out otherwise). Messages start with path.
Problem decode_header(std::span<const std::byte, kHeaderBytes> in, const std::string& path,
                      ImageSummary* out);
void encode_trailer(const ImageSummary& summary, uint64_t trailer_offset,
                    std::span<std::byte, kTrailerBytes> out);
// Checks and decodes the trailer found at trailer_offset, the file's last kTrailerBytes bytes.
Problem decode_trailer(std::span<const std::byte, kTrailerBytes> in, uint64_t trailer_offset,
                       const std::string& path, ImageSummary* summary);

// Bodies of records: encode_body() writes at most max_body_bytes(r) bytes; decode_body() reads
// exactly the body and checks what the format itself requires (ranges, encodings, lengths),
// returning a description of the first thing wrong or an empty string.
size_t max_body_bytes(const InodeRecord& r);
size_t max_body_bytes(const XattrRecord& r);
size_t max_body_bytes(const BlockRunRecord& r);
size_t max_body_bytes(const EntryRecord& r);
size_t max_body_bytes(const BlockRecord& r);
size_t max_body_bytes(const DictionaryRecord& r);
void encode_body(const InodeRecord& r, ByteWriter& w);
void encode_body(const XattrRecord& r, ByteWriter& w);
void encode_body(const BlockRunRecord& r, ByteWriter& w);
void encode_body(const EntryRecord& r, ByteWriter& w);
void encode_body(const BlockRecord& r, ByteWriter& w);
void encode_body(const DictionaryRecord& r, ByteWriter& w);
RecordType record_type(const BlockRecord& r);
std::string decode_body(ByteReader& in, InodeRecord* r);
std::string decode_body(ByteReader& in, XattrRecord* r);
// blocks: where the run's ids go (kMaxRunBlocks of room).
std::string decode_body(ByteReader& in, BlockRunRecord* r, std::span<uint32_t> blocks);
std::string decode_body(ByteReader& in, EntryRecord* r);
std::string decode_body(ByteReader& in, RecordType type, BlockRecord* r);
std::string decode_body(ByteReader& in, DictionaryRecord* r);

}  // namespace zsfs::disk
