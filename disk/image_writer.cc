// ImageWriter (see image_writer.h).
#include "disk/image_writer.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "disk/background_writer.h"
#include "disk/checksum.h"
#include "disk/faults.h"

namespace zsfs::disk {
namespace {

constexpr size_t kRecordHeaderBytes = 1 + 3;  // type, and a body length below 2^21
// How often a save syncs what it has written so far (BackgroundWriter's sync ahead). Measured on
// a 2-core VM with a virtio disk (ext4), 250 MB written in 0.25 s: every 64 MiB left 0.04 s to
// the final fsync (0.16 s without), every 32 MiB 0.025 s; every 16 MiB slowed the writes down
// (0.65 s), the syncs then holding up the writes behind them.
constexpr uint64_t kSyncAheadBytes = uint64_t{64} << 20;
constexpr size_t kFrameBufferBytes =
    kFrameHeaderBytes + kMaxFramePayloadBytes + kFrameChecksumBytes;

size_t varint_bytes(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

std::string ImageWriter::temporary_path_for(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + name + ".zsfs-saving";
}

ImageWriter::ImageWriter(std::string path, std::string temporary, FileDescriptor fd)
    : path_(std::move(path)), temporary_(std::move(temporary)), fd_(std::move(fd)) {
  for (auto& buffer : frames_)
    buffer = std::make_unique_for_overwrite<std::byte[]>(kFrameBufferBytes);
  frame_ = frames_[0].get();
}

ImageWriter::~ImageWriter() {
  writer_.reset();  // its write in flight ends first
  if (!committed_) {
    fd_.reset();
    ::unlink(temporary_.c_str());
  }
}

Problem ImageWriter::stage(const char* point) {
  const faults::Fault fault = faults::at(point);
  if (fault.action == faults::Action::kFail) {
    broken_ = true;
    return system_problem(fault.error, "cannot save " + path_ + " (at " + point + ")");
  }
  return {};
}

Problem ImageWriter::create(const std::string& path, ImageTime saved_at,
                            std::unique_ptr<ImageWriter>* out) {
  const std::string temporary = temporary_path_for(path);
  // A leftover of an interrupted save is replaced; O_EXCL then makes sure the new file is ours
  // (not a link planted in its place).
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return system_problem(errno, "cannot remove the leftover " + temporary);
  }
  const faults::Fault fault = faults::at("image.create");
  if (fault.action == faults::Action::kFail) {
    return system_problem(fault.error, "cannot create " + temporary);
  }
  FileDescriptor fd(
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return system_problem(errno, "cannot create " + temporary);
  std::unique_ptr<ImageWriter> writer(new ImageWriter(path, temporary, std::move(fd)));
  writer->summary_.saved_at = saved_at;
  std::array<std::byte, kHeaderBytes> header;
  encode_header(writer->summary_, header);
  if (Problem p = writer->write(header)) return p;
  // The frames go out from a thread of their own, and are synced every kSyncAheadBytes along the
  // way (see background_writer.h).
  writer->writer_ = std::make_unique<BackgroundWriter>(
      writer->fd_.get(), writer->offset_, "image.write", temporary,
      SyncAhead{kSyncAheadBytes, "image.fsync_ahead"});
  if (Problem p = writer->stage("image.created")) return p;
  *out = std::move(writer);
  return {};
}

Problem ImageWriter::write(std::span<const std::byte> bytes) {
  Problem p =
      writer_ ? writer_->submit(bytes) : write_all(fd_.get(), bytes, "image.write", temporary_);
  if (p) {
    broken_ = true;
    return p;
  }
  offset_ += bytes.size();
  return {};
}

Problem ImageWriter::begin(Section section) {
  ZSFS_CHECK_MSG(!broken_ && !committed_, "writing to a failed or committed image");
  ZSFS_CHECK_MSG(!any_section_ || static_cast<int>(section) > static_cast<int>(section_),
                 "image sections out of order");
  if (any_section_) {
    if (Problem p = flush_frame()) return p;
    summary_.extent(section_).bytes = offset_ - summary_.extent(section_).offset;
  }
  // Sections skipped (none has records) are empty, at this offset.
  for (int s = any_section_ ? static_cast<int>(section_) + 1 : 1; s <= static_cast<int>(section);
       ++s) {
    summary_.extent(static_cast<Section>(s)).offset = offset_;
    summary_.extent(static_cast<Section>(s)).bytes = 0;
  }
  if (section == Section::kBlocks) {
    if (Problem p = stage("image.metadata")) return p;
  }
  section_ = section;
  any_section_ = true;
  frames_in_section_ = 0;
  return {};
}

template <class Encode>
Problem ImageWriter::add_record(RecordType type, size_t max_body, Encode&& encode) {
  ZSFS_CHECK_MSG(any_section_ && !broken_ && !committed_, "record outside a section");
  ZSFS_CHECK(max_body < (size_t{1} << 21));
  if (frame_bytes_ == 0) frame_bytes_ = kFrameHeaderBytes;
  const size_t room = kFrameHeaderBytes + kMaxFramePayloadBytes - frame_bytes_;
  if (kRecordHeaderBytes + max_body > room) {
    if (Problem p = flush_frame()) return p;
    frame_bytes_ = kFrameHeaderBytes;
  }
  std::byte* record = frame_ + frame_bytes_;
  ByteWriter body(record + kRecordHeaderBytes);
  encode(body);
  const size_t body_bytes = body.written();
  ZSFS_CHECK(body_bytes <= max_body);
  // The body went in assuming a 3-byte length; a shorter length moves it forward.
  const size_t length_bytes = varint_bytes(body_bytes);
  ByteWriter head(record);
  head.u8(static_cast<uint8_t>(type));
  head.varint(body_bytes);
  if (length_bytes != 3) {
    std::memmove(record + 1 + length_bytes, record + kRecordHeaderBytes, body_bytes);
  }
  frame_bytes_ += 1 + length_bytes + body_bytes;
  if (frame_bytes_ - kFrameHeaderBytes >= kFrameTargetBytes) return flush_frame();
  return {};
}

Problem ImageWriter::flush_frame() {
  if (frame_bytes_ <= kFrameHeaderBytes) {
    frame_bytes_ = 0;
    return {};
  }
  const size_t payload = frame_bytes_ - kFrameHeaderBytes;
  ByteWriter head(frame_);
  head.u8(static_cast<uint8_t>(section_));
  head.u8(0);
  head.u8(0);
  head.u8(0);
  head.u32(static_cast<uint32_t>(payload));
  ByteWriter tail(frame_ + frame_bytes_);
  tail.u64(checksum(std::span(frame_, frame_bytes_), offset_));
  const size_t total = frame_bytes_ + kFrameChecksumBytes;
  frame_bytes_ = 0;
  if (Problem p = write(std::span(frame_, total))) return p;
  // That buffer is being written; the other one's write is done (write() waited for it).
  frame_ = frame_ == frames_[0].get() ? frames_[1].get() : frames_[0].get();
  ++summary_.frames;
  if (section_ == Section::kBlocks && ++frames_in_section_ == 1) {
    if (Problem p = stage("image.blocks")) return p;
  }
  return {};
}

Problem ImageWriter::add(const InodeRecord& r) {
  ++summary_.inodes;
  summary_.max_inode_id = std::max(summary_.max_inode_id, r.id);
  return add_record(RecordType::kInode, max_body_bytes(r),
                    [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::add(const XattrRecord& r) {
  return add_record(RecordType::kXattr, max_body_bytes(r),
                    [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::add(const BlockRunRecord& r) {
  ZSFS_CHECK(!r.blocks.empty() && r.blocks.size() <= kMaxRunBlocks);
  return add_record(RecordType::kBlockRun, max_body_bytes(r),
                    [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::add(const EntryRecord& r) {
  ++summary_.entries;
  return add_record(RecordType::kEntry, max_body_bytes(r),
                    [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::add(const BlockRecord& r) {
  ++summary_.blocks;
  summary_.max_block_id = std::max(summary_.max_block_id, r.id);
  return add_record(record_type(r), max_body_bytes(r), [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::add(const DictionaryRecord& r) {
  ++summary_.dictionaries;
  return add_record(RecordType::kDictionary, max_body_bytes(r),
                    [&](ByteWriter& w) { encode_body(r, w); });
}

Problem ImageWriter::commit() {
  ZSFS_CHECK_MSG(!broken_ && !committed_, "committing a failed or committed image");
  // The sections not begun are empty; the last one ends here.
  if (!any_section_ || section_ != Section::kDictionaries) {
    if (Problem p = begin(Section::kDictionaries)) return p;
  }
  if (Problem p = flush_frame()) return p;
  summary_.extent(section_).bytes = offset_ - summary_.extent(section_).offset;
  const uint64_t trailer_offset = offset_;
  summary_.file_bytes = trailer_offset + kTrailerBytes;
  std::array<std::byte, kTrailerBytes> trailer;
  encode_trailer(summary_, trailer_offset, trailer);
  if (Problem p = write(trailer)) return p;
  if (Problem p = writer_->finish()) {
    broken_ = true;
    return p;
  }
  writer_.reset();
  if (Problem p = stage("image.written")) return p;
  if (Problem p = sync_file(fd_.get(), "image.fsync", temporary_)) {
    broken_ = true;
    return p;
  }
  if (Problem p = stage("image.synced")) return p;
  fd_.reset();
  // The previous image stays open across the rename, so that its space is freed when this
  // writer goes (after the save is reported), not inside rename(2): freeing a large file takes
  // a file system mounted with discard seconds.
  previous_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  const faults::Fault fault = faults::at("image.rename");
  if (fault.action == faults::Action::kFail) {
    broken_ = true;
    return system_problem(fault.error, "cannot rename " + temporary_ + " to " + path_);
  }
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    broken_ = true;
    return system_problem(errno, "cannot rename " + temporary_ + " to " + path_);
  }
  committed_ = true;  // the new image is in place: nothing to remove any more
  if (Problem p = stage("image.renamed")) return p;
  const std::string directory = directory_of(path_);
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return system_problem(errno, "cannot open directory " + directory);
  if (Problem p = sync_file(dir.get(), "image.dirsync", "directory " + directory)) return p;
  return stage("image.done");
}

}  // namespace zsfs::disk
