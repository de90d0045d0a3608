// Writeback (see writeback.h).
#include "fs/writeback.h"

#include <algorithm>
#include <vector>

#include "base/json.h"
#include "base/log.h"
#include "fs/filesystem_impl.h"

namespace zsfs::fs {
namespace {

// How often the thread looks at the budget: often enough that writers rarely find it full
// (a 300 MB/s writer fills 30 MiB between looks), rarely enough to cost nothing idle.
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr uint64_t kThoroughPunchTicks = 50;
// The low-water mark: 1/64 of the budget, at least 2 MiB.
uint64_t low_water_for(uint64_t limit) {
  return std::max<uint64_t>(limit / 64, 2 << 20);
}
// Idle passes come every half of writeback_after, at least every minute.
std::chrono::seconds idle_period(std::chrono::seconds after) {
  return std::clamp<std::chrono::seconds>(after / 2, std::chrono::seconds(1),
                                          std::chrono::seconds(60));
}

}  // namespace

Writeback::Writeback(DedupStore* store, pool::Pool* pool, MemoryBudget* budget, RwLock* quiesce,
                     disk::BackingFile* backing, const WritebackConfig& config)
    : store_(store),
      pool_(pool),
      budget_(budget),
      quiesce_(quiesce),
      backing_(backing),
      config_(config),
      low_water_(low_water_for(budget->limit_bytes())),
      thread_([this] { run(); }) {}

Writeback::~Writeback() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  thread_.join();
}

template <class Enough>
Writeback::Moved Writeback::sweep(const DueFilter& filter, Hands& hands, bool hold_quiesce,
                                  Enough&& enough) {
  Moved total;
  std::vector<BlockRef> batch;
  batch.reserve(kBatch);
  uint32_t exhausted = 0;  // a bit per shard gone through to its end
  constexpr uint32_t kAll = (uint64_t{1} << DedupStore::shards()) - 1;
  for (unsigned shard = 0; exhausted != kAll && !total.failed && !enough(total) && !stopping();
       shard = (shard + 1) % DedupStore::shards()) {
    if ((exhausted >> shard & 1) != 0) continue;
    std::optional<ReaderLock<RwLock>> quiesce;
    if (hold_quiesce) quiesce.emplace(*quiesce_);
    std::lock_guard move_lock(move_mu_);
    batch.clear();
    if (!store_->collect_resident(shard, &hands[shard], filter, &batch)) {
      hands[shard] = 0;
      exhausted |= 1u << shard;
    }
    if (batch.empty()) continue;
    const MovedToBacking moved = store_->move_to_backing(batch);
    for (BlockRef ref : batch)
      store_->unref(ref);
    total.blocks += moved.blocks;
    total.bytes += moved.bytes;
    if (moved.problem) {
      total.failed = true;
      std::lock_guard lock(mu_);
      ++failures_;
      last_error_ = moved.problem.message;
    }
  }
  return total;
}

Writeback::Moved Writeback::relieve_pressure(bool hold_quiesce) {
  Moved total;
  const DueFilter any;
  // Moving a payload frees its pool object; pages come free as zspages empty, and compaction
  // gathers the rest. Each round moves what the mark asks for, then compacts.
  for (int round = 0; round < 8 && budget_->available_bytes() < 2 * low_water_; ++round) {
    const uint64_t wanted = 2 * low_water_ - budget_->available_bytes();
    const Moved moved = sweep(any, hands_, hold_quiesce,
                              [&](const Moved& so_far) { return so_far.bytes >= wanted; });
    total.blocks += moved.blocks;
    total.bytes += moved.bytes;
    total.failed |= moved.failed;
    if (moved.blocks > 0) pool_->compact();
    if (moved.blocks == 0 || moved.failed) break;
  }
  return total;
}

bool Writeback::relieve() {
  const Moved moved = relieve_pressure(false);
  note(moved, nullptr);
  {
    std::lock_guard lock(mu_);
    ++reliefs_;
  }
  // The thread (or another writer) may have made the room between the caller's refusal and this
  // call, leaving nothing to move here: that is worth another try too.
  return moved.blocks > 0 || budget_->available_bytes() >= low_water_;
}

void Writeback::request(const WritebackRequest& request) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    ++requests_total_;
  }
  wake_.notify_all();
}

bool Writeback::idle() const {
  std::lock_guard lock(mu_);
  return requests_.empty() && !busy_;
}

void Writeback::note(const Moved& moved, const char* why) {
  std::lock_guard lock(mu_);
  moved_blocks_ += moved.blocks;
  moved_bytes_ += moved.bytes;
  if (why != nullptr && moved.blocks > 0) {
    // Rare enough to say: the rounds of one filling are a few lines.
    log(LogLevel::kInfo, "writeback: %s: moved %llu blocks (%llu bytes) to %s", why,
        static_cast<unsigned long long>(moved.blocks), static_cast<unsigned long long>(moved.bytes),
        backing_->path().c_str());
  }
}

void Writeback::run() {
  using Clock = std::chrono::steady_clock;
  auto next_idle_pass =
      config_.after ? Clock::now() + idle_period(*config_.after) : Clock::time_point::max();
  std::unique_lock lock(mu_);
  while (!stopping()) {
    wake_.wait_for(lock, kTick, [&] { return stopping() || !requests_.empty(); });
    if (stopping()) break;
    std::optional<WritebackRequest> request;
    if (!requests_.empty()) {
      request = requests_.front();
      requests_.pop_front();
    }
    busy_ = true;
    lock.unlock();
    if (request || Clock::now() >= next_idle_pass) {
      DueFilter filter;
      filter.idle = request ? request->idle : *config_.after;
      filter.huge_only = request && request->huge_only;
      Hands from_start{};
      const Moved moved = sweep(filter, from_start, true, [](const Moved&) { return false; });
      if (moved.blocks > 0) pool_->compact();
      note(moved, request ? "requested" : "idle blocks");
      if (!request) next_idle_pass = Clock::now() + idle_period(*config_.after);
    }
    if (budget_->available_bytes() < low_water_) {
      const Moved moved = relieve_pressure(true);
      note(moved, nullptr);
      std::lock_guard count_lock(mu_);
      ++rounds_;
    }
    // Short runs of freed space wait for a thorough look every few seconds: a punch costs the
    // file system as much for 4 KiB as for a megabyte.
    backing_->punch_freed(++ticks_ % kThoroughPunchTicks == 0);
    lock.lock();
    busy_ = false;
    if (request) {
      ++requests_done_;
    } else if (config_.after) {
      ++idle_passes_;
    }
  }
}

Json Writeback::stats_json() const {
  const disk::BackingStats b = backing_->stats();
  const StoreStats store = store_->stats();
  std::lock_guard lock(mu_);
  return {
      {"path", backing_->path()},
      {"limit_bytes", b.limit_bytes},
      {"unit_bytes", b.unit_bytes},
      {"direct_io", b.direct_io},
      {"bd_count", b.records},
      {"bd_bytes", b.payload_bytes},
      {"allocated_bytes", b.allocated_bytes},
      {"file_bytes", b.file_bytes},
      {"disk_bytes", b.disk_bytes},
      {"bd_reads", b.reads},
      {"bd_writes", b.writes},
      {"read_bytes", b.read_bytes},
      {"write_bytes", b.write_bytes},
      {"read_errors", b.read_errors},
      {"write_errors", b.write_errors},
      {"punched_bytes", b.punched_bytes},
      {"bitmap_bytes", b.bitmap_bytes},
      {"promoted", store.promoted_blocks},
      {"writeback_after", config_.after ? config_.after->count() : -1},
      {"low_water_bytes", low_water_},
      {"writeback",
       {
           {"busy", busy_},
           {"requests", requests_total_},
           {"requests_done", requests_done_},
           {"pressure_rounds", rounds_},
           {"reliefs", reliefs_},
           {"idle_passes", idle_passes_},
           {"moved_blocks", moved_blocks_},
           {"moved_bytes", moved_bytes_},
           {"failures", failures_},
           {"last_error", last_error_},
       }},
  };
}

// --- The filesystem's side ----------------------------------------------------------------------

disk::Problem Filesystem::Impl::open_backing() {
  ZSFS_CHECK_MSG(!config_.backing_path.empty() && backing_ == nullptr, "no backing, or opened");
  if (disk::Problem p = disk::BackingFile::open(config_.backing_path, config_.backing_size_bytes,
                                                &budget_, &backing_)) {
    return p;
  }
  WritebackConfig config;
  if (config_.writeback_after_seconds >= 0) {
    config.after = std::chrono::seconds(config_.writeback_after_seconds);
  }
  writeback_ = std::make_unique<Writeback>(&store_, pool_.get(), &budget_, &quiesce_mu_,
                                           backing_.get(), config);
  store_.attach_backing(
      backing_.get(), [writeback = writeback_.get()] { return writeback->relieve(); },
      config_.promote, writeback_->low_water_bytes());
  stats_sections_.push_back(
      {"backing", [writeback = writeback_.get()] { return writeback->stats_json(); }});
  return {};
}

Status Filesystem::Impl::writeback(uint64_t idle_seconds, bool huge_only) {
  if (writeback_ == nullptr) return Errno{EOPNOTSUPP};
  WritebackRequest request;
  // Ages are known up to the store's clock limit; older is "at least that old".
  request.idle = std::chrono::seconds(
      std::min<uint64_t>(idle_seconds, static_cast<uint64_t>(DedupStore::kMaxAge.count())));
  request.huge_only = huge_only;
  writeback_->request(request);
  return {};
}

Status Filesystem::Impl::writeback_xattr(Ino ino, std::string_view value, const Caller& caller) {
  ZSFS_TRY_STATUS(check_action_caller(ino, caller));
  const std::optional<PassRequest> request = parse_pass_request(value);
  if (!request) return Errno{EINVAL};
  return writeback(request->idle_seconds, request->huge_only);
}

}  // namespace zsfs::fs
