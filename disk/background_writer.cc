// BackgroundWriter (see background_writer.h).
#include "disk/background_writer.h"

#include <fcntl.h>

#include <system_error>

#include "disk/file_io.h"

namespace zsfs::disk {
namespace {

// See the header: how often the kernel is asked to start writing back.
constexpr uint64_t kStartWritebackBytes = 32 << 20;

}  // namespace

BackgroundWriter::BackgroundWriter(int fd, uint64_t offset, std::string point, std::string path,
                                   SyncAhead sync_ahead)
    : fd_(fd),
      point_(std::move(point)),
      path_(std::move(path)),
      sync_ahead_(std::move(sync_ahead)),
      written_(offset),
      started_writeback_(offset),
      synced_(offset) {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    return;  // no thread: submit() writes on the caller's thread, nothing is synced ahead
  }
  if (sync_ahead_.every == 0) return;
  try {
    syncer_ = std::thread([this] { run_syncer(); });
  } catch (const std::system_error&) {
    // Nothing is synced ahead: the caller's fsync does it all.
  }
}

BackgroundWriter::~BackgroundWriter() {
  (void)finish();  // without a caller's finish(): a failure no one asks for any more
}

Problem BackgroundWriter::write_now(std::span<const std::byte> bytes) {
  Problem p = write_all(fd_, bytes, point_, path_);
  uint64_t from = 0;
  uint64_t to = 0;
  {
    std::lock_guard lock(mu_);
    if (p) {
      if (!failure_) failure_ = p;
      return p;
    }
    written_ += bytes.size();
    if (written_ - started_writeback_ >= kStartWritebackBytes) {
      from = started_writeback_;
      to = written_;
      started_writeback_ = written_;
    }
  }
  // Only a hint: a failure shows at the fsync.
  if (to > from) {
    ::sync_file_range(fd_, static_cast<off_t>(from), static_cast<off_t>(to - from),
                      SYNC_FILE_RANGE_WRITE);
  }
  return {};
}

void BackgroundWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return busy_ || stop_; });
    if (!busy_) return;  // stopped, nothing in flight
    const std::span<const std::byte> bytes = pending_;
    lock.unlock();
    (void)write_now(bytes);  // kept in failure_
    lock.lock();
    busy_ = false;
    pending_ = {};
    changed_.notify_all();  // the caller's next buffer, and the syncer's count
  }
}

void BackgroundWriter::run_syncer() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stop_ || static_cast<bool>(failure_) || written_ - synced_ >= sync_ahead_.every;
    });
    if (stop_ || failure_) return;
    const uint64_t target = written_;
    lock.unlock();
    const Problem p = sync_file(fd_, sync_ahead_.point, path_);
    lock.lock();
    ++syncs_;
    if (p) {
      if (!failure_) failure_ = p;
      changed_.notify_all();  // the caller's next submit() returns it at once
      return;
    }
    synced_ = target;
  }
}

Problem BackgroundWriter::submit(std::span<const std::byte> bytes) {
  if (!thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      if (failure_) return failure_;
    }
    return write_now(bytes);
  }
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !busy_; });
  if (failure_) return failure_;
  pending_ = bytes;
  busy_ = true;
  changed_.notify_all();
  return {};
}

Problem BackgroundWriter::finish() {
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return !busy_; });
    stop_ = true;
  }
  // The threads end: the writer has nothing in flight, the syncer ends its sync, if any, first.
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (syncer_.joinable()) syncer_.join();
  std::lock_guard lock(mu_);
  return failure_;
}

uint64_t BackgroundWriter::bytes_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

uint64_t BackgroundWriter::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace zsfs::disk
