// ImageReader (see image_reader.h).
#include "disk/image_reader.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "disk/background_reader.h"
#include "disk/checksum.h"
#include "disk/faults.h"

namespace zsfs::disk {
namespace {

// Reads go to the file in pieces of this size: large enough for the disk's full speed.
constexpr size_t kReadBytes = 4 << 20;
constexpr size_t kMaxFrameBytes = kFrameHeaderBytes + kMaxFramePayloadBytes + kFrameChecksumBytes;

Problem refused(const char* kind) {
  return problem(EIO, std::string("corrupt: a ") + kind + " record where none belongs");
}

bool allowed(Section section, RecordType type) {
  switch (type) {
    case RecordType::kInode:
    case RecordType::kXattr:
    case RecordType::kBlockRun:
    case RecordType::kEntry:
      return section == Section::kMetadata;
    case RecordType::kBlock:
    case RecordType::kSameFilledBlock:
      return section == Section::kBlocks;
    case RecordType::kDictionary:
      return section == Section::kDictionaries;
  }
  return false;
}

}  // namespace

Problem ImageVisitor::inode(const InodeRecord&) {
  return refused("inode");
}
Problem ImageVisitor::xattr(const XattrRecord&) {
  return refused("xattr");
}
Problem ImageVisitor::block_run(const BlockRunRecord&) {
  return refused("block run");
}
Problem ImageVisitor::entry(const EntryRecord&) {
  return refused("directory entry");
}
Problem ImageVisitor::block(const BlockRecord&) {
  return refused("block");
}
Problem ImageVisitor::dictionary(const DictionaryRecord&) {
  return refused("dictionary");
}

Problem ImageReader::open(const std::string& path, std::unique_ptr<ImageReader>* out) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return system_problem(errno, "cannot open the image " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return system_problem(errno, "cannot stat the image " + path);
  if (!S_ISREG(st.st_mode)) return problem(EINVAL, path + ": not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  std::unique_ptr<ImageReader> reader(new ImageReader(path, std::move(fd)));
  std::array<std::byte, kHeaderBytes> header{};
  const size_t head = static_cast<size_t>(std::min<uint64_t>(size, kHeaderBytes));
  if (Problem p =
          pread_all(reader->fd_.get(), std::span(header).first(head), 0, "image.read", path)) {
    return p;
  }
  if (size < kImageMagic.size() ||
      std::memcmp(header.data(), kImageMagic.data(), kImageMagic.size()) != 0) {
    return problem(EINVAL, path +
                               ": not a zsfs image (its first 8 bytes are not the image "
                               "signature)");
  }
  if (size < kHeaderBytes + kTrailerBytes) {
    return problem(EIO, path + ": truncated: the file has " + std::to_string(size) +
                            " bytes, fewer than an image's header and trailer");
  }
  if (Problem p = decode_header(header, path, &reader->summary_)) return p;
  const uint64_t trailer_offset = size - kTrailerBytes;
  std::array<std::byte, kTrailerBytes> trailer;
  if (Problem p = pread_all(reader->fd_.get(), trailer, trailer_offset, "image.read", path)) {
    return p;
  }
  if (Problem p = decode_trailer(trailer, trailer_offset, path, &reader->summary_)) return p;
  reader->bytes_read_ = kHeaderBytes + kTrailerBytes;
  // No larger than the file: small images cost little to open.
  reader->allocate_buffers(
      static_cast<size_t>(std::min<uint64_t>(size, kReadBytes + kMaxFrameBytes)));
  *out = std::move(reader);
  return {};
}

Problem ImageReader::open_another(std::unique_ptr<ImageReader>* out) const {
  FileDescriptor fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return system_problem(errno, "cannot open the image " + path_ + " again");
  std::unique_ptr<ImageReader> reader(new ImageReader(path_, std::move(fd)));
  reader->summary_ = summary_;
  reader->allocate_buffers(buffer_capacity_);
  *out = std::move(reader);
  return {};
}

void ImageReader::allocate_buffers(size_t capacity) {
  buffer_capacity_ = capacity;
  buffer_ = std::make_unique_for_overwrite<std::byte[]>(capacity);
  run_blocks_.resize(kMaxRunBlocks);
}

Problem ImageReader::fetch(BackgroundReader& ahead, uint64_t offset, size_t n, uint64_t limit,
                           std::span<const std::byte>* out) {
  const uint64_t buffer_end = buffer_offset_ + buffer_bytes_;
  if (offset < buffer_offset_ || offset + n > buffer_end) {
    // Keep what is left of the buffer from offset on, and read more after it.
    size_t kept = 0;
    if (offset >= buffer_offset_ && offset < buffer_end) {
      kept = static_cast<size_t>(buffer_end - offset);
      std::memmove(buffer_.get(), buffer_.get() + (offset - buffer_offset_), kept);
    }
    buffer_offset_ = offset;
    buffer_bytes_ = kept;
    const uint64_t wanted =
        std::min<uint64_t>(limit - (offset + kept), std::max(n - std::min(n, kept), kReadBytes));
    const size_t room = buffer_capacity_ - kept;
    const size_t length = static_cast<size_t>(std::min<uint64_t>(wanted, room));
    // From the section's reader, which reads ahead while this piece is decoded and loaded.
    // Frames follow each other, so the buffer always ends where the reader stands.
    ZSFS_CHECK_MSG(ahead.position() == offset + kept, "image section read out of order");
    if (Problem p = ahead.read(std::span(buffer_.get() + kept, length))) return p;
    buffer_bytes_ += length;
    bytes_read_ += length;
    if (n > buffer_bytes_) {
      return problem(EIO, path_ + ": corrupt: " + std::to_string(n) + " bytes wanted at byte " +
                              std::to_string(offset) + " run past the section's end");
    }
  }
  *out = std::span(buffer_.get() + (offset - buffer_offset_), n);
  return {};
}

Problem ImageReader::read(Section section, ImageVisitor& visitor) {
  const SectionExtent extent = summary_.extent(section);
  const uint64_t end = extent.offset + extent.bytes;
  BackgroundReader ahead(fd_.get(), extent.offset, end, "image.read", path_);
  buffer_bytes_ = 0;
  ImageSummary counted;
  uint64_t pos = extent.offset;
  for (uint64_t frame = 1; pos < end; ++frame) {
    const std::string where = "frame " + std::to_string(frame) + " of the " + to_string(section) +
                              " section, at byte " + std::to_string(pos);
    if (end - pos < kFrameHeaderBytes + kFrameChecksumBytes) {
      return problem(EIO, path_ + ": corrupt: " + where + " is cut off by the section's end");
    }
    std::span<const std::byte> head;
    if (Problem p = fetch(ahead, pos, kFrameHeaderBytes, end, &head)) return p;
    ByteReader h(head);
    const uint8_t kind = h.u8();
    const uint32_t zeros = uint32_t{h.u8()} | uint32_t{h.u8()} << 8 | uint32_t{h.u8()} << 16;
    const uint32_t payload_bytes = h.u32();
    if (kind != static_cast<uint8_t>(section) || zeros != 0) {
      return problem(EIO, path_ + ": corrupt: " + where + " does not start as a frame of it");
    }
    if (payload_bytes > kMaxFramePayloadBytes ||
        payload_bytes > end - pos - kFrameHeaderBytes - kFrameChecksumBytes) {
      return problem(EIO, path_ + ": corrupt: " + where + " claims " +
                              std::to_string(payload_bytes) +
                              " bytes, more than the section holds");
    }
    const size_t frame_bytes = kFrameHeaderBytes + payload_bytes + kFrameChecksumBytes;
    std::span<const std::byte> whole;
    if (Problem p = fetch(ahead, pos, frame_bytes, end, &whole)) return p;
    ByteReader sum(whole.subspan(frame_bytes - kFrameChecksumBytes));
    if (sum.u64() != checksum(whole.first(frame_bytes - kFrameChecksumBytes), pos)) {
      return problem(EIO, path_ + ": corrupt: " + where + " fails its checksum");
    }
    if (Problem p = records(section, whole.subspan(kFrameHeaderBytes, payload_bytes), where,
                            visitor, &counted)) {
      return p;
    }
    pos += frame_bytes;
  }
  auto differ = [&](const char* what, uint64_t trailer, uint64_t found) {
    return problem(EIO, path_ + ": corrupt: the trailer counts " + std::to_string(trailer) + " " +
                            what + ", the " + to_string(section) + " section holds " +
                            std::to_string(found));
  };
  switch (section) {
    case Section::kMetadata:
      if (counted.inodes != summary_.inodes)
        return differ("inodes", summary_.inodes, counted.inodes);
      if (counted.entries != summary_.entries) {
        return differ("directory entries", summary_.entries, counted.entries);
      }
      break;
    case Section::kBlocks:
      if (counted.blocks != summary_.blocks)
        return differ("blocks", summary_.blocks, counted.blocks);
      break;
    case Section::kDictionaries:
      if (counted.dictionaries != summary_.dictionaries) {
        return differ("dictionaries", summary_.dictionaries, counted.dictionaries);
      }
      break;
  }
  return {};
}

Problem ImageReader::records(Section section, std::span<const std::byte> payload,
                             const std::string& where, ImageVisitor& visitor,
                             ImageSummary* counted) {
  ByteReader in(payload);
  for (uint64_t index = 1; !in.at_end(); ++index) {
    auto at = [&]() { return " (record " + std::to_string(index) + " of " + where + ")"; };
    const auto type = static_cast<RecordType>(in.u8());
    const uint64_t body_bytes = in.varint();
    ByteReader body(in.bytes(body_bytes));
    if (in.failed()) {
      return problem(EIO, path_ + ": corrupt: a record runs past its frame's end" + at());
    }
    std::string wrong;
    Problem visited;
    if (!allowed(section, type)) {
      wrong = "a record of type " + std::to_string(static_cast<unsigned>(type)) + ", which the " +
              to_string(section) + " section does not hold";
    } else {
      switch (type) {
        case RecordType::kInode: {
          InodeRecord r;
          wrong = decode_body(body, &r);
          if (wrong.empty() && body.at_end() && !body.failed()) {
            ++counted->inodes;
            visited = visitor.inode(r);
          }
          break;
        }
        case RecordType::kXattr: {
          XattrRecord r;
          wrong = decode_body(body, &r);
          if (wrong.empty() && body.at_end() && !body.failed()) visited = visitor.xattr(r);
          break;
        }
        case RecordType::kBlockRun: {
          BlockRunRecord r;
          wrong = decode_body(body, &r, run_blocks_);
          if (wrong.empty() && body.at_end() && !body.failed()) visited = visitor.block_run(r);
          break;
        }
        case RecordType::kEntry: {
          EntryRecord r;
          wrong = decode_body(body, &r);
          if (wrong.empty() && body.at_end() && !body.failed()) {
            ++counted->entries;
            visited = visitor.entry(r);
          }
          break;
        }
        case RecordType::kBlock:
        case RecordType::kSameFilledBlock: {
          BlockRecord r;
          wrong = decode_body(body, type, &r);
          if (wrong.empty() && body.at_end() && !body.failed()) {
            ++counted->blocks;
            visited = visitor.block(r);
          }
          break;
        }
        case RecordType::kDictionary: {
          DictionaryRecord r;
          wrong = decode_body(body, &r);
          if (wrong.empty() && body.at_end() && !body.failed()) {
            ++counted->dictionaries;
            visited = visitor.dictionary(r);
          }
          break;
        }
      }
    }
    if (wrong.empty() && (body.failed() || !body.at_end())) {
      wrong = "a record whose fields do not fill its length";
    }
    if (!wrong.empty()) return problem(EIO, path_ + ": corrupt: " + wrong + at());
    if (visited) return problem(visited.error, path_ + ": " + visited.message + at());
  }
  return {};
}

}  // namespace zsfs::disk
