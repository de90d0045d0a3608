// Recompressor: the second codec tier. Blocks are first stored in the fast primary encoding
// (lz4 by default); once they have not been written for a while, a background thread decodes
// them and compresses them again with zstd at a higher level, against a dictionary trained on
// the mount's own blocks, and keeps the result only when the pool holds it in a smaller object.
// It is zram's recompression (recomp_algorithm, `recompress type=idle|huge`) with what zram
// cannot have: a dictionary made from this filesystem's data.
//
// What it does, per pass over the dedup store (DedupStore::collect_due, reencode):
// - Due blocks: stored, not staged, not yet settled, stored at least `idle` ago (the automatic
//   passes use recompress_after), optionally only the huge (raw) ones. Each is re-encoded once
//   and then settled, whether or not the new encoding was kept.
// - Dictionaries: with dict=on, once min_training_bytes of blocks are stored (settled or not:
//   DueFilter::stored) and some are due, it samples them evenly across the whole store (up to 64
//   times the dictionary size), trains a dictionary (codec::train_dictionary) and installs it in
//   the DictionarySet. Each time the store has grown kRetrainGrowth times since, it trains
//   another the same way (when some blocks are due: a dictionary trained before would only wait,
//   on less of the store) and installs it only when it stores the samples held out of its
//   training in kMinGainPercent less than the current one (else it is discarded). Samples from
//   the whole store, not from the blocks due first: passes that keep up with the writes find a
//   few MiB due each, and the first directories of a tree are not the rest of it.
// - The sweep: the first pass after a dictionary is installed re-encodes, with it, the blocks
//   settled without it (with none, or with one it replaced; DueFilter::redo_for); a block
//   leaves a replaced dictionary when its new form is no larger, so that the old one can go.
// - Gain: it measures the current dictionary's gain on one block in gain_sample_every (the same
//   block compressed without it); when the gain over the last gain_window samples falls below
//   half of what it was when the dictionary was new, it trains a new one on the blocks due then
//   (new data of another kind) and installs it. Every training after the first waits for
//   min_training_bytes of due blocks re-encoded since the last (the sweep's do not count).
// - Old dictionaries stay while blocks use them. A current dictionary that no block uses once a
//   pass has offered it to blocks (none compressed better with it, or its blocks were deleted
//   since) is retired, so that its memory returns. One no pass has offered yet (an image's) is
//   kept.
// - Requests: zsfsctl recompress queues a pass with its own filter (request()); queued passes
//   run before the next automatic one, and idle() tells when none is left.
//
// Cost and priority: the thread runs under SCHED_IDLE, so it gets a CPU only when nothing else
// wants it, and works in batches of kBatch blocks; it holds the filesystem's quiesce lock shared
// for a batch (as any writer does; only the consistency check takes it exclusively) and a shard
// lock only to copy one payload or swap one in (see DedupStore). It never holds a lock a request
// waits on for longer than one block. SCHED_IDLE is not enough on two cores (a stream of
// requests lost 37 to 49% to it): before each batch and each training it also gives way to a busy
// foreground (BackgroundPacer), and a training, which cannot pause once begun, waits for the
// foreground to pause for quiet_before_training first.
//
// Thread safety: request(), reclaim(), stats() and idle() may be called from any thread. The
// destructor stops the thread after the block it is working on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "base/budget.h"
#include "base/sync.h"
#include "codec/codec.h"
#include "fs/background_pacer.h"
#include "fs/dedup_store.h"
#include "fs/dictionary_set.h"
#include "fs/stats.h"
#include "fs/types.h"

namespace zsfs::fs {

struct RecompressConfig {
  // The secondary codec is zstd at level; off means no automatic passes and no requests.
  bool enabled = true;
  int level = kDefaultRecompressLevel;
  // Blocks stored this long ago are due for the automatic passes; nullopt: no automatic passes
  // (requests only).
  std::optional<std::chrono::seconds> after = std::chrono::seconds(60);
  // Train dictionaries of at most dict_size_bytes on the mount's blocks, and compress with them.
  bool dict = true;
  size_t dict_size_bytes = codec::kMaxDictionaryBytes;
  // Results of this size or more are kept raw (the pool's huge-class size).
  size_t raw_threshold_bytes = 4096;
  // Stored data needed before a dictionary is trained, and new data before one is trained again:
  // smaller stores gain less than a dictionary costs (a 112 KiB dictionary and its digested
  // forms take about 1.4 MB at level 9, 2.1 MB at 15).
  uint64_t min_training_bytes = 16 << 20;
  // One block in gain_sample_every is also compressed without the dictionary, to measure its
  // gain; the gain is judged over gain_window such samples.
  uint64_t gain_sample_every = 16;
  uint64_t gain_window = 256;
  // How the passes and trainings give way to a busy foreground (background_pacer.h). A
  // training, which cannot pause once begun, also waits for the foreground to pause this long
  // (between the end of an untar and the next command there are a few hundred milliseconds).
  PacerConfig pacing;
  std::chrono::milliseconds quiet_before_training{2000};
};

// A pass asked for by a person (zsfsctl recompress): which blocks.
struct RecompressRequest {
  std::chrono::seconds idle{0};
  bool huge_only = false;
};

class Recompressor {
 public:
  // Blocks re-encoded per batch (and per hold of the quiesce lock).
  static constexpr size_t kBatch = 64;

  // store, dicts, budget, quiesce and foreground (if not null) must outlive the recompressor.
  // after_pass, if given, is called (on the recompressor's thread) after a pass that replaced
  // payloads, which leaves the pool's zspages full of holes: the filesystem compacts it then,
  // and counts the change for the image.
  // foreground counts the requests the passes and trainings give way to. Starts the thread.
  Recompressor(DedupStore* store, DictionarySet* dicts, MemoryBudget* budget, RwLock* quiesce,
               const RecompressConfig& config, std::function<void()> after_pass = {},
               const ForegroundMeter* foreground = nullptr);
  ~Recompressor();
  Recompressor(const Recompressor&) = delete;
  Recompressor& operator=(const Recompressor&) = delete;

  // Queues a pass. EOPNOTSUPP when recompression is off.
  Status request(const RecompressRequest& request);
  // Direct recompression, for a writer the budget has refused: re-encodes blocks not yet
  // settled, whatever their age, in the calling thread, until the pool's objects have shrunk by
  // at least `bytes`, none is left, or the budget's reserve has no room for another new copy
  // (then the caller compacts the pool and tries again, or calls again). Returns the bytes by
  // which the objects shrank. The caller holds the quiesce lock shared, as any writer does. No
  // dictionary is trained here: the current one is used, if any.
  uint64_t reclaim(uint64_t bytes);
  // No pass is running or queued.
  bool idle() const;
  RecompressorStats stats() const;
  const RecompressConfig& config() const { return config_; }
  // Bytes the recompressor has charged to the budget for itself (training samples, while it
  // trains).
  uint64_t charged_bytes() const { return charged_bytes_.load(std::memory_order_relaxed); }

 private:
  void run();
  // One pass over every shard; returns early when stopping.
  void pass(const DueFilter& filter);
  // Retires the current dictionary if no block uses it and a pass has offered it to blocks.
  void retire_unused_dictionary();
  // Trains a dictionary when none is current and enough is stored, when the store has grown
  // kRetrainGrowth times since the current one was trained, or when its gain decayed (then on
  // the blocks due under filter), and installs it (a grown store's only when it does better).
  void maybe_train(const DueFilter& filter);
  // Whether candidate stores blocks (4 KiB each, end to end) in kMinGainPercent less than the
  // current dictionary does (true when there is none).
  bool better_than_current(const codec::Dictionary& candidate,
                           std::span<const std::byte> blocks) const;
  // Notes one gain sample (bytes with and without the dictionary).
  void note_gain(uint32_t with_dict, uint32_t without_dict);
  // Counts one block's outcome into a batch's figures, and a batch's into the statistics.
  void count(const Reencoded& r, RecompressorStats* into) const;
  void add_to_stats(const RecompressorStats& done);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // Waits until the foreground leaves room for work expected to take `expected` (see
  // BackgroundPacer::wait_turn); false when stopping.
  bool wait_turn(BackgroundPacer::Clock::duration expected,
                 BackgroundPacer::Clock::duration quiet_for = {});
  // What the first training is expected to take, before one has been timed: 64 MiB of samples
  // for a 1 MiB dictionary took 6 s on a 2-core EPYC host, 8 beside a busy foreground.
  static constexpr std::chrono::seconds kFirstTrainingGuess{8};

  DedupStore* store_;
  DictionarySet* dicts_;
  MemoryBudget* budget_;
  RwLock* quiesce_;
  const RecompressConfig config_;
  codec::Compressor secondary_;
  const std::function<void()> after_pass_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<RecompressRequest> requests_;  // guarded by mu_
  RecompressorStats stats_;                 // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> charged_bytes_{0};
  // Where reclaim() goes on looking: the shard after the one it last worked in.
  std::atomic<unsigned> reclaim_shard_{0};

  // Gain measurement, touched by the thread only.
  uint64_t gain_samples_ = 0;
  uint64_t window_with_ = 0;
  uint64_t window_without_ = 0;
  uint64_t window_count_ = 0;
  double gain_when_new_ = -1;  // below 0: not measured yet for the current dictionary
  bool gain_decayed_ = false;
  bool training_failed_ = false;
  bool trained_ = false;  // a dictionary was trained (it may be gone since)
  // Compressible blocks stored when the last training ended (DueFilter::stored).
  uint64_t trained_at_blocks_ = 0;
  // Blocks re-encoded since the last training, less those of sweeps.
  uint64_t bytes_since_training_ = 0;
  // DictionarySet::installed_total() when the last sweep (see pass()) ended.
  uint64_t swept_installs_ = 0;
  // The dictionary a batch last re-encoded with: its slot, and installed_total() then (which
  // only this thread changes), so that a later dictionary in the same slot is not taken for it.
  DictSlot offered_slot_ = kNoDict;
  uint64_t offered_installs_ = 0;
  // Pacing, touched by the thread only: what the last batch and the last training took.
  BackgroundPacer pacer_;
  BackgroundPacer::Clock::duration last_batch_{};
  BackgroundPacer::Clock::duration last_training_ = kFirstTrainingGuess;

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace zsfs::fs
