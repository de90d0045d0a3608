// The data family: open, release, read, write, truncate, fallocate, lseek, copy_file_range.
//
// These take only the inode's lock: shared to read, exclusive to change. A write encodes the
// blocks it covers whole (fingerprint, dedup lookup, compression) before taking the lock, so
// readers and writers of other blocks wait only for the block map update; blocks it covers in
// part are merged with their old bytes under the lock.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "fs/file_account.h"
#include "fs/filesystem_impl.h"

namespace zsfs::fs {
namespace {

constexpr uint64_t ceil_div(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

codec::Block block_at(std::span<const std::byte> bytes, size_t offset) {
  return codec::Block(bytes.subspan(offset, kBlockSize).data(), kBlockSize);
}

// Buffer for copies that cannot share blocks: 64 KiB keeps the stack use modest.
constexpr size_t kCopyChunk = 16 * kBlockSize;

// What one direct recompression tries to free before the write that needed room tries again:
// enough for a 1 MiB write of blocks that compress 4:1, so that a writer into a full budget pays
// for it once per request, not once per block.
constexpr uint64_t kReclaimBytes = 256 << 10;

// What make_room() answers: the budget (or the backing file) refused memory.
bool refused(int error) {
  return error == ENOSPC;
}

}  // namespace

Status Filesystem::Impl::open(Ino ino, int flags) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  WriterLock lock(inode->mu);
  if ((flags & O_TRUNC) && inode->is_reg() && (flags & O_ACCMODE) != O_RDONLY) {
    FileAccount account(*this, *inode);
    ZSFS_TRY_STATUS(truncate_locked(*inode, 0));
    inode->mtime = inode->ctime = now();
  }
  ++inode->nopen;
  return {};
}

void Filesystem::Impl::release(Ino ino) {
  Inode* inode = get(ino);
  if (inode == nullptr) return;
  bool doomed;
  {
    WriterLock lock(inode->mu);
    ZSFS_CHECK_MSG(inode->nopen > 0, "release without open");
    --inode->nopen;
    doomed = doom_if_unreferenced(*inode);
  }
  if (doomed) destroy(inode);
}

Status Filesystem::Impl::read_block(const Inode& inode, uint64_t index,
                                    codec::MutableBlock out) const {
  const BlockRef ref = inode.blocks.get(index);
  if (ref == kHole) {
    std::memset(out.data(), 0, kBlockSize);
    return {};
  }
  return store_.read(ref, out);
}

Status Filesystem::Impl::read_locked(const Inode& inode, uint64_t offset,
                                     std::span<std::byte> dst) const {
  // Whole blocks decode straight into the caller's buffer; the partial ones at either end go
  // through a block of their own.
  auto partial = [&](uint64_t pos, size_t length, std::byte* out)
                     ZSFS_NO_THREAD_SAFETY_ANALYSIS -> Status {
    alignas(64) std::array<std::byte, kBlockSize> block;
    ZSFS_TRY_STATUS(read_block(inode, pos / kBlockSize, block));
    std::memcpy(out, block.data() + pos % kBlockSize, length);
    return Status{};
  };
  const uint64_t end = offset + dst.size();
  const uint64_t head =
      std::min<uint64_t>(dst.size(), (kBlockSize - offset % kBlockSize) % kBlockSize);
  if (head > 0) ZSFS_TRY_STATUS(partial(offset, head, dst.data()));
  const uint64_t first_whole = (offset + head) / kBlockSize;
  const uint64_t whole = (end - (offset + head)) / kBlockSize;
  // A read of many blocks decodes them on an idle core too (IdleHelper), from the same shared
  // lock: the helper's reads of the block map and the store are as safe as ours.
  ZSFS_TRY_STATUS(decode_helper_.run(whole, [&](size_t i) ZSFS_NO_THREAD_SAFETY_ANALYSIS -> Status {
    return read_block(inode, first_whole + i,
                      codec::MutableBlock(dst.data() + head + i * kBlockSize, kBlockSize));
  }));
  const uint64_t tail_at = offset + head + whole * kBlockSize;
  if (tail_at < end) {
    ZSFS_TRY_STATUS(
        partial(tail_at, static_cast<size_t>(end - tail_at), dst.data() + (tail_at - offset)));
  }
  return {};
}

Result<size_t> Filesystem::Impl::read(Ino ino, uint64_t offset, std::span<std::byte> dst) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  const timespec t = now();
  bool touch;
  size_t length = 0;
  {
    ReaderLock lock(inode->mu);
    if (inode->is_dir()) return Errno{EISDIR};
    if (!inode->is_reg()) return Errno{EINVAL};
    if (offset < inode->size) {
      length = static_cast<size_t>(std::min<uint64_t>(dst.size(), inode->size - offset));
      ZSFS_TRY_STATUS(read_locked(*inode, offset, dst.first(length)));
    }
    touch = atime_needs_update(*inode, t);
  }
  if (touch) {
    WriterLock lock(inode->mu);
    inode->atime = t;
    note_change();
  }
  return length;
}

bool Filesystem::Impl::make_room() {
  // Blocks waiting raw for the background encoder, which runs only on idle CPU (on a busy
  // machine it may not have run for a while), take room that compressing them gives back, and
  // direct recompression leaves them alone: let it finish them first.
  if (store_.stats().staged_blocks > 0) {
    store_.settle();
    compact();
    return true;
  }
  // Cold blocks to the backing file, if there is one: cheaper than recompressing them, and
  // what the mount asked for (fs/writeback.h).
  if (store_.relieve()) return true;
  // Direct recompression: blocks still in their first, larger encoding make room, as the kernel
  // reclaims pages for an allocation that finds none free. What they give back is spread over
  // the pool's zspages: compaction turns it into free pages, and turns into free pages what
  // deletions left spread there too.
  const uint64_t used_before = budget_.used_bytes();
  uint64_t shrunk = 0;
  if (recompressor_ != nullptr && store_.stats().unsettled_blocks > 0) {
    shrunk = recompressor_->reclaim(kReclaimBytes);
  }
  compact();
  return shrunk > 0 || budget_.used_bytes() < used_before;
}

Result<BlockRef> Filesystem::Impl::put_block(codec::Block data) {
  Result<BlockRef> ref = store_.put(data);
  for (int round = 0; round < kRoomRounds && !ref.ok() && refused(ref.error()) && make_room();
       ++round) {
    ref = store_.put(data);
  }
  return ref;
}

Status Filesystem::Impl::install_block(Inode& inode, uint64_t index, BlockRef ref) {
  BlockRef old;
  if (ref == kHole) {
    old = inode.blocks.erase(index, budget_);
  } else {
    // The map's nodes come from the budget too, and a full one is made room in as for a block:
    // a map that grows (every 64 blocks of a file, and sooner in a small one) must not be what
    // turns a write away while stored blocks could still shrink.
    Result<BlockRef> replaced = inode.blocks.set(index, ref, budget_);
    for (int round = 0;
         round < kRoomRounds && !replaced.ok() && refused(replaced.error()) && make_room();
         ++round) {
      replaced = inode.blocks.set(index, ref, budget_);
    }
    if (!replaced.ok()) {
      store_.unref(ref);
      return Errno{replaced.error()};
    }
    old = *replaced;
  }
  if (old != kHole) store_.unref(old);
  return {};
}

Status Filesystem::Impl::patch_block(Inode& inode, uint64_t index, size_t begin, size_t end,
                                     std::span<const std::byte> data) {
  const BlockRef old = inode.blocks.get(index);
  if (data.empty() && (old == kHole || old == kUnwritten)) return {};  // zeros already
  alignas(64) std::array<std::byte, kBlockSize> block;
  ZSFS_TRY_STATUS(read_block(inode, index, block));
  if (data.empty()) {
    std::memset(block.data() + begin, 0, end - begin);
  } else {
    std::memcpy(block.data() + begin, data.data(), end - begin);
  }
  Result<BlockRef> ref = put_block(block);
  if (!ref.ok()) return Errno{ref.error()};
  return install_block(inode, index, *ref);
}

void Filesystem::Impl::drop_blocks_locked(Inode& inode, uint64_t first_block, uint64_t last_block) {
  inode.blocks.erase_range(first_block, last_block, budget_,
                           [&](uint64_t, BlockRef ref) { store_.unref(ref); });
}

Status Filesystem::Impl::truncate_locked(Inode& inode, uint64_t size) {
  if (size < inode.size) {
    // Zero the tail of the new last block first: it is the one step that can fail, and the
    // bytes past the end of a file must read as zeros when it grows again.
    if (size % kBlockSize != 0) {
      ZSFS_TRY_STATUS(patch_block(inode, size / kBlockSize, size % kBlockSize, kBlockSize, {}));
    }
    drop_blocks_locked(inode, ceil_div(size, kBlockSize), kMaxBlocks);
  }
  inode.size = size;
  return {};
}

Result<size_t> Filesystem::Impl::write_locked(Inode& inode, uint64_t offset,
                                              std::span<const std::byte> src,
                                              std::span<const BlockRef> encoded) {
  const uint64_t end = offset + src.size();
  size_t done = 0;
  size_t used = 0;
  int error = 0;
  while (offset + done < end) {
    const uint64_t pos = offset + done;
    const uint64_t index = pos / kBlockSize;
    const size_t in_block = pos % kBlockSize;
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(kBlockSize - in_block, end - pos));
    Status status;
    if (chunk == kBlockSize) {
      BlockRef ref;
      if (used < encoded.size()) {
        ref = encoded[used++];
      } else {
        Result<BlockRef> put = put_block(block_at(src, done));
        if (!put.ok()) {
          error = put.error();
          break;
        }
        ref = *put;
      }
      status = install_block(inode, index, ref);
    } else {
      status = patch_block(inode, index, in_block, in_block + chunk, src.subspan(done, chunk));
    }
    if (!status.ok()) {
      error = status.error();
      break;
    }
    done += chunk;
  }
  // References encoded for blocks that were not reached (after a failure) are dropped.
  for (size_t i = used; i < encoded.size(); ++i)
    store_.unref(encoded[i]);
  if (done > 0) {
    inode.size = std::max(inode.size, offset + done);
    inode.mtime = inode.ctime = now();
  }
  if (done == 0 && error != 0) return Errno{error};
  return done;
}

Result<size_t> Filesystem::Impl::write(Ino ino, uint64_t offset, std::span<const std::byte> src,
                                       bool append) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  {
    ReaderLock lock(inode->mu);
    if (inode->is_dir()) return Errno{EISDIR};
    if (!inode->is_reg()) return Errno{EINVAL};
  }
  if (src.empty()) return size_t{0};
  if (append) {
    // The offset is known only under the lock: encode there.
    WriterLock lock(inode->mu);
    if (inode->size >= kMaxFileSize) return Errno{EFBIG};
    src =
        src.first(static_cast<size_t>(std::min<uint64_t>(src.size(), kMaxFileSize - inode->size)));
    FileAccount account(*this, *inode);
    return write_locked(*inode, inode->size, src, {});
  }
  if (offset >= kMaxFileSize) return Errno{EFBIG};
  src = src.first(static_cast<size_t>(std::min<uint64_t>(src.size(), kMaxFileSize - offset)));

  // Encode the whole blocks before taking the lock. Stop at the first failure: write_locked()
  // tries that block again, and reports a short write or the error.
  const uint64_t first_whole = ceil_div(offset, kBlockSize);
  const uint64_t end_whole = (offset + src.size()) / kBlockSize;
  std::vector<BlockRef> encoded;
  if (end_whole > first_whole) {
    encoded.reserve(end_whole - first_whole);
    for (uint64_t index = first_whole; index < end_whole; ++index) {
      Result<BlockRef> ref = put_block(block_at(src, index * kBlockSize - offset));
      if (!ref.ok()) break;
      encoded.push_back(*ref);
    }
  }
  WriterLock lock(inode->mu);
  FileAccount account(*this, *inode);
  return write_locked(*inode, offset, src, encoded);
}

Status Filesystem::Impl::fallocate(Ino ino, int mode, uint64_t offset, uint64_t length) {
  constexpr int kSupported = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
  if ((mode & ~kSupported) != 0) return Errno{EOPNOTSUPP};
  const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
  const bool punch = mode & FALLOC_FL_PUNCH_HOLE;
  const bool zero = mode & FALLOC_FL_ZERO_RANGE;
  if (punch && (!keep_size || zero)) return Errno{EOPNOTSUPP};
  if (length == 0) return Errno{EINVAL};
  if (offset > kMaxFileSize || length > kMaxFileSize - offset) return Errno{EFBIG};
  const uint64_t end = offset + length;

  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  WriterLock lock(inode->mu);
  if (inode->is_dir()) return Errno{EISDIR};
  if (!inode->is_reg()) return Errno{ENODEV};
  FileAccount account(*this, *inode);
  const uint64_t first_whole = ceil_div(offset, kBlockSize);
  const uint64_t end_whole = end / kBlockSize;
  const timespec t = now();

  if (punch || zero) {
    // The partial blocks at either end get zeros written; the whole blocks between are dropped
    // (punch) or made preallocated zeros (zero range).
    const uint64_t head_end = std::min(end, first_whole * kBlockSize);
    if (offset < head_end) {
      ZSFS_TRY_STATUS(patch_block(*inode, offset / kBlockSize, offset % kBlockSize,
                                  (head_end - 1) % kBlockSize + 1, {}));
    }
    if (end % kBlockSize != 0 && end_whole >= first_whole) {
      ZSFS_TRY_STATUS(patch_block(*inode, end_whole, 0, end % kBlockSize, {}));
    }
    if (end_whole > first_whole) {
      if (punch) {
        drop_blocks_locked(*inode, first_whole, end_whole);
      } else {
        // Preallocated blocks need block map room only; on failure, the ones made so far stay
        // (they read as zeros, as the range must).
        for (uint64_t index = first_whole; index < end_whole; ++index) {
          ZSFS_TRY_STATUS(install_block(*inode, index, kUnwritten));
        }
      }
    }
    if (zero && !keep_size) inode->size = std::max(inode->size, end);
    inode->mtime = inode->ctime = t;
    return {};
  }

  // Preallocation: every hole in the range becomes a preallocated block. Undone on failure, as
  // tmpfs does, so that a failed call changes nothing.
  std::vector<uint64_t> filled;
  for (uint64_t index = offset / kBlockSize; index < ceil_div(end, kBlockSize); ++index) {
    if (inode->blocks.get(index) != kHole) continue;
    Status installed = install_block(*inode, index, kUnwritten);
    if (installed.ok()) {
      try {
        filled.push_back(index);
        continue;
      } catch (const std::bad_alloc&) {
        inode->blocks.erase(index, budget_);
        installed = Errno{ENOMEM};
      }
    }
    for (uint64_t undo : filled)
      inode->blocks.erase(undo, budget_);
    return installed;
  }
  if (!keep_size && end > inode->size) inode->size = end;
  inode->ctime = t;
  return {};
}

Result<uint64_t> Filesystem::Impl::lseek(Ino ino, uint64_t offset, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Errno{EINVAL};
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  if (!inode->is_reg()) return Errno{EINVAL};
  const uint64_t size = inode->size;
  if (offset >= size) return Errno{ENXIO};
  uint64_t index = offset / kBlockSize;
  if (whence == SEEK_DATA) {
    // Preallocated blocks are holes here, as on tmpfs.
    for (;;) {
      std::optional<uint64_t> data = inode->blocks.next_data(index);
      if (!data || *data * kBlockSize >= size) return Errno{ENXIO};
      if (inode->blocks.get(*data) != kUnwritten) return std::max(offset, *data * kBlockSize);
      index = *data + 1;
    }
  }
  uint64_t hole = inode->blocks.next_hole(index);
  inode->blocks.for_each(index, hole, [&](uint64_t i, BlockRef ref) {
    if (ref != kUnwritten) return true;
    hole = i;
    return false;
  });
  // The end of the file counts as a hole.
  return std::min(size, std::max(offset, hole * kBlockSize));
}

Result<size_t> Filesystem::Impl::copy_buffered(const Inode& in, uint64_t offset_in, Inode& out,
                                               uint64_t offset_out, uint64_t length) {
  std::vector<std::byte> buffer(static_cast<size_t>(std::min<uint64_t>(length, kCopyChunk)));
  uint64_t done = 0;
  while (done < length) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
    const std::span<std::byte> piece(buffer.data(), chunk);
    Status status = read_locked(in, offset_in + done, piece);
    if (!status.ok()) {
      if (done == 0) return Errno{status.error()};
      break;
    }
    Result<size_t> written = write_locked(out, offset_out + done, piece, {});
    if (!written.ok()) {
      if (done == 0) return Errno{written.error()};
      break;
    }
    done += *written;
    if (*written < chunk) break;
  }
  return static_cast<size_t>(done);
}

Result<size_t> Filesystem::Impl::copy_file_range(Ino ino_in, uint64_t offset_in, Ino ino_out,
                                                 uint64_t offset_out, uint64_t length,
                                                 unsigned flags) {
  if (flags != 0) return Errno{EINVAL};
  Inode* in = get(ino_in);
  Inode* out = get(ino_out);
  if (in == nullptr || out == nullptr) return Errno{ESTALE};
  if (offset_out >= kMaxFileSize) return Errno{EFBIG};
  length = std::min(length, kMaxFileSize - offset_out);

  // Lock both in ascending number; the source only needs to be read, but one exclusive lock
  // each keeps the order simple (a copy within one file takes one lock).
  InodeLocks locks{in, out};
  in->mu.assert_held();
  out->mu.assert_held();
  if (in->is_dir() || out->is_dir()) return Errno{EISDIR};
  if (!in->is_reg() || !out->is_reg()) return Errno{EINVAL};
  if (offset_in >= in->size) return size_t{0};
  length = std::min(length, in->size - offset_in);
  if (length == 0) return size_t{0};
  if (in == out && offset_out < offset_in + length && offset_in < offset_out + length) {
    return Errno{EINVAL};  // overlapping ranges of one file, as the kernel refuses them
  }
  FileAccount account(*this, *out);
  if (offset_in % kBlockSize != offset_out % kBlockSize) {
    return copy_buffered(*in, offset_in, *out, offset_out, length);
  }

  // Same alignment: share the whole blocks, copy the partial ones at either end.
  uint64_t done = 0;
  const uint64_t head = std::min(length, (kBlockSize - offset_in % kBlockSize) % kBlockSize);
  if (head > 0) {
    Result<size_t> copied = copy_buffered(*in, offset_in, *out, offset_out, head);
    if (!copied.ok()) return copied;
    done = *copied;
    if (done < head) return static_cast<size_t>(done);
  }
  int error = 0;
  while (length - done >= kBlockSize) {
    const uint64_t index_in = (offset_in + done) / kBlockSize;
    const uint64_t index_out = (offset_out + done) / kBlockSize;
    const BlockRef ref = in->blocks.get(index_in);
    Status status;
    if (ref == kHole || store_.try_ref(ref)) {
      status = install_block(*out, index_out, ref);
    } else {
      Result<size_t> copied =
          copy_buffered(*in, offset_in + done, *out, offset_out + done, kBlockSize);
      status = copied.ok() ? Status{} : Status(Errno{copied.error()});
    }
    if (!status.ok()) {
      error = status.error();
      break;
    }
    done += kBlockSize;
  }
  if (error == 0 && done < length) {
    Result<size_t> copied =
        copy_buffered(*in, offset_in + done, *out, offset_out + done, length - done);
    if (copied.ok()) {
      done += *copied;
    } else {
      error = copied.error();
    }
  }
  if (done > 0) {
    out->size = std::max(out->size, offset_out + done);
    out->mtime = out->ctime = now();
  }
  if (done == 0 && error != 0) return Errno{error};
  return static_cast<size_t>(done);
}

}  // namespace zsfs::fs
