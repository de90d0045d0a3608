// BackgroundReader: reads one range of a file in order, a piece ahead of its caller, from a
// thread of its own, so that the disk works while the caller decodes what came before. The
// reading counterpart of BackgroundWriter, for loading an image.
//
// Reads bypass the page cache (O_DIRECT, through a second open file description of the same file,
// reopened by /proc/self/fd) where the file system allows it. A load reads each byte once; through
// the page cache the kernel would spend most of a core filling it (fio: 87% of a core for a
// buffered sequential read, 9% with O_DIRECT, on this project's test host) on a machine whose
// other cores are making the tree, and would keep a second copy of the image in RAM besides. A
// piece the page cache holds whole (right after a save) is still read from it, as cachestat(2)
// tells. Where direct I/O is not to be had (tmpfs, no /proc, or the file system refuses the first
// direct read), it reads through the page cache, still a piece ahead.
//
// Pieces: kPieces buffers of kPieceBytes (8 MiB in all), each read whole with one pread(2)
// (looping over short reads); the file offsets are aligned down to what direct I/O wants, so a
// piece may start before the range and the last may end past it (the bytes outside the range
// are never handed out). Every pread passes the fault point given (faults.h).
//
// Errors: a failed read, or a file that ends before the range does, is kept and returned by the
// read() that reaches it (everything before it is handed out first); nothing after it is read.
//
// Thread safety: one caller thread uses read(); the reading thread only fills pieces the caller
// has given back. mu_, a leaf, guards the hand-over of pieces; reads run without it. When the
// thread cannot start, read() reads on the caller's thread: slower, never wrong.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "disk/file_io.h"
#include "disk/problem.h"

namespace zsfs::disk {

class BackgroundReader {
 public:
  static constexpr size_t kPieceBytes = 4 << 20;
  static constexpr size_t kPieces = 2;

  // Starts reading bytes [begin, end) of fd, which must stay open while the reader lives. point
  // names the fault point of the reads, path the file in messages.
  BackgroundReader(int fd, uint64_t begin, uint64_t end, std::string point, std::string path);
  ~BackgroundReader();  // stops the thread after the read in flight
  BackgroundReader(const BackgroundReader&) = delete;
  BackgroundReader& operator=(const BackgroundReader&) = delete;

  // Copies the next out.size() bytes of the range into out: the failure of a read they need, or
  // ENODATA when they run past the range's end (then nothing is consumed).
  Problem read(std::span<std::byte> out);
  // The file offset of the next byte read() hands out.
  uint64_t position() const { return position_; }
  // Whether the pieces come by direct I/O.
  bool direct() const { return direct_fd_.valid(); }

 private:
  struct Piece {
    AlignedBuffer buffer;
    uint64_t offset = 0;  // file offset of buffer[0]
    size_t bytes = 0;     // bytes read into it
    bool ready = false;   // filled by the thread, not yet given back by the caller
    Problem failure;      // the read that should have filled it failed
  };

  void run();
  // Reads piece number n (file offset first_ + n * kPieceBytes) into piece, on any thread.
  void fill(uint64_t n, Piece* piece);
  // The piece read() takes from next, once it is ready (filled on this thread when there is no
  // reading thread). Returns null when the caller must wait (never without a thread).
  Piece* current_piece(std::unique_lock<std::mutex>& lock);

  const std::string point_;
  const std::string path_;
  const int fd_;               // the caller's: reads through the page cache
  FileDescriptor direct_fd_;   // the same file opened with O_DIRECT, when allowed
  uint32_t align_ = 1;         // direct I/O's offset and length alignment (1: none)
  const uint64_t end_;         // the range's end
  uint64_t first_ = 0;         // the first piece's file offset (begin aligned down)
  uint64_t pieces_total_ = 0;  // pieces that cover the range
  uint64_t position_;          // the caller's: the next byte read() hands out
  uint64_t taking_ = 0;        // the caller's: the piece number read() takes from

  std::mutex mu_;
  std::condition_variable changed_;
  std::array<Piece, kPieces> pieces_;  // piece n in pieces_[n % kPieces]; ready guarded by mu_
  uint64_t given_back_ = 0;            // guarded by mu_: pieces the caller is done with
  bool stop_ = false;                  // guarded by mu_

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace zsfs::disk
