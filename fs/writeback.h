// Writeback: moves cold blocks' payloads from the pool to the backing file (disk/backing_file.h),
// as zram's writeback moves idle and huge pages to its backing device; RAM keeps only where each
// one is (its dedup entry, 20 bytes, as before).
//
// When:
// - Memory pressure: when the budget's free room falls below the low-water mark (1/64 of the
//   budget, at least 2 MiB), the thread moves blocks out until twice that is free again; and a
//   writer that finds the budget full calls relieve() (from DedupStore::put), which moves a round
//   of blocks itself, so that ENOSPC comes only when the backing file is full too. Direct
//   recompression (file_io.cc) comes after that, once the file is full.
// - Idle blocks: with writeback_after=T, every block stored at least T ago, in passes every T/2
//   (at least every minute).
// - Requests: zsfsctl writeback [--idle SECONDS] [--huge] (user.zsfs.writeback) queues a pass
//   over every block stored that long ago (or only the raw ones).
// Which blocks under pressure: each shard's entries from where the last round stopped (a clock
// hand). Entries are allocated in order and freed slots reused lowest first, so this is roughly
// the order blocks were stored: the oldest go first, and blocks stored together leave together,
// which empties whole zspages (the pool gives their pages back at once). Reads do not count:
// entries have no room for an access bit, and the kernel's page cache keeps what is read often.
// After a round the pool is compacted, so that objects freed here and there become free pages.
//
// Locks, in this order: the filesystem's quiesce lock, shared (the thread takes it for each batch,
// as the recompressor does, so that the consistency check never sees its pins; relieve() runs
// under the caller's, which every writer holds); move_mu_, held for one batch at a time (one
// mover at a time, and it guards the clock hands); then the store's, pool's and file's own. mu_
// guards the queue and the statistics and is held for neither.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/budget.h"
#include "base/json_fwd.h"
#include "base/result.h"
#include "base/sync.h"
#include "disk/backing_file.h"
#include "fs/dedup_store.h"
#include "pool/pool.h"

namespace zsfs::fs {

struct WritebackConfig {
  // Blocks stored this long ago move to the file; nullopt: only under pressure and on request.
  std::optional<std::chrono::seconds> after;
};

// A pass asked for by a person (zsfsctl writeback).
struct WritebackRequest {
  std::chrono::seconds idle{0};
  bool huge_only = false;
};

class Writeback {
 public:
  // Blocks moved per batch (one write to the file, one hold of the quiesce lock).
  static constexpr size_t kBatch = 64;

  // Everything given must outlive the writeback. Starts the thread.
  Writeback(DedupStore* store, pool::Pool* pool, MemoryBudget* budget, RwLock* quiesce,
            disk::BackingFile* backing, const WritebackConfig& config);
  ~Writeback();  // stops the thread after its batch
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  // For a writer the budget refused: moves a round of blocks now, on the calling thread, which
  // holds the quiesce lock shared. Returns whether trying again may succeed: it freed memory, or
  // the budget has the low-water mark free (someone else made room since the refusal).
  bool relieve();
  // Queues a pass.
  void request(const WritebackRequest& request);
  // No pass is running or queued.
  bool idle() const;
  // Free room below which the thread moves blocks out.
  uint64_t low_water_bytes() const { return low_water_; }
  // The "backing" section of the statistics: the file's figures (as zram's bd_stat) and this
  // thread's work.
  Json stats_json() const;

 private:
  struct Moved {
    uint64_t blocks = 0;
    uint64_t bytes = 0;
    bool failed = false;
  };
  void run();
  using Hands = std::array<uint32_t, DedupStore::shards()>;
  // Moves blocks matching filter, a batch from each shard in turn from its hand on (the hands
  // move on), until enough(moved so far) or every shard has been gone through to its end (its
  // hand is then back at its start). With hold_quiesce, each batch holds the quiesce lock shared.
  template <class Enough>
  Moved sweep(const DueFilter& filter, Hands& hands, bool hold_quiesce, Enough&& enough);
  // Moves blocks out until the budget has twice the low-water mark free, compacting the pool as
  // it goes. Returns what it moved.
  Moved relieve_pressure(bool hold_quiesce);
  void note(const Moved& moved, const char* why);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  DedupStore* store_;
  pool::Pool* pool_;
  MemoryBudget* budget_;
  RwLock* quiesce_;
  disk::BackingFile* backing_;
  const WritebackConfig config_;
  const uint64_t low_water_;

  std::mutex move_mu_;  // one batch moves at a time; guards the pressure hands
  Hands hands_{};       // the clock hands of pressure rounds

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<WritebackRequest> requests_;  // guarded by mu_
  bool busy_ = false;
  uint64_t requests_total_ = 0;
  uint64_t requests_done_ = 0;
  uint64_t rounds_ = 0;       // pressure rounds of the thread
  uint64_t reliefs_ = 0;      // rounds run by writers the budget refused
  uint64_t idle_passes_ = 0;  // writeback_after passes
  uint64_t moved_blocks_ = 0;
  uint64_t moved_bytes_ = 0;
  uint64_t failures_ = 0;  // batches the file refused (full, or a failed write)
  std::string last_error_;
  uint64_t ticks_ = 0;  // the thread's own
  std::atomic<bool> stop_{false};

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace zsfs::fs
