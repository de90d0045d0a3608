// BackgroundWriter: appends buffers to a file from a thread of its own, so that the kernel's copy
// of one buffer (and the file system's block allocation behind it) runs while the caller makes the
// next one. An image save spends about as long in write(2) as in making its frames; on two cores
// the two overlap.
//
// Use with two buffers: submit(A) hands A over and returns at once; the caller fills B;
// submit(B) first waits until A is written, so A is the caller's again when it returns. finish()
// waits until everything submitted is written and no sync ahead (below) is in flight, and ends
// the syncing; the caller then makes the file durable itself (fsync). Every write goes through
// write_all() (file_io.h), with its fault point, in submission order; the first failure is kept
// and returned by the next submit() or finish(), and nothing submitted after it is written.
//
// Making the file durable is spread over the writing, so that the caller's final fsync has little
// left to do:
// - every 32 MiB written, the kernel is asked to start writing it back (sync_file_range), which
//   costs the writer thread almost nothing;
// - with sync ahead (SyncAhead::every), a second thread syncs the file (fsync) each time that many
//   more bytes have been written, while the writes go on. Data written back is not yet durable:
//   the sync also commits the file system's journal and has the device flush its cache, which
//   costs in proportion to what was written since the last flush. Measured on a 2-core VM (virtio
//   disk, ext4): 250 MB written back (sync_file_range, waited for) in 0.045 s still took an fsync
//   of 0.15-0.17 s after it (the host writing the data out, most likely); written in 0.25 s, the
//   final fsync took 0.11-0.16 s alone, 0.03-0.05 s after syncs every 64 MiB. The syncs run beside
//   the writes, which do not wait for them; their failure is the writer's failure (a failed fsync
//   reports a write-back error once only, so the caller's later fsync could succeed over lost data:
//   finish() returns it).
//
// When the thread cannot start, submit() writes on the caller's thread, and nothing is synced
// ahead: slower, never wrong.
//
// Thread safety: one caller thread. Locks: mu_, a leaf, guards the hand-over and the sync
// progress; the writes and syncs run without it.
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

// Syncing the file while it is being written (see above). every = 0: never.
struct SyncAhead {
  uint64_t every = 0;
  std::string point;  // the fault point of these syncs (faults.h)
};

class BackgroundWriter {
 public:
  // fd: open for writing, at file offset offset, where the buffers go; it must outlive the
  // writer. point names the fault point of the writes, path the file in messages.
  BackgroundWriter(int fd, uint64_t offset, std::string point, std::string path,
                   SyncAhead sync_ahead = {});
  ~BackgroundWriter();  // waits for the write and the sync in flight
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Waits for the previous buffer's write, then hands bytes over (unless a write or a sync
  // failed: then it returns that failure and bytes are not written). bytes must stay untouched
  // until the next submit() or finish() returns.
  Problem submit(std::span<const std::byte> bytes);
  // Waits until every buffer submitted is written and the sync in flight, if any, is done, and
  // ends the writer's threads. The first failure of a write or a sync, if any. Nothing may be
  // submitted after it.
  Problem finish();
  // The file's offset after what was written so far.
  uint64_t bytes_written() const;
  // Syncs ahead done so far (for tests).
  uint64_t syncs() const;

 private:
  void run();
  void run_syncer();
  // Writes bytes on the calling thread; records a failure.
  Problem write_now(std::span<const std::byte> bytes);

  const int fd_;
  const std::string point_;
  const std::string path_;
  const SyncAhead sync_ahead_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::span<const std::byte> pending_;  // guarded by mu_: submitted, not yet written
  bool busy_ = false;                   // guarded by mu_: pending_ holds a buffer
  bool stop_ = false;                   // guarded by mu_: the threads end
  Problem failure_;                     // guarded by mu_: the first failed write or sync
  uint64_t written_;                    // guarded by mu_: the file offset written up to
  uint64_t started_writeback_;          // guarded by mu_: where writeback was last started
  uint64_t synced_;                     // guarded by mu_: the offset the last sync ahead covered
  uint64_t syncs_ = 0;                  // guarded by mu_
  // Last: started once everything above is ready.
  std::thread thread_;
  std::thread syncer_;  // only with sync ahead
};

}  // namespace zsfs::disk
