// BackgroundWriter: appends buffers to a file from a thread of its own, so that the kernel's copy
// of one buffer (and the file system's block allocation behind it) runs while the caller makes the
// next one. An image save spends about as long in write(2) as in making its frames; on two cores
// the two overlap.
//
// Use with two buffers: submit(A) hands A over and returns at once; the caller fills B;
// submit(B) first waits until A is written, so A is the caller's again when it returns. wait()
// waits until everything submitted is written. Every write goes through write_all() (file_io.h),
// with its fault point, in submission order; the first failure is kept and returned by the next
// submit() or wait(), and nothing submitted after it is written.
//
// Every this many bytes the kernel is asked to start writing back what was written
// (sync_file_range), so that the final fsync has little left to wait for.
//
// When the thread cannot start, submit() writes on the caller's thread: slower, never wrong.
//
// Thread safety: one caller thread. Locks: mu_, a leaf, guards the hand-over; the writes run
// without it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "disk/problem.h"

namespace zsfs::disk {

class BackgroundWriter {
 public:
  // fd: open for writing, at file offset offset, where the buffers go; it must outlive the
  // writer. point names the fault point of the writes, path the file in messages.
  BackgroundWriter(int fd, uint64_t offset, std::string point, std::string path);
  ~BackgroundWriter();  // waits for the write in flight
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Waits for the previous buffer's write, then hands bytes over (unless a write failed: then it
  // returns that failure and bytes are not written). bytes must stay untouched until the next
  // submit() or wait() returns.
  Problem submit(std::span<const std::byte> bytes);
  // Waits until every buffer submitted is written; the first failure, if any.
  Problem wait();
  // The file's offset after what was written so far.
  uint64_t bytes_written() const;

 private:
  void run();
  // Writes bytes on the calling thread; records a failure.
  Problem write_now(std::span<const std::byte> bytes);

  const int fd_;
  const std::string point_;
  const std::string path_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::span<const std::byte> pending_;  // guarded by mu_: submitted, not yet written
  bool busy_ = false;                   // guarded by mu_: pending_ holds a buffer
  bool stop_ = false;                   // guarded by mu_
  Problem failure_;                     // guarded by mu_: the first failed write
  uint64_t written_;                    // guarded by mu_: the file offset written up to
  uint64_t started_writeback_;          // guarded by mu_: where writeback was last started

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace zsfs::disk
