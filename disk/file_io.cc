// The disk layer's system calls (see file_io.h).
#include "disk/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "disk/faults.h"

namespace zsfs::disk {
namespace {

std::string at_offset(const std::string& path, uint64_t offset) {
  return path + " (at byte " + std::to_string(offset) + ")";
}

// A short transfer, as a signal or a full disk makes one: half of length, in whole 512-byte
// sectors as the kernel ends direct I/O (a transfer of one sector or less stays whole).
size_t short_length(size_t length) {
  const size_t half = length / 2 / 512 * 512;
  return half == 0 ? length : half;
}

// Writes bytes with pwrite when offset is given, with write otherwise.
Problem write_loop(int fd, std::span<const std::byte> bytes, const uint64_t* offset,
                   std::string_view point, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    size_t length = bytes.size() - done;
    const faults::Fault fault = faults::at(point);
    if (fault.action == faults::Action::kFail) {
      return system_problem(fault.error, "cannot write " + path);
    }
    if (fault.action == faults::Action::kShort) length = short_length(length);
    const ssize_t n = offset != nullptr ? ::pwrite(fd, bytes.data() + done, length,
                                                   static_cast<off_t>(*offset + done))
                                        : ::write(fd, bytes.data() + done, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_problem(errno, "cannot write " + path);
    }
    if (n == 0) return problem(EIO, "cannot write " + path + ": the write made no progress");
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

void AlignedFree::operator()(std::byte* p) const {
  std::free(p);
}

AlignedBuffer aligned_buffer(size_t bytes, size_t alignment) {
  void* p = std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  if (p == nullptr) throw std::bad_alloc();
  return AlignedBuffer(static_cast<std::byte*>(p));
}

std::optional<DirectIoAlignment> direct_io_alignment(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 ||
      (sx.stx_mask & STATX_DIOALIGN) == 0 || sx.stx_dio_offset_align == 0) {
    return std::nullopt;
  }
  return DirectIoAlignment{sx.stx_dio_offset_align,
                           std::max<uint32_t>(sx.stx_dio_mem_align, alignof(std::max_align_t))};
}

Problem write_all(int fd, std::span<const std::byte> bytes, std::string_view point,
                  const std::string& path) {
  return write_loop(fd, bytes, nullptr, point, path);
}

Problem pwrite_all(int fd, std::span<const std::byte> bytes, uint64_t offset,
                   std::string_view point, const std::string& path) {
  return write_loop(fd, bytes, &offset, point, path);
}

Problem pread_all(int fd, std::span<std::byte> out, uint64_t offset, std::string_view point,
                  const std::string& path) {
  size_t done = 0;
  while (done < out.size()) {
    size_t length = out.size() - done;
    const faults::Fault fault = faults::at(point);
    if (fault.action == faults::Action::kFail) {
      return system_problem(fault.error, "cannot read " + at_offset(path, offset + done));
    }
    if (fault.action == faults::Action::kShort) length = short_length(length);
    const ssize_t n = ::pread(fd, out.data() + done, length, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_problem(errno, "cannot read " + at_offset(path, offset + done));
    }
    if (n == 0) {
      return problem(ENODATA, path + ": the file ends at byte " + std::to_string(offset + done) +
                                  ", before the " + std::to_string(out.size()) +
                                  " bytes expected from byte " + std::to_string(offset));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Problem sync_file(int fd, std::string_view point, const std::string& path) {
  const faults::Fault fault = faults::at(point);
  if (fault.action == faults::Action::kFail) {
    return system_problem(fault.error, "cannot sync " + path + " to disk (fsync)");
  }
  if (::fsync(fd) != 0) return system_problem(errno, "cannot sync " + path + " to disk (fsync)");
  return {};
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace zsfs::disk
