// ImageWriter: writes one image (image_format.h) and puts it in place atomically.
//
// The image is written to a temporary file beside its final path (".NAME.zsfs-saving" in the
// same directory, mode 0600: it holds users' data), frame by frame through two buffers of about
// 2 MiB (one is filled while a thread of its own writes the other: background_writer.h), then
// synced, renamed over the final path and the directory synced. Until the rename the previous
// image stays whole, whatever happens: a failed write, a full disk, a crash or kill -9 at any
// moment. A failed or abandoned writer removes its temporary file; a crash leaves it, and the next
// save replaces it.
//
// Use: create(), then begin() each section in order (metadata, blocks, dictionaries) and add its
// records, then commit(). Any failure leaves the writer unusable; the caller drops it.
//
// Not thread-safe: one thread writes one image (the writes themselves run on the writer's own).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "disk/background_writer.h"
#include "disk/file_io.h"
#include "disk/image_format.h"
#include "disk/problem.h"

namespace zsfs::disk {

class ImageWriter {
 public:
  // Creates the temporary file and writes the header. saved_at: the image's point in time.
  static Problem create(const std::string& path, ImageTime saved_at,
                        std::unique_ptr<ImageWriter>* out);
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  // Starts section (the previous one ends): sections come in order, each once.
  Problem begin(Section section);

  Problem add(const InodeRecord& r);
  Problem add(const XattrRecord& r);
  Problem add(const BlockRunRecord& r);
  Problem add(const EntryRecord& r);
  Problem add(const BlockRecord& r);
  Problem add(const DictionaryRecord& r);

  // Ends the last section, writes the trailer, syncs, renames the file into place and syncs its
  // directory. On failure the temporary file is removed (except when only the directory's sync
  // failed: the new image is in place then, but may not survive a power cut). The replaced
  // image's space is freed when the writer is destroyed.
  Problem commit();

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_; }
  // Bytes written so far (the file's size once committed).
  uint64_t bytes_written() const { return offset_; }
  const ImageSummary& summary() const { return summary_; }

  // The temporary file's name for an image at path.
  static std::string temporary_path_for(const std::string& path);

 private:
  ImageWriter(std::string path, std::string temporary, FileDescriptor fd);
  // Appends a record whose body takes at most max_body bytes; encode writes it.
  template <class Encode>
  Problem add_record(RecordType type, size_t max_body, Encode&& encode);
  Problem flush_frame();
  // Writes bytes (through writer_ once it is there: then they must stay untouched until the next
  // write or commit()).
  Problem write(std::span<const std::byte> bytes);
  // A stage of the save was reached: its fault point may stop the process or fail the save.
  Problem stage(const char* point);

  const std::string path_;
  const std::string temporary_;
  FileDescriptor fd_;
  FileDescriptor previous_;  // the image being replaced, once committing (see commit())
  bool committed_ = false;
  bool broken_ = false;
  bool any_section_ = false;
  Section section_ = Section::kMetadata;
  uint64_t offset_ = 0;  // bytes in the file, once the writes handed over are done
  // Two frame buffers: one is filled while the other is written (see background_writer.h).
  std::array<std::unique_ptr<std::byte[]>, 2> frames_;
  std::byte* frame_ = nullptr;                // the one being filled
  std::unique_ptr<BackgroundWriter> writer_;  // from the header's end until commit()
  size_t frame_bytes_ = 0;                    // frame header plus the records so far
  uint64_t frames_in_section_ = 0;
  ImageSummary summary_;
};

}  // namespace zsfs::disk
