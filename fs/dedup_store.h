// DedupStore: the blocks of all files, deduplicated and reference-counted. The one place where
// the pool and the codec meet.
//
// Every data block of every file is a reference (BlockRef) to an entry of this store:
// - a same-filled block is an entry holding its 8-byte word, shared by every block with that
//   word and costing no pool memory;
// - any other block is an entry holding a pool handle to its encoded bytes (lz4, zstd or raw),
//   found again through its XXH3-128 fingerprint. The fingerprint is only an index key: a block
//   is shared only after its bytes compared equal with the stored block's, and blocks whose
//   fingerprints collide are stored side by side.
// When the last reference to an entry is dropped, its pool object is freed at once.
//
// An entry records its block's format in one byte: the encoding (2 bits) and, for zstd, the slot
// of the dictionary it was compressed with (6 bits; see dictionary_set.h). It also records when
// it was stored (a 16-bit clock of seconds) and whether the recompressor has been through it, so
// that the recompressor (recompressor.h) can find blocks that have not been written for a while.
// All of this fits in the 20 bytes an entry took before: a block costs nothing more for it.
//
// Entries live in shards chosen by fingerprint (or word), each with its own lock, index and
// chunked entry table; a BlockRef names the shard and the entry, and stays valid while a
// reference is held. Entry tables grow in small chunks and give a chunk back when it empties,
// so memory returns when files are deleted.
//
// Payload swaps: the contents of an entry never change, but its payload may be replaced by an
// equivalent one in place, so block maps never notice: by a background encoder (a block may be
// stored raw first, "staged", and compressed by a worker thread soon after) and by the
// recompressor (reencode()). Because a payload can be swapped whenever the shard lock is not
// held, every reader copies the payload out of the pool under the lock (a memcpy of at most
// 4 KiB), pins its dictionary, and decodes outside.
//
// Cold blocks (fs/writeback.h; the store's side is dedup_backing.cc): an entry's payload may
// also live in a backing file (disk/backing_file.h) instead of the pool. The entry then keeps,
// in place of the pool handle, the payload's location in the file with the top bit set (pool
// handles never use it, see pool::kHandleBits): a block in the file costs RAM its 20-byte entry,
// as before, and the file's allocator a bit per 512 bytes. Readers and dedup candidates read such
// a payload from the file outside the lock, and check it there (a stale or damaged record is EIO,
// never wrong bytes); the recompressor leaves such blocks alone. A read may bring the block back
// into the pool (promote) when the budget has room.
//
// Locking: shard locks are below the inode locks and above the pool's class locks, the
// dictionary set's lock and the backing file's allocator lock. Compression, decompression and byte
// comparison of candidates happen outside the shard lock, except the comparison of a freshly
// encoded block against a concurrently inserted twin, which compares encoded bytes under the lock
// (and decodes when the twin's format differs).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/budget.h"
#include "base/result.h"
#include "base/sync.h"
#include "codec/codec.h"
#include "disk/backing_file.h"
#include "fs/block_map.h"
#include "fs/dictionary_set.h"
#include "fs/id_index.h"
#include "fs/work_queue.h"
#include "pool/pool.h"

namespace zsfs::fs {

// A preallocated block (fallocate): reads as zeros, counts as allocated in st_blocks, is a hole
// to SEEK_DATA, holds no entry and no reference. No real entry ever has this value.
inline constexpr BlockRef kUnwritten = UINT32_MAX;

struct BlockInfo {
  codec::Encoding encoding;
  DictSlot dict = kNoDict;  // the dictionary a zstd block was compressed with
  uint32_t stored_bytes;    // payload bytes, in the pool or the backing file (0 for same-filled)
  uint32_t refs;            // references held by block maps (the background's left out)
  pool::Handle handle;      // the pool object (null for same-filled and backed blocks)
  bool backed = false;      // the payload is in the backing file
};

struct StoreStats {
  uint64_t stored_blocks = 0;  // entries with a pool object
  uint64_t stored_bytes = 0;   // their encoded bytes
  uint64_t raw_blocks = 0;     // of which kept raw (incompressible)
  uint64_t stored_refs = 0;    // references to stored entries (the background's left out)
  uint64_t same_entries = 0;   // distinct same-filled words
  uint64_t same_refs = 0;      // references to same-filled entries
  uint64_t staged_blocks = 0;  // stored entries kept raw until the background compresses them
  // Stored entries the recompressor has not been through yet (staged ones included).
  uint64_t unsettled_blocks = 0;
  // Stored entries by encoding (kRaw, kZstd, kLz4; kSameFilled stays empty).
  std::array<EncodingStats, 4> by_encoding{};
  // Of the stored entries, those whose payload is in the backing file.
  uint64_t backed_blocks = 0;
  uint64_t backed_bytes = 0;
  uint64_t promoted_blocks = 0;  // brought back into the pool by a read, ever
};

// Background compression: a new block is stored raw, at once, and compressed by one of `threads`
// worker threads soon after, when a core is idle (see work_queue.h), so that writers do not wait
// for compression. At most max_staged_blocks wait; past that, writers compress their blocks
// themselves. threads = 0 compresses every block in put(). The background may store another,
// smaller encoding than writers do (compressor; by default the writers'): it spends idle time.
struct BackgroundConfig {
  unsigned threads = 0;
  size_t max_staged_blocks = 0;
  std::optional<codec::Compressor> compressor;
};

// Which entries the recompressor wants (collect_due()).
struct DueFilter {
  // Stored at least this long ago.
  std::chrono::seconds idle{0};
  // Only entries kept raw (zram's "huge" pages).
  bool huge_only = false;
  // Take every `every`-th due entry only (1: all), for sampling.
  uint32_t every = 1;
  // Also the settled entries compressed (lz4 or zstd; not raw) without this dictionary, whatever
  // their age: the recompressor's sweep after a new dictionary (the idle and huge filters do not
  // apply to them). kNoDict: no settled entry.
  DictSlot redo_for = kNoDict;
  // Instead, every entry compressed or to be, settled or not, whatever its age (no raw one that
  // is settled): training samples drawn from the whole store, and its size.
  bool stored = false;
};

// What reencode() did with one entry.
struct Reencoded {
  enum class Outcome : uint8_t {
    kSmaller,     // the new payload takes a smaller pool object: swapped in
    kNotSmaller,  // kept as it was
    kFailed,      // could not be decoded (EIO: logged) or no memory for the new object
  };
  Outcome outcome = Outcome::kNotSmaller;
  codec::Encoding old_encoding = codec::Encoding::kRaw;
  codec::Encoding new_encoding = codec::Encoding::kRaw;
  uint32_t old_bytes = 0;
  uint32_t new_bytes = 0;  // what the new encoding gave (also when not kept)
  // With measure_without_dict: what the same compressor gave without the dictionary (0 if not
  // measured).
  uint32_t bytes_without_dict = 0;
  // The entry was settled already, and was encoded again with a newer dictionary.
  bool redone = false;
};

// What move_to_backing() did.
struct MovedToBacking {
  uint64_t blocks = 0;
  uint64_t bytes = 0;  // payload bytes that left the pool
  disk::Problem problem;
};

class DedupStore {
 public:
  using FingerprintFn = codec::Fingerprint (*)(codec::Block);

  // pool, budget and dicts must outlive the store. fingerprint_fn may be replaced by tests, e.g.
  // with a function that makes every fingerprint collide. A zstd compressor compresses against
  // the current dictionary of dicts when there is one (dicts must be digested for its level).
  DedupStore(pool::Pool* pool, const codec::Compressor& compressor, bool dedup,
             MemoryBudget* budget, DictionarySet* dicts, const BackgroundConfig& background = {},
             FingerprintFn fingerprint_fn = &codec::fingerprint);
  ~DedupStore();  // every reference must have been dropped (checked)
  DedupStore(const DedupStore&) = delete;
  DedupStore& operator=(const DedupStore&) = delete;

  // Stores a block and returns one new reference to it. ENOSPC when the budget refuses the pool
  // object or the entry, ENOMEM when the host does; nothing changes then.
  Result<BlockRef> put(codec::Block data);
  // A reference to the same-filled block of word.
  Result<BlockRef> put_word(uint64_t word);
  // Takes one more reference to ref, which the caller holds already. False (nothing taken) when
  // the entry's count would overflow; the caller then stores a copy with put(). ref may be
  // kUnwritten (then nothing is counted), here and in unref(), read() and info().
  bool try_ref(BlockRef ref);
  // Drops one reference; the last one frees the entry and its pool object.
  void unref(BlockRef ref);

  // Waits until every block stored so far has been compressed (the background has caught up).
  void settle();

  // Decodes the block into out. EIO (and a loud log line) when its stored bytes are corrupt.
  Status read(BlockRef ref, codec::MutableBlock out) const;
  BlockInfo info(BlockRef ref) const;

  // --- For the recompressor (dedup_recompress.cc) --------------------------------------------
  // Appends to out, and pins with one reference each (to be dropped with unref()), up to
  // out.capacity() - out.size() entries of shard `shard` from entry position *cursor on that are
  // due: stored, not staged, not yet settled (or as filter.redo_for and filter.stored say),
  // matching filter. Advances *cursor past what it looked at; returns false when the shard has
  // no entry at or after the cursor. On the way it keeps the clock of old entries from wrapping
  // (see kMaxAge).
  bool collect_due(unsigned shard, uint32_t* cursor, const DueFilter& filter,
                   std::vector<BlockRef>* out);
  // Re-encodes a pinned entry with compressor (against dict, which the caller pins) and swaps
  // the new payload in when it takes a smaller pool object. Marks the entry settled either way,
  // except when memory for the new object was refused (it is tried again later then). A settled
  // entry is left alone, unless dict is a dictionary it was not compressed with (the
  // recompressor's sweep: DueFilter::redo_for); then a form no larger is kept too when the old
  // one names a dictionary, so that a replaced dictionary's blocks leave it and it can go.
  // measure_without_dict also compresses the block without dict, for the caller's statistics.
  Reencoded reencode(BlockRef ref, const codec::Compressor& compressor,
                     const DictionarySet::Pin& dict, bool measure_without_dict = false);
  // Keeps the clock of every unsettled entry from wrapping (see kMaxAge); collect_due() does the
  // same for the entries it looks at.
  void clamp_clocks();
  // Decodes a pinned entry, as read() does (for dictionary training samples).
  Status decode(BlockRef ref, codec::MutableBlock out) const { return read(ref, out); }
  static constexpr unsigned shards() { return kShards; }
  // Entries collect_due() would take with filter (every = 1): a walk of every shard.
  uint64_t count_due(const DueFilter& filter) const;

  // --- Cold blocks in a backing file (fs/writeback.h) ------------------------------------------
  // Before the store is used: payloads may move to backing, which must outlive the store.
  // relieve, if given, is called (without any store lock, on the thread of a put() or an image
  // load) when the budget refuses memory for a block; it returns whether there is room now
  // (made by it or meanwhile by another), and the block is tried again. A read of a backed block
  // brings it back into the pool when promote and the budget has more than promote_headroom_bytes
  // free.
  void attach_backing(disk::BackingFile* backing, std::function<bool()> relieve, bool promote,
                      uint64_t promote_headroom_bytes);
  // Makes room as a put() refused by the budget does, for memory others need (an image load's
  // block maps): whether trying again may succeed (false without a backing file).
  bool relieve() const { return relieve_ && relieve_(); }
  // How many times a refused allocation is tried again after relieve() made room.
  static constexpr int kReliefTries = 3;
  // Appends to out, and pins with one reference each, up to out.capacity() - out.size() entries
  // of shard whose payload is in the pool, not staged, stored at least filter.idle ago (only raw
  // ones with huge_only), from position *cursor on, as collect_due() does.
  bool collect_resident(unsigned shard, uint32_t* cursor, const DueFilter& filter,
                        std::vector<BlockRef>* out);
  // Moves the payloads of pinned entries to the backing file, in one write, and frees their pool
  // objects. Entries whose payload changed meanwhile (recompressed, or moved by another caller)
  // stay as they are. On a failed write nothing moves, and the problem says why.
  MovedToBacking move_to_backing(std::span<const BlockRef> refs);

  // --- For images (fs/image_save.cc, fs/image_load.cc; the store's side is dedup_image.cc) -----
  // An entry as it is kept (besides its payload): what export_block() copies out and
  // import_block() puts back.
  struct StoredBlock {
    codec::Encoding encoding = codec::Encoding::kRaw;
    DictSlot dict = kNoDict;
    bool settled = false;
    bool indexed = false;
    uint32_t index_tag = 0;  // what the index finds it by (folded from its fingerprint)
    uint64_t word = 0;       // same-filled blocks: the repeated word
    uint32_t size = 0;       // the others: payload bytes
  };
  // Takes one more reference on ref, on which the caller holds one already, even at the count's
  // limit (kMaxRefs leaves room for pins): an image save pins every block it will write.
  void pin(BlockRef ref);
  // Copies entry ref (on which the caller holds a reference) out as it is stored: its
  // description into *block, its payload into payload, and pins its dictionary in *dict.
  Status export_block(BlockRef ref, StoredBlock* block, codec::MutableBlock payload,
                      DictionarySet::Pin* dict) const;
  // Stores an entry as export_block() gave it, with one reference for the caller, in shard
  // (below shards()), indexed by its tag when block.indexed. A dictionary it names must be in
  // its slot (the caller holds a pin on it). The payload (block.size bytes) is taken as it is:
  // an image's checksums vouch for it. ENOSPC or ENOMEM as put(); nothing changes then.
  Result<BlockRef> import_block(unsigned shard, const StoredBlock& block,
                                std::span<const std::byte> payload);
  // A value above every live entry's BlockRef (for a bitmap of refs); it may grow as entries
  // are added.
  BlockRef ref_limit() const;

  StoreStats stats() const;
  // Heap bytes of entry tables and indexes (all charged to the budget).
  uint64_t memory_bytes() const;

  // Calls fn(ref, info) for every live entry; shards are visited one at a time under their lock.
  void for_each(const std::function<void(BlockRef, const BlockInfo&)>& fn) const;
  // Verifies the store's own invariants (index vs entries, counters, free lists, the dictionary
  // references); returns a description of the first broken one, or an empty string.
  std::string check() const;

  const codec::Compressor& compressor() const { return compressor_; }

  // Entries older than this count as this old: the 16-bit clock of when each entry was stored
  // wraps after 65,536 seconds (18 hours), so collect_due() moves the stamp of any entry older
  // than half of that to exactly half, and the recompressor calls it at least every few hours.
  static constexpr std::chrono::seconds kMaxAge{1 << 15};

 private:
  struct Entry;
  struct Chunk;
  struct Shard;
  struct Format;
  struct Snapshot;

  // 16 shards: enough that two or three writer threads rarely meet on one lock.
  static constexpr unsigned kShardBits = 4;
  static constexpr unsigned kShards = 1u << kShardBits;

  static unsigned shard_of_ref(BlockRef ref) { return ref & (kShards - 1); }
  Entry& entry(const Shard& shard, BlockRef ref) const;
  // The 16-bit clock of when entries are stored: seconds since the store was made.
  uint16_t clock_now() const;
  static int64_t coarse_nanoseconds();  // CLOCK_MONOTONIC_COARSE
  // Adds an entry with one reference; value is its pool handle, or a same-filled entry's word.
  // The entry takes a reference on format's dictionary.
  Result<BlockRef> insert_locked(Shard& shard, unsigned shard_index, uint32_t tag, bool indexed,
                                 uint64_t value, Format format, uint32_t stored_bytes);
  void free_entry_locked(Shard& shard, BlockRef ref);
  // Copies entry e's payload and pins its dictionary: what a reader decodes outside the lock.
  void snapshot_locked(const Entry& e, Snapshot* out) const;
  // Whether entry e holds the block data, whose payload in format is payload. Under the entry's
  // shard lock.
  bool holds_locked(const Entry& e, codec::Block data, std::span<const std::byte> payload,
                    Format format) const;
  // A stored block equal to data with fingerprint key, with one more reference; kHole if none.
  BlockRef find_equal(unsigned shard_index, uint64_t key, codec::Block data);
  // Compresses data and stores it (or shares a twin stored meanwhile).
  Result<BlockRef> store_encoded(unsigned shard_index, uint64_t key, codec::Block data);
  // Runs attempt() (giving a Result), and again while it fails with ENOSPC and relieve() makes
  // room, up to kReliefTries times: how a put() or an import reaches the backing file when the
  // budget is full.
  template <class Attempt>
  auto with_relief(Attempt&& attempt) const {
    auto result = attempt();
    for (int tries = 0;
         !result.ok() && result.error() == ENOSPC && tries < kReliefTries && relieve(); ++tries) {
      result = attempt();
    }
    return result;
  }
  // The walk collect_due() and collect_resident() share: from entry position *cursor of shard
  // shard_index on, under its lock, pins (one reference each) and appends to out, up to
  // out.capacity() - out.size(), the live stored entries in the pool, not staged, for which
  // wants(entry) says yes (it must refuse those at kMaxRefs); wants may restamp the entry's clock.
  // Advances *cursor past what it looked at; false when the shard has no entry at or after the
  // cursor. Defined in dedup_store_layout.h.
  template <class Wants>
  bool collect(unsigned shard_index, uint32_t* cursor, std::vector<BlockRef>* out, Wants&& wants);
  // Whether a stored, unstaged entry in the pool is due under filter (before its sampling
  // stride), age seconds after it was stored (at most kMaxAge): what collect_due() takes and
  // count_due() counts.
  static bool due(const Entry& e, const DueFilter& filter, uint16_t age);
  // put() and import_block() once, without relieving memory pressure.
  Result<BlockRef> put_once(codec::Block data);
  Result<BlockRef> import_once(unsigned shard, const StoredBlock& block,
                               std::span<const std::byte> payload);
  // Reads the payload of a backed snapshot from the backing file. A record that fails its check
  // is EIO when the entry still names it, and read again when the entry moved meanwhile (a
  // promotion), through a fresh snapshot of ref.
  Status fetch_backed(BlockRef ref, Snapshot* snapshot) const;
  // Brings a backed entry whose payload a read has just fetched back into the pool, when the
  // budget has room; nothing happens when the entry moved meanwhile.
  void promote(BlockRef ref, const Snapshot& snapshot) const;
  // Stores data raw and queues it for compression.
  Result<BlockRef> stage(unsigned shard_index, uint64_t key, codec::Block data);
  // Stores payload in the pool and as an entry, unless a twin with the same payload exists,
  // which is then shared; *fresh tells which. A staged entry gets the queue's reference too.
  Result<BlockRef> insert_payload(unsigned shard_index, uint64_t key, codec::Block data,
                                  std::span<const std::byte> payload, Format format, bool staged,
                                  bool* fresh);
  // Replaces entry ref's payload (held in `old_handle`, checked) with a new pool object in
  // format; returns false (and changes nothing) when the payload changed meanwhile.
  bool swap_payload(BlockRef ref, pool::Handle old_handle, pool::Handle new_handle, Format format,
                    uint32_t new_bytes);
  // The background's work: replaces a staged entry's raw payload with its compressed form, in
  // place (every block map that refers to it sees the change), then drops the queue's reference.
  void encode_staged(BlockRef ref);
  // Compresses block with compressor, against the current dictionary if it is zstd.
  codec::Compressed compress(const codec::Compressor& compressor, codec::Block block,
                             codec::MutableBlock out, DictionarySet::Pin* dict) const;

  pool::Pool* pool_;
  codec::Compressor compressor_;
  codec::Compressor background_compressor_;
  bool dedup_;
  MemoryBudget* budget_;
  DictionarySet* dicts_;
  FingerprintFn fingerprint_fn_;
  const size_t max_staged_;
  // Cold blocks (attach_backing()); set before use, read-only after.
  disk::BackingFile* backing_ = nullptr;
  std::function<bool()> relieve_;
  bool promote_ = false;
  uint64_t promote_headroom_bytes_ = 0;
  const int64_t epoch_;  // coarse_nanoseconds() when the store was made
  std::array<std::unique_ptr<Shard>, kShards> shards_;
  // Declared last: destroyed first, finishing its work while the shards and pool still exist.
  std::unique_ptr<WorkQueue> queue_;
};

}  // namespace zsfs::fs
