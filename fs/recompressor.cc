// Recompressor (see recompressor.h).
#include "fs/recompressor.h"

#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/log.h"
#include "base/threads.h"
#include "codec/dictionary.h"

namespace zsfs::fs {
namespace {

// How often the thread looks for due blocks when automatic passes are on: often enough that a
// block waits little longer than recompress_after, rarely enough that an idle mount sleeps.
std::chrono::seconds tick_for(const RecompressConfig& config) {
  if (!config.enabled || !config.after) return std::chrono::hours(1);
  return std::clamp<std::chrono::seconds>(*config.after / 2, std::chrono::seconds(1),
                                          std::chrono::seconds(60));
}

// Samples a dictionary is trained on, per byte of dictionary: 64 times its size trained a
// dictionary within 1% of what 128 times did on the Linux tree (257.5 against 256.3 MiB at
// level 9, 112 KiB), in half the time and memory; 16 times is the least worth training on.
constexpr size_t kSamplesPerDictByte = 64;
constexpr size_t kMinSamplesPerDictByte = 16;
// One sample in this many is held out of the training, to judge the new dictionary by.
constexpr uint64_t kHeldOutEvery = 16;
// The store's growth since the current dictionary was trained that calls for another, and how
// much less a new dictionary must store the held-out blocks in to replace it. Measured on the
// Linux tree untarred at 5 MiB/s (passes every second): see the commit that made them.
constexpr uint64_t kRetrainGrowth = 2;
constexpr uint64_t kMinGainPercent = 2;

codec::Compressor make_secondary(const RecompressConfig& config) {
  codec::CodecConfig codec_config;
  codec_config.algorithm = codec::Algorithm::kZstd;
  codec_config.level = config.level;
  codec_config.raw_threshold_bytes = config.raw_threshold_bytes;
  Result<codec::Compressor> compressor = codec::Compressor::create(codec_config);
  ZSFS_CHECK_MSG(compressor.ok(), "the recompression level was validated");
  return *compressor;
}

// Runs the calling thread only when a CPU would otherwise idle.
void lower_priority() {
  sched_param param{};
  if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
    log(LogLevel::kWarning, "recompressor: cannot use SCHED_IDLE: %s", std::strerror(errno));
  }
}

}  // namespace

Recompressor::Recompressor(DedupStore* store, DictionarySet* dicts, MemoryBudget* budget,
                           RwLock* quiesce, const RecompressConfig& config,
                           std::function<void()> after_pass, const ForegroundMeter* foreground)
    : store_(store),
      dicts_(dicts),
      budget_(budget),
      quiesce_(quiesce),
      config_(config),
      secondary_(make_secondary(config)),
      after_pass_(std::move(after_pass)),
      pacer_(foreground, config.pacing,
             BackgroundPacer::Hooks{[] { return BackgroundPacer::Clock::now(); },
                                    [this](BackgroundPacer::Clock::duration d) {
                                      std::unique_lock lock(mu_);
                                      return !wake_.wait_for(lock, d, [&] { return stopping(); });
                                    }}),
      thread_([this] { run(); }) {}

Recompressor::~Recompressor() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  thread_.join();
}

Status Recompressor::request(const RecompressRequest& request) {
  if (!config_.enabled) return Errno{EOPNOTSUPP};
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    ++stats_.requests;
  }
  wake_.notify_all();
  return {};
}

bool Recompressor::idle() const {
  std::lock_guard lock(mu_);
  return requests_.empty() && !stats_.busy;
}

bool Recompressor::wait_turn(BackgroundPacer::Clock::duration expected,
                             BackgroundPacer::Clock::duration quiet_for) {
  const bool go = pacer_.wait_turn(expected, quiet_for);
  std::lock_guard lock(mu_);
  stats_.paced_waits = pacer_.stats().waits;
  stats_.paced_seconds = pacer_.stats().waited_seconds;
  return go;
}

RecompressorStats Recompressor::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Recompressor::run() {
  name_this_thread("zsfs-recompress");
  lower_priority();
  const std::chrono::seconds tick = tick_for(config_);
  auto last_clamp = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping()) {
    wake_.wait_for(lock, tick, [&] { return stopping() || !requests_.empty(); });
    if (stopping()) break;
    std::optional<RecompressRequest> request;
    if (!requests_.empty()) {
      request = requests_.front();
      requests_.pop_front();
    }
    const bool automatic = !request && config_.enabled && config_.after.has_value();
    if (!request && !automatic) {
      // Nothing to do but keep the store's clocks from wrapping (they do after 18 hours).
      const auto now = std::chrono::steady_clock::now();
      lock.unlock();
      retire_unused_dictionary();
      if (now - last_clamp >= DedupStore::kMaxAge / 4) {
        store_->clamp_clocks();
        last_clamp = now;
      }
      lock.lock();
      continue;
    }
    DueFilter filter;
    if (request) {
      filter.idle = request->idle;
      filter.huge_only = request->huge_only;
    } else {
      filter.idle = *config_.after;
    }
    stats_.busy = true;
    const uint64_t kept_before = stats_.kept;
    lock.unlock();
    // The pass runs in a thread of its own, at this one's priority, whose end takes away its
    // zstd contexts (level 15, with a dictionary) and the chunks it and the compaction after it
    // freed into its malloc cache (base/threads.h) until the next pass.
    run_in_own_thread([&] {
      pass(filter);
      // So do the dictionary's compression forms (17 MB for 1 MiB at level 15; 0.2 s to make
      // again).
      dicts_->rest_current();
      if (after_pass_ && stats().kept != kept_before) after_pass_();
      // A dictionary no block uses (its blocks were deleted, or none compressed better with
      // it) gives its memory back; a training waits for new data.
      retire_unused_dictionary();
    });
    last_clamp = std::chrono::steady_clock::now();
    lock.lock();
    stats_.busy = false;
    ++stats_.passes;
    if (request) ++stats_.requests_done;
  }
}

void Recompressor::pass(const DueFilter& filter) {
  if (config_.dict) maybe_train(filter);
  // Once for each dictionary installed, the blocks settled without it (with none, or with the
  // dictionary it replaced) are due again: the sweep. It is done when a pass had the dictionary
  // for every batch.
  DueFilter due = filter;
  const uint64_t installs = dicts_->installed_total();
  const DictSlot current = dicts_->current_slot();
  if (config_.dict && !filter.huge_only && current != kNoDict && installs != swept_installs_) {
    due.redo_for = current;
  }
  bool swept = due.redo_for != kNoDict;
  std::vector<BlockRef> batch;
  batch.reserve(kBatch);
  for (unsigned shard = 0; shard < DedupStore::shards() && !stopping(); ++shard) {
    uint32_t cursor = 0;
    bool more = true;
    while (more && !stopping()) {
      // Outside any lock: a busy foreground is waited for here.
      if (!wait_turn(last_batch_)) break;
      // The quiesce lock, shared, keeps the consistency check from seeing the pins.
      ReaderLock quiesce(*quiesce_);
      // As reclaim(): a full budget must not stop re-encoding, which makes room in it.
      const MemoryBudget::ReserveScope reserve;
      batch.clear();
      more = store_->collect_due(shard, &cursor, due, &batch);
      if (batch.empty()) continue;  // (a pin would wake a resting dictionary for nothing)
      // The current dictionary, pinned for the batch (it may be replaced meanwhile).
      const DictionarySet::Pin dict = config_.dict ? dicts_->current() : DictionarySet::Pin();
      if (dict.slot() == kNoDict) {
        swept = false;
      } else {
        offered_slot_ = dict.slot();
        offered_installs_ = dicts_->installed_total();
      }
      RecompressorStats done;
      for (BlockRef ref : batch) {
        const bool measure =
            dict.slot() != kNoDict && ++gain_samples_ % config_.gain_sample_every == 0;
        const Reencoded r = store_->reencode(ref, secondary_, dict, measure);
        store_->unref(ref);
        count(r, &done);
        if (measure && r.new_encoding == codec::Encoding::kZstd) {
          note_gain(r.new_bytes, r.bytes_without_dict);
        }
        // New data, which a next dictionary waits for (not the sweep's blocks).
        if (!r.redone) bytes_since_training_ += codec::kBlockSize;
      }
      add_to_stats(done);
      last_batch_ = pacer_.since_turn();
    }
    // A dictionary whose gain has halved is replaced before the next shard is done.
    if (config_.dict && gain_decayed_) maybe_train(filter);
  }
  if (swept && !stopping()) swept_installs_ = installs;
}

void Recompressor::retire_unused_dictionary() {
  // One no pass has offered to blocks yet (an image's, or one installed after a pass's last
  // batch) waits for a pass to do so.
  if (offered_slot_ == kNoDict || offered_slot_ != dicts_->current_slot() ||
      offered_installs_ != dicts_->installed_total()) {
    return;
  }
  dicts_->retire_current_if_unused();
}

void Recompressor::count(const Reencoded& r, RecompressorStats* into) const {
  ++into->tried;
  switch (r.outcome) {
    case Reencoded::Outcome::kSmaller:
      ++into->kept;
      into->bytes_before += r.old_bytes;
      into->bytes_after += r.new_bytes;
      break;
    case Reencoded::Outcome::kFailed:
      ++into->failed;
      break;
    case Reencoded::Outcome::kNotSmaller:
      break;
  }
}

void Recompressor::add_to_stats(const RecompressorStats& done) {
  std::lock_guard lock(mu_);
  stats_.tried += done.tried;
  stats_.kept += done.kept;
  stats_.failed += done.failed;
  stats_.bytes_before += done.bytes_before;
  stats_.bytes_after += done.bytes_after;
  stats_.reclaims += done.reclaims;
  stats_.reclaimed_bytes += done.reclaimed_bytes;
}

uint64_t Recompressor::reclaim(uint64_t bytes) {
  if (!config_.enabled) return 0;
  // The new, smaller copy of a block is made before the old one goes: from the reserve.
  const MemoryBudget::ReserveScope reserve;
  const DictionarySet::Pin dict = config_.dict ? dicts_->current() : DictionarySet::Pin();
  std::vector<BlockRef> batch;
  batch.reserve(kBatch);
  RecompressorStats done;
  uint64_t shrunk = 0;
  // A block that could not be re-encoded found the reserve full: the old copies freed so far
  // must be compacted into free pages before more new ones fit. (Or it was corrupt, and is
  // settled: the next call does not meet it again.)
  bool reserve_full = false;
  auto enough = [&] { return shrunk >= bytes || reserve_full; };
  const unsigned first = reclaim_shard_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < DedupStore::shards() && !enough(); ++i) {
    const unsigned shard = (first + i) % DedupStore::shards();
    uint32_t cursor = 0;
    bool more = true;
    while (more && !enough()) {
      batch.clear();
      more = store_->collect_due(shard, &cursor, DueFilter{}, &batch);
      for (BlockRef ref : batch) {
        // Once enough room is made, the rest of the batch is only unpinned.
        if (!enough()) {
          const Reencoded r = store_->reencode(ref, secondary_, dict);
          count(r, &done);
          if (r.outcome == Reencoded::Outcome::kSmaller) shrunk += r.old_bytes - r.new_bytes;
          if (r.outcome == Reencoded::Outcome::kFailed) reserve_full = true;
        }
        store_->unref(ref);
      }
    }
    if (enough()) reclaim_shard_.store(shard, std::memory_order_relaxed);
  }
  done.reclaimed_bytes = shrunk;
  done.reclaims = 1;
  add_to_stats(done);
  return shrunk;
}

void Recompressor::note_gain(uint32_t with_dict, uint32_t without_dict) {
  window_with_ += with_dict;
  window_without_ += without_dict;
  if (++window_count_ < config_.gain_window) return;
  const double gain = window_without_ == 0 ? 0.0
                                           : 1.0 - static_cast<double>(window_with_) /
                                                       static_cast<double>(window_without_);
  if (gain_when_new_ < 0) gain_when_new_ = gain;
  gain_decayed_ = gain < gain_when_new_ / 2;
  {
    std::lock_guard lock(mu_);
    stats_.dict_gain = gain;
    stats_.dict_gain_new = gain_when_new_;
  }
  window_with_ = window_without_ = window_count_ = 0;
}

void Recompressor::maybe_train(const DueFilter& filter) {
  const bool have_dict = dicts_->current_slot() != kNoDict;
  const bool decayed = have_dict && gain_decayed_;
  DueFilter whole;
  whole.stored = true;
  const uint64_t stored_blocks = store_->count_due(whole);
  // A dictionary that came with an image counts as trained on what is stored now.
  if (have_dict && trained_at_blocks_ == 0) trained_at_blocks_ = stored_blocks;
  const bool grown = stored_blocks >= kRetrainGrowth * trained_at_blocks_;
  if (have_dict && !decayed && !grown) return;
  // Every training after the first waits for as much new data as the first did (also after a
  // dictionary no block used was retired, and after a failure).
  if ((have_dict || trained_ || training_failed_) &&
      bytes_since_training_ < config_.min_training_bytes) {
    return;
  }
  // Nor while no block is due: a dictionary would only wait for them (and an untar faster than
  // recompress_after would train it on the part of the store written so far, beside the writer).
  if (!decayed && store_->count_due(filter) == 0) return;
  // A dictionary whose gain decayed gives way to one trained on the blocks due now (new data of
  // another kind). Otherwise the samples come from the whole store, settled blocks too: a
  // dictionary trained on what happened to be due first (the first directories of a tree, or
  // the few MiB each pass finds when passes keep up with the writes) fits the rest badly.
  DueFilter due = decayed ? filter : whole;
  due.every = 1;
  const uint64_t due_blocks = decayed ? store_->count_due(due) : stored_blocks;
  if (due_blocks * codec::kBlockSize < config_.min_training_bytes) return;
  // A training is one piece of work of seconds, which cannot pause once begun: it begins when
  // the foreground pauses, or leaves room for all of it.
  if (!wait_turn(last_training_, config_.quiet_before_training)) return;

  // The sample buffer is charged to the budget while it lives; a tight budget trains on less.
  size_t sample_bytes = config_.dict_size_bytes * kSamplesPerDictByte;
  sample_bytes = std::min<uint64_t>(sample_bytes, due_blocks * codec::kBlockSize);
  sample_bytes -= sample_bytes % codec::kBlockSize;
  // The charge and its record change together under the quiesce lock, so that the consistency
  // check always finds them equal.
  auto charge = [&](size_t bytes) {
    ReaderLock quiesce(*quiesce_);
    if (!budget_->try_charge(bytes)) return false;
    charged_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return true;
  };
  auto uncharge = [&](size_t bytes) {
    ReaderLock quiesce(*quiesce_);
    budget_->uncharge(bytes);
    charged_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  };
  while (sample_bytes >= config_.dict_size_bytes * kMinSamplesPerDictByte &&
         !charge(sample_bytes)) {
    sample_bytes /= 2;
    sample_bytes -= sample_bytes % codec::kBlockSize;
  }
  if (sample_bytes < config_.dict_size_bytes * kMinSamplesPerDictByte) return;
  const size_t wanted = sample_bytes / codec::kBlockSize;

  // Every kHeldOutEvery-th sample is kept out of the training, to judge the new dictionary by.
  std::vector<std::byte> samples;
  samples.reserve(sample_bytes);
  std::vector<std::byte> held_out;
  due.every = static_cast<uint32_t>(std::max<uint64_t>(1, due_blocks / wanted));
  std::vector<BlockRef> batch;
  batch.reserve(kBatch);
  alignas(64) std::array<std::byte, codec::kBlockSize> block;
  uint64_t taken = 0;
  for (unsigned shard = 0; shard < DedupStore::shards() && !stopping(); ++shard) {
    uint32_t cursor = 0;
    bool more = true;
    while (more && samples.size() + held_out.size() < sample_bytes && !stopping()) {
      ReaderLock quiesce(*quiesce_);
      batch.clear();
      more = store_->collect_due(shard, &cursor, due, &batch);
      for (BlockRef ref : batch) {
        if (samples.size() + held_out.size() < sample_bytes && store_->decode(ref, block).ok()) {
          std::vector<std::byte>& into = ++taken % kHeldOutEvery == 0 ? held_out : samples;
          into.insert(into.end(), block.begin(), block.end());
        }
        store_->unref(ref);
      }
    }
  }
  Result<std::vector<std::byte>> trained =
      stopping() ? Result<std::vector<std::byte>>(Errno{ECANCELED})
                 : codec::train_dictionary(samples, config_.dict_size_bytes, config_.level);
  samples = {};
  // The samples and the trainer's tables (several MiB) came from this thread's malloc arena,
  // which keeps freed memory unless asked to give it back.
  malloc_trim(0);
  int error = trained.ok() ? 0 : trained.error();
  bool discarded = false;
  if (trained.ok() && !stopping()) {
    Result<std::unique_ptr<codec::Dictionary>> made = dicts_->digest(*trained);
    if (!made.ok()) {
      error = made.error();
    } else if (have_dict && !decayed) {
      // The new dictionary replaces the current one (and the sweep moves every block to it)
      // only when it does better by kMinGainPercent on the held-out blocks.
      const size_t cost = (*made)->memory_bytes();
      if (!charge(cost)) {
        error = ENOSPC;
      } else {
        discarded = !better_than_current(**made, held_out);
        uncharge(cost);
      }
    }
    if (error == 0 && !discarded) {
      Result<DictSlot> slot = dicts_->install(std::move(*made));
      if (!slot.ok()) error = slot.error();
    }
  }
  uncharge(sample_bytes);
  if (stopping()) return;
  last_training_ = pacer_.since_turn();
  bytes_since_training_ = 0;
  trained_at_blocks_ = stored_blocks;
  training_failed_ = error != 0;
  std::lock_guard lock(mu_);
  stats_.last_training_seconds = std::chrono::duration<double>(last_training_).count();
  if (error != 0) {
    ++stats_.training_failures;
    log(LogLevel::kWarning, "recompressor: no dictionary from %llu blocks: %s",
        static_cast<unsigned long long>(due_blocks), std::strerror(error));
    return;
  }
  if (discarded) {
    ++stats_.trainings_discarded;
    return;
  }
  ++stats_.trainings;
  trained_ = true;
  gain_when_new_ = -1;
  gain_decayed_ = false;
  window_with_ = window_without_ = window_count_ = 0;
}

bool Recompressor::better_than_current(const codec::Dictionary& candidate,
                                       std::span<const std::byte> blocks) const {
  const DictionarySet::Pin current = dicts_->current();
  if (current.slot() == kNoDict) return true;
  uint64_t with_current = 0;
  uint64_t with_candidate = 0;
  alignas(64) std::array<std::byte, codec::kBlockSize> out;
  for (size_t at = 0; at + codec::kBlockSize <= blocks.size(); at += codec::kBlockSize) {
    const codec::Block block(blocks.data() + at, codec::kBlockSize);
    with_current += secondary_.compress(block, out, current.get()).size_bytes;
    with_candidate += secondary_.compress(block, out, &candidate).size_bytes;
  }
  return with_candidate * 100 <= with_current * (100 - kMinGainPercent);
}

}  // namespace zsfs::fs
