// ImageReader: reads an image (image_format.h) back, trusting nothing in it.
//
// open() checks the header and the trailer: a file that is not an image, of another version or
// block size, truncated (no valid trailer at its end) or whose sections do not add up is refused
// there, with a message that says which and where. read() then goes through one section frame by
// frame, checks each frame's checksum before it looks inside, decodes its records (checking
// every length and range the format defines) and hands them to a visitor; at the end of the
// section it checks the record counts against the trailer's. Whatever the visitor or the reader
// finds wrong stops the reading, with the file, the section, the frame and its byte offset in
// the message. Nothing is handed out before its frame's checksum passed.
//
// Memory: one buffer of about 6 MiB (reads of 4 MiB, and room for the largest frame), and while
// read() runs, its section's BackgroundReader (8 MiB), which reads the file ahead of it.
// Not thread-safe: one thread reads through one reader (open_another() gives another thread its
// own).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "disk/file_io.h"
#include "disk/image_format.h"
#include "disk/problem.h"

namespace zsfs::disk {

class BackgroundReader;

// What a loader does with the records. Each method returns an empty Problem to go on, or what
// is wrong ("corrupt: a name with a '/'", or ENOSPC with "does not fit in size="), which the
// reader completes with where the record is. The default refuses the record: a section holds
// only its own kinds.
class ImageVisitor {
 public:
  virtual ~ImageVisitor() = default;
  virtual Problem inode(const InodeRecord& r);
  virtual Problem xattr(const XattrRecord& r);
  virtual Problem block_run(const BlockRunRecord& r);
  virtual Problem entry(const EntryRecord& r);
  virtual Problem block(const BlockRecord& r);
  virtual Problem dictionary(const DictionaryRecord& r);
};

class ImageReader {
 public:
  static Problem open(const std::string& path, std::unique_ptr<ImageReader>* out);
  // A second reader of the same open file (its descriptor duplicated, its checks not repeated),
  // for another thread to read another section at the same time.
  Problem open_another(std::unique_ptr<ImageReader>* out) const;
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  const ImageSummary& summary() const { return summary_; }
  const std::string& path() const { return path_; }

  // Reads one section's records into visitor.
  Problem read(Section section, ImageVisitor& visitor);

  // Bytes read from the file so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  ImageReader(std::string path, FileDescriptor fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  // The read buffer (capacity bytes) and the block-run scratch.
  void allocate_buffers(size_t capacity);
  // bytes [offset, offset + n) of the file, in large reads up to limit, from ahead (the
  // section's reader, which stands where the buffer ends).
  Problem fetch(BackgroundReader& ahead, uint64_t offset, size_t n, uint64_t limit,
                std::span<const std::byte>* out);
  Problem records(Section section, std::span<const std::byte> payload, const std::string& where,
                  ImageVisitor& visitor, ImageSummary* counted);

  const std::string path_;
  FileDescriptor fd_;
  ImageSummary summary_;
  std::unique_ptr<std::byte[]> buffer_;
  size_t buffer_capacity_ = 0;
  uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  size_t buffer_bytes_ = 0;     // valid bytes in buffer_
  uint64_t bytes_read_ = 0;
  std::vector<uint32_t> run_blocks_;
};

}  // namespace zsfs::disk
