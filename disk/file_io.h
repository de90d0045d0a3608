// The disk layer's system calls: whole reads and writes, syncs, renames, each checked, each with
// its fault point (faults.h), each failure a Problem naming the file.
//
// Writes loop over short writes and EINTR, as write(2) allows both; a read that reaches the end
// of the file early is reported as such (ENODATA), never as a short success.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "disk/problem.h"

namespace zsfs::disk {

// An open file descriptor, closed on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Memory aligned for direct I/O, from aligned_buffer(), freed on destruction.
struct AlignedFree {
  void operator()(std::byte* p) const;
};
using AlignedBuffer = std::unique_ptr<std::byte, AlignedFree>;
// bytes (rounded up to a multiple of alignment, a power of two) aligned to alignment; throws
// std::bad_alloc when the host refuses.
AlignedBuffer aligned_buffer(size_t bytes, size_t alignment);

// What direct I/O (O_DIRECT) wants on the file system of fd, as statx(STATX_DIOALIGN) tells it:
// file offsets and lengths in multiples of offset_align, buffers aligned to mem_align (at least
// alignof(max_align_t)). Nothing when the file system does not tell or allows no direct I/O
// (tmpfs).
struct DirectIoAlignment {
  uint32_t offset_align = 0;
  uint32_t mem_align = 0;
};
std::optional<DirectIoAlignment> direct_io_alignment(int fd);

// Writes all of bytes at the file's position. `point` names the fault point; path is for
// messages.
Problem write_all(int fd, std::span<const std::byte> bytes, std::string_view point,
                  const std::string& path);
// Writes all of bytes at offset.
Problem pwrite_all(int fd, std::span<const std::byte> bytes, uint64_t offset,
                   std::string_view point, const std::string& path);
// Reads exactly out.size() bytes at offset; ENODATA when the file ends first.
Problem pread_all(int fd, std::span<std::byte> out, uint64_t offset, std::string_view point,
                  const std::string& path);
// fsync(2).
Problem sync_file(int fd, std::string_view point, const std::string& path);
// The directory part of path ("." for a bare name).
std::string directory_of(const std::string& path);

}  // namespace zsfs::disk
