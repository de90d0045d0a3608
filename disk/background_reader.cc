// BackgroundReader (see background_reader.h).
#include "disk/background_reader.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "base/check.h"
#include "base/threads.h"
#include "disk/faults.h"

namespace zsfs::disk {
namespace {

uint64_t round_up(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

// cachestat(2), Linux 6.5 (Documentation/ABI and include/uapi/linux/mman.h there); the C library
// and the kernel headers of Debian 12 predate it. Every architecture has the same number.
constexpr long kCachestatSyscall = 451;
struct CachestatRange {
  uint64_t off;
  uint64_t len;
};
struct Cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

// Whether every page of bytes [offset, offset + length) of fd is in the page cache. Asked without
// reading: a read that does not wait for the disk (RWF_NOWAIT) still starts its readahead. False
// when the kernel cannot tell.
bool cached_whole(int fd, uint64_t offset, uint64_t length) {
  constexpr uint64_t kPage = 4096;
  CachestatRange range{offset, length};
  Cachestat stat{};
  if (::syscall(kCachestatSyscall, fd, &range, &stat, 0) != 0) return false;
  const uint64_t pages = (offset + length + kPage - 1) / kPage - offset / kPage;
  return stat.nr_cache >= pages;
}

}  // namespace

BackgroundReader::BackgroundReader(int fd, uint64_t begin, uint64_t end, std::string point,
                                   std::string path)
    : point_(std::move(point)), path_(std::move(path)), fd_(fd), end_(end), position_(begin) {
  size_t mem_align = 4096;
  if (const std::optional<DirectIoAlignment> align = direct_io_alignment(fd);
      align && align->offset_align <= kPieceBytes && kPieceBytes % align->offset_align == 0) {
    const std::string reopen = "/proc/self/fd/" + std::to_string(fd);
    direct_fd_.reset(::open(reopen.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
    mem_align = std::max<size_t>(mem_align, align->mem_align);
    // A file system may tell an alignment and still refuse direct reads (some FUSE and network
    // file systems): one unit is tried before the pieces rely on them.
    if (direct_fd_.valid()) {
      const AlignedBuffer unit = aligned_buffer(align->offset_align, mem_align);
      const uint64_t at = begin / align->offset_align * align->offset_align;
      ssize_t n;
      do {
        n = ::pread(direct_fd_.get(), unit.get(), align->offset_align, static_cast<off_t>(at));
      } while (n < 0 && errno == EINTR);
      if (n < 0 && errno == EINVAL) {
        direct_fd_.reset();
      } else {
        align_ = align->offset_align;
      }
    }
  }
  first_ = begin / align_ * align_;
  const uint64_t span = end_ > first_ ? end_ - first_ : 0;
  pieces_total_ = (span + kPieceBytes - 1) / kPieceBytes;
  const size_t piece_bytes =
      static_cast<size_t>(std::min<uint64_t>(kPieceBytes, round_up(span, align_)));
  if (piece_bytes == 0) return;  // an empty range: nothing to read
  for (Piece& piece : pieces_)
    piece.buffer = aligned_buffer(piece_bytes, mem_align);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    // read() fills the pieces on the caller's thread.
  }
}

BackgroundReader::~BackgroundReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundReader::run() {
  name_this_thread("zsfs-image-read");
  for (uint64_t n = 0; n < pieces_total_; ++n) {
    Piece& piece = pieces_[n % kPieces];
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return stop_ || n < given_back_ + kPieces; });
      if (stop_) return;
    }
    fill(n, &piece);
    const bool failed = static_cast<bool>(piece.failure);
    {
      std::lock_guard lock(mu_);
      piece.ready = true;
    }
    changed_.notify_all();
    if (failed) return;
  }
}

void BackgroundReader::fill(uint64_t n, Piece* piece) {
  const uint64_t offset = first_ + n * kPieceBytes;
  const uint64_t needed = std::min<uint64_t>(kPieceBytes, end_ - offset);
  const size_t want = static_cast<size_t>(round_up(needed, align_));
  piece->offset = offset;
  piece->bytes = 0;
  piece->failure = {};
  // A piece the page cache holds whole (a load right after a save, or of an image read before)
  // is copied from it: a direct read would fetch it from the disk again.
  const bool direct = direct_fd_.valid() && !cached_whole(fd_, offset, needed);
  size_t done = 0;
  while (done < want) {
    size_t length = want - done;
    const faults::Fault fault = faults::at(point_);
    if (fault.action == faults::Action::kFail) {
      piece->failure = system_problem(
          fault.error, "cannot read " + path_ + " (at byte " + std::to_string(offset + done) + ")");
      return;
    }
    if (fault.action == faults::Action::kShort && length > align_) {
      length = std::max<size_t>(align_, length / 2 / align_ * align_);
    }
    const ssize_t got = ::pread(direct ? direct_fd_.get() : fd_, piece->buffer.get() + done, length,
                                static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      piece->failure = system_problem(
          errno, "cannot read " + path_ + " (at byte " + std::to_string(offset + done) + ")");
      return;
    }
    done += static_cast<size_t>(got);
    // The file's end: nothing more (a direct read that ends off the alignment ended there).
    if (got == 0 || done % align_ != 0) break;
  }
  piece->bytes = std::min<size_t>(done, static_cast<size_t>(needed));
  if (piece->bytes < needed) {
    piece->failure = problem(ENODATA, path_ + ": the file ends at byte " +
                                          std::to_string(offset + piece->bytes) + ", before byte " +
                                          std::to_string(end_));
  }
}

BackgroundReader::Piece* BackgroundReader::current_piece(std::unique_lock<std::mutex>& lock) {
  Piece& piece = pieces_[taking_ % kPieces];
  if (thread_.joinable()) {
    changed_.wait(lock, [&] { return piece.ready; });
  } else if (!piece.ready) {
    fill(taking_, &piece);
    piece.ready = true;
  }
  return &piece;
}

Problem BackgroundReader::read(std::span<std::byte> out) {
  if (out.size() > end_ - std::min(end_, position_)) {
    return problem(ENODATA, path_ + ": " + std::to_string(out.size()) + " bytes wanted at byte " +
                                std::to_string(position_) + " run past byte " +
                                std::to_string(end_));
  }
  size_t done = 0;
  while (done < out.size()) {
    Piece* piece;
    {
      std::unique_lock lock(mu_);
      piece = current_piece(lock);
    }
    const uint64_t piece_end = piece->offset + piece->bytes;
    // A piece that failed keeps what it had: handed out first, then its failure. (One that did
    // not was given back as its last byte went, and is not the current piece any more.)
    if (position_ >= piece_end) {
      ZSFS_DCHECK(static_cast<bool>(piece->failure));
      return piece->failure;
    }
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(out.size() - done, piece_end - position_));
    std::memcpy(out.data() + done, piece->buffer.get() + (position_ - piece->offset), n);
    position_ += n;
    done += n;
    // Done with it: the thread may read the next piece into it now.
    if (position_ == piece_end && !piece->failure) {
      {
        std::lock_guard lock(mu_);
        piece->ready = false;
        ++given_back_;
        ++taking_;
      }
      changed_.notify_all();
    }
  }
  return {};
}

}  // namespace zsfs::disk
