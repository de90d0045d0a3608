// Encoders and decoders of the image format (see image_format.h and zsfs(5)).
#include "disk/image_format.h"

#include <cstring>

#include "codec/dictionary.h"
#include "disk/checksum.h"

namespace zsfs::disk {
namespace {

constexpr uint32_t kNsecPerSec = 1000000000;
// The dictionary slots a block may name (fs/dictionary_set.h: 6 bits beside the encoding).
constexpr unsigned kDictSlotBits = 8 - codec::kEncodingBits;
constexpr uint8_t kMaxDictSlot = (1u << kDictSlotBits) - 1;

std::string byte_at(uint64_t offset) {
  return "byte " + std::to_string(offset);
}

uint8_t pack_format(codec::Encoding encoding, uint8_t slot) {
  return static_cast<uint8_t>(static_cast<unsigned>(encoding) | unsigned{slot}
                                                                    << codec::kEncodingBits);
}

void encode_time(const ImageTime& t, ByteWriter& w) {
  w.svarint(t.sec);
  w.varint(t.nsec);
}

ImageTime decode_time(ByteReader& in, std::string* problem) {
  ImageTime t;
  t.sec = in.svarint();
  const uint64_t nsec = in.varint();
  if (nsec >= kNsecPerSec && problem->empty()) {
    *problem = "nanoseconds " + std::to_string(nsec) + " out of range";
  }
  t.nsec = static_cast<uint32_t>(nsec % kNsecPerSec);
  return t;
}

// A varint that must fit 32 bits.
uint32_t varint32(ByteReader& in, const char* what, std::string* problem) {
  const uint64_t v = in.varint();
  if (v > UINT32_MAX && problem->empty()) {
    *problem = std::string(what) + " " + std::to_string(v) + " does not fit 32 bits";
  }
  return static_cast<uint32_t>(v);
}

}  // namespace

const char* to_string(Section section) {
  switch (section) {
    case Section::kMetadata:
      return "metadata";
    case Section::kBlocks:
      return "blocks";
    case Section::kDictionaries:
      return "dictionaries";
  }
  return "unknown";
}

void ByteWriter::bytes(std::span<const std::byte> b) {
  if (!b.empty()) std::memcpy(out_, b.data(), b.size());
  out_ += b.size();
}

uint64_t ByteReader::varint() {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    const uint8_t byte = u8();
    if (failed_) return 0;
    v |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      // The tenth byte may carry only the top bit.
      if (shift == 63 && byte > 1) break;
      return v;
    }
  }
  fail();
  return 0;
}

// --- Header and trailer -----------------------------------------------------------------------

void encode_header(const ImageSummary& summary, std::span<std::byte, kHeaderBytes> out) {
  std::memset(out.data(), 0, out.size());
  ByteWriter w(out.data());
  w.bytes(std::as_bytes(std::span(kImageMagic)));
  w.u32(summary.version);
  w.u32(summary.block_size);
  w.u32(kHeaderBytes);
  w.u32(0);  // flags: none defined
  w.u64(static_cast<uint64_t>(summary.saved_at.sec));
  w.u32(summary.saved_at.nsec);
  ByteWriter tail(out.data() + kHeaderBytes - 8);
  tail.u64(checksum(out.first(kHeaderBytes - 8), 0));
}

Problem decode_header(std::span<const std::byte, kHeaderBytes> in, const std::string& path,
                      ImageSummary* out) {
  if (std::memcmp(in.data(), kImageMagic.data(), kImageMagic.size()) != 0) {
    return problem(EINVAL, path +
                               ": not a zsfs image (its first 8 bytes are not the image "
                               "signature)");
  }
  ByteReader r(in.subspan(kImageMagic.size()));
  out->version = r.u32();
  if (out->version != kImageVersion) {
    return problem(EINVAL, path + ": an image of format version " + std::to_string(out->version) +
                               "; this zsfs reads version " + std::to_string(kImageVersion));
  }
  out->block_size = r.u32();
  const uint32_t header_bytes = r.u32();
  const uint32_t flags = r.u32();
  out->saved_at.sec = static_cast<int64_t>(r.u64());
  out->saved_at.nsec = r.u32();
  ByteReader sum(in.subspan(kHeaderBytes - 8));
  if (sum.u64() != checksum(in.first(kHeaderBytes - 8), 0)) {
    return problem(EIO, path + ": corrupt: the header (bytes 0 to 63) fails its checksum");
  }
  if (out->block_size != codec::kBlockSize) {
    return problem(EINVAL, path + ": an image of " + std::to_string(out->block_size) +
                               "-byte blocks; this zsfs uses " + std::to_string(codec::kBlockSize) +
                               "-byte blocks");
  }
  if (header_bytes != kHeaderBytes || flags != 0 || out->saved_at.nsec >= kNsecPerSec) {
    return problem(EINVAL, path +
                               ": the header (bytes 0 to 63) has fields this zsfs does not "
                               "know (made by a newer zsfs?)");
  }
  return {};
}

void encode_trailer(const ImageSummary& s, uint64_t trailer_offset,
                    std::span<std::byte, kTrailerBytes> out) {
  std::memset(out.data(), 0, out.size());
  ByteWriter w(out.data());
  w.bytes(std::as_bytes(std::span(kTrailerMagic)));
  w.u32(s.version);
  w.u32(0);
  for (const SectionExtent& e : s.sections) {
    w.u64(e.offset);
    w.u64(e.bytes);
  }
  w.u64(s.inodes);
  w.u64(s.entries);
  w.u64(s.blocks);
  w.u32(s.dictionaries);
  w.u32(s.frames);
  w.u64(s.max_inode_id);
  w.u32(s.max_block_id);
  w.u32(0);
  w.u64(s.file_bytes);
  ByteWriter tail(out.data() + kTrailerBytes - 8);
  tail.u64(checksum(out.first(kTrailerBytes - 8), trailer_offset));
}

Problem decode_trailer(std::span<const std::byte, kTrailerBytes> in, uint64_t trailer_offset,
                       const std::string& path, ImageSummary* s) {
  const std::string where = "the trailer (" + byte_at(trailer_offset) + " to the end)";
  if (std::memcmp(in.data(), kTrailerMagic.data(), kTrailerMagic.size()) != 0) {
    return problem(EIO, path + ": truncated or corrupt: the file's last " +
                            std::to_string(kTrailerBytes) +
                            " bytes are not an image trailer (is the file whole?)");
  }
  ByteReader sum(in.subspan(kTrailerBytes - 8));
  if (sum.u64() != checksum(in.first(kTrailerBytes - 8), trailer_offset)) {
    return problem(EIO, path + ": corrupt: " + where + " fails its checksum");
  }
  ByteReader r(in.subspan(kTrailerMagic.size()));
  const uint32_t version = r.u32();
  r.u32();
  for (SectionExtent& e : s->sections) {
    e.offset = r.u64();
    e.bytes = r.u64();
  }
  s->inodes = r.u64();
  s->entries = r.u64();
  s->blocks = r.u64();
  s->dictionaries = r.u32();
  s->frames = r.u32();
  s->max_inode_id = r.u64();
  s->max_block_id = r.u32();
  r.u32();
  s->file_bytes = r.u64();
  if (version != s->version) {
    return problem(EINVAL, path + ": " + where + " is of version " + std::to_string(version) +
                               ", the header of version " + std::to_string(s->version));
  }
  // The sections follow each other from the header to the trailer.
  uint64_t expected = kHeaderBytes;
  for (size_t i = 0; i < s->sections.size(); ++i) {
    const SectionExtent& e = s->sections[i];
    if (e.offset != expected || e.bytes > trailer_offset - expected) {
      return problem(EIO, path + ": corrupt: " + where + " places the " +
                              to_string(static_cast<Section>(i + 1)) + " section at " +
                              byte_at(e.offset) + " (" + std::to_string(e.bytes) +
                              " bytes), not between byte " + std::to_string(expected) +
                              " and the trailer");
    }
    expected += e.bytes;
  }
  if (expected != trailer_offset || s->file_bytes != trailer_offset + kTrailerBytes) {
    return problem(EIO, path + ": corrupt: " + where + " does not match the file's length");
  }
  return {};
}

// --- Records ------------------------------------------------------------------------------------

size_t max_body_bytes(const InodeRecord& r) {
  return 6 * kMaxVarintBytes + 3 * 2 * kMaxVarintBytes + kMaxVarintBytes + r.symlink.size();
}
size_t max_body_bytes(const XattrRecord& r) {
  return 3 * kMaxVarintBytes + r.name.size() + r.value.size();
}
size_t max_body_bytes(const BlockRunRecord& r) {
  return 3 * kMaxVarintBytes + r.blocks.size() * 5;
}
size_t max_body_bytes(const EntryRecord& r) {
  return 3 * kMaxVarintBytes + r.name.size();
}
size_t max_body_bytes(const BlockRecord& r) {
  return 2 * kMaxVarintBytes + 4 + 2 + 8 + r.payload.size();
}
size_t max_body_bytes(const DictionaryRecord& r) {
  return 2 + kMaxVarintBytes + r.bytes.size();
}

void encode_body(const InodeRecord& r, ByteWriter& w) {
  w.varint(r.id);
  w.varint(r.mode);
  w.varint(r.uid);
  w.varint(r.gid);
  w.varint(r.size);
  w.varint(r.rdev);
  encode_time(r.atime, w);
  encode_time(r.mtime, w);
  encode_time(r.ctime, w);
  w.text(r.symlink);
}

void encode_body(const XattrRecord& r, ByteWriter& w) {
  w.varint(r.inode);
  w.text(r.name);
  w.text(r.value);
}

void encode_body(const BlockRunRecord& r, ByteWriter& w) {
  w.varint(r.inode);
  w.varint(r.first_index);
  w.varint(r.blocks.size());
  for (uint32_t id : r.blocks)
    w.varint(id);
}

void encode_body(const EntryRecord& r, ByteWriter& w) {
  w.varint(r.directory);
  w.varint(r.child);
  w.text(r.name);
}

RecordType record_type(const BlockRecord& r) {
  return r.encoding == codec::Encoding::kSameFilled ? RecordType::kSameFilledBlock
                                                    : RecordType::kBlock;
}

void encode_body(const BlockRecord& r, ByteWriter& w) {
  w.varint(r.id);
  w.u32(r.index_tag);
  if (r.encoding == codec::Encoding::kSameFilled) {
    w.u8(r.flags);
    w.u64(r.word);
    return;
  }
  w.u8(pack_format(r.encoding, r.dict_slot));
  w.u8(r.flags);
  w.varint(r.payload.size());
  w.bytes(r.payload);
}

void encode_body(const DictionaryRecord& r, ByteWriter& w) {
  w.u8(r.slot);
  w.u8(r.current ? 1 : 0);
  w.varint(r.bytes.size());
  w.bytes(r.bytes);
}

std::string decode_body(ByteReader& in, InodeRecord* r) {
  std::string problem;
  r->id = in.varint();
  r->mode = varint32(in, "mode", &problem);
  r->uid = varint32(in, "uid", &problem);
  r->gid = varint32(in, "gid", &problem);
  r->size = in.varint();
  r->rdev = in.varint();
  r->atime = decode_time(in, &problem);
  r->mtime = decode_time(in, &problem);
  r->ctime = decode_time(in, &problem);
  r->symlink = in.text();
  if (problem.empty() && r->id == 0) problem = "inode id 0";
  return problem;
}

std::string decode_body(ByteReader& in, XattrRecord* r) {
  r->inode = in.varint();
  r->name = in.text();
  r->value = in.text();
  return {};
}

std::string decode_body(ByteReader& in, BlockRunRecord* r, std::span<uint32_t> blocks) {
  std::string problem;
  r->inode = in.varint();
  r->first_index = in.varint();
  const uint64_t count = in.varint();
  if (count == 0 || count > kMaxRunBlocks || count > blocks.size()) {
    return "a run of " + std::to_string(count) + " blocks (1 to " + std::to_string(kMaxRunBlocks) +
           " expected)";
  }
  for (uint64_t i = 0; i < count; ++i)
    blocks[i] = varint32(in, "block id", &problem);
  r->blocks = blocks.first(static_cast<size_t>(count));
  return problem;
}

std::string decode_body(ByteReader& in, EntryRecord* r) {
  r->directory = in.varint();
  r->child = in.varint();
  r->name = in.text();
  return {};
}

std::string decode_body(ByteReader& in, RecordType type, BlockRecord* r) {
  std::string problem;
  r->id = varint32(in, "block id", &problem);
  r->index_tag = in.u32();
  if (type == RecordType::kSameFilledBlock) {
    r->encoding = codec::Encoding::kSameFilled;
    r->dict_slot = 0;
    r->flags = in.u8();
    r->word = in.u64();
    r->payload = {};
  } else {
    const uint8_t format = in.u8();
    r->encoding = static_cast<codec::Encoding>(format & ((1u << codec::kEncodingBits) - 1));
    r->dict_slot = static_cast<uint8_t>(format >> codec::kEncodingBits);
    r->flags = in.u8();
    r->word = 0;
    const uint64_t size = in.varint();
    if (size == 0 || size > codec::kBlockSize) {
      return "block " + std::to_string(r->id) + " has " + std::to_string(size) +
             " stored bytes (1 to " + std::to_string(codec::kBlockSize) + " expected)";
    }
    r->payload = in.bytes(size);
    if (r->encoding == codec::Encoding::kSameFilled) {
      problem = "block " + std::to_string(r->id) + " is same-filled but has a payload";
    } else if (r->encoding == codec::Encoding::kRaw && size != codec::kBlockSize) {
      problem = "raw block " + std::to_string(r->id) + " has " + std::to_string(size) +
                " bytes, not " + std::to_string(codec::kBlockSize);
    } else if (r->dict_slot != 0 && r->encoding != codec::Encoding::kZstd) {
      problem = "block " + std::to_string(r->id) + " names a dictionary but is not zstd";
    }
  }
  if (problem.empty() && r->id == kPreallocatedBlockId) problem = "block id 0";
  if (problem.empty() && (r->flags & ~kBlockFlagsKnown) != 0) {
    problem = "block " + std::to_string(r->id) + " has unknown flags " + std::to_string(r->flags);
  }
  return problem;
}

std::string decode_body(ByteReader& in, DictionaryRecord* r) {
  r->slot = in.u8();
  const uint8_t current = in.u8();
  const uint64_t size = in.varint();
  if (size == 0 || size > codec::kMaxDictionaryBytes) {
    return "a dictionary of " + std::to_string(size) + " bytes (1 to " +
           std::to_string(codec::kMaxDictionaryBytes) + " expected)";
  }
  r->bytes = in.bytes(size);
  r->current = current == 1;
  if (r->slot == 0 || r->slot > kMaxDictSlot) {
    return "dictionary slot " + std::to_string(r->slot) + " (1 to " + std::to_string(kMaxDictSlot) +
           " expected)";
  }
  if (current > 1) return "dictionary flag " + std::to_string(current) + " (0 or 1 expected)";
  return {};
}

}  // namespace zsfs::disk
