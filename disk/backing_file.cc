// BackingFile (see backing_file.h).
#include "disk/backing_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/stat.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "base/check.h"
#include "codec/codec.h"
#include "disk/checksum.h"
#include "disk/faults.h"
#include "disk/image_format.h"

namespace zsfs::disk {
namespace {

constexpr std::array<unsigned char, 8> kBackingMagic = {0x89, 'z', 's', 'f', 'b', 'a', 'c', 'k'};
constexpr uint32_t kBackingVersion = 1;
// Units below this are not worth telling apart (and 512 is every disk's sector).
constexpr uint32_t kMinUnitBytes = 512;
// The bitmap grows by this many units at a time: 256 MiB of file in 512-byte units, 64 KiB of
// bitmap.
constexpr uint64_t kGrowUnits = uint64_t{1} << 19;
// punch_freed() punches at once the freed runs of at least this many bytes, and at most this many
// runs per call (on this project's test machine, ext4 mounted with discard, a punch took 3 to 40
// ms whatever its length).
constexpr uint64_t kMinPunchBytes = 64 << 10;
constexpr size_t kMaxPunchesPerCall = 8;

}  // namespace

Problem BackingFile::open(const std::string& path, uint64_t limit_bytes, MemoryBudget* budget,
                          std::unique_ptr<BackingFile>* out) {
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return system_problem(errno, "cannot open the backing file " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return system_problem(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) {
    return problem(EINVAL, "the backing file " + path + " is not a regular file");
  }
  if (st.st_size > 0) {
    std::array<std::byte, kBackingMagic.size()> head{};
    const bool ours = st.st_size >= static_cast<off_t>(head.size()) &&
                      !pread_all(fd.get(), head, 0, "backing.read", path) &&
                      std::memcmp(head.data(), kBackingMagic.data(), kBackingMagic.size()) == 0;
    if (!ours) {
      return problem(EEXIST,
                     "the backing file " + path + " exists and is not a zsfs backing file (" +
                         std::to_string(st.st_size) + " bytes); remove it or name another path");
    }
  }
  // Private to the daemon whatever it was before, and empty: old contents mean nothing.
  if (::fchmod(fd.get(), 0600) != 0) return system_problem(errno, "cannot chmod " + path);
  if (::ftruncate(fd.get(), 0) != 0) return system_problem(errno, "cannot empty " + path);
  std::array<std::byte, kDataOffset> header{};
  ByteWriter w(header.data());
  w.bytes(std::as_bytes(std::span(kBackingMagic)));
  w.u32(kBackingVersion);
  const char note[] = "zsfs backing file: cold blocks of a running zsfs; meaningless without it";
  w.bytes(std::as_bytes(std::span(note, sizeof note)));
  if (Problem p = pwrite_all(fd.get(), header, 0, "backing.write", path)) return p;

  // Direct I/O where the file system supports it, in its alignment.
  uint32_t unit = kMinUnitBytes;
  uint32_t mem_align = 4096;
  bool direct = false;
  if (const std::optional<DirectIoAlignment> align = direct_io_alignment(fd.get())) {
    unit = std::max(kMinUnitBytes, align->offset_align);
    mem_align = align->mem_align;
    const int flags = ::fcntl(fd.get(), F_GETFL);
    direct = flags >= 0 && ::fcntl(fd.get(), F_SETFL, flags | O_DIRECT) == 0;
  }
  if (unit > codec::kBlockSize) {
    return problem(EINVAL, "the backing file's file system wants direct I/O in units of " +
                               std::to_string(unit) + " bytes; zsfs handles at most " +
                               std::to_string(codec::kBlockSize));
  }
  const uint32_t block = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : 4096;
  const uint32_t punch_units = std::max<uint32_t>(1, block / unit);
  out->reset(new BackingFile(path, std::move(fd), direct, unit, mem_align, punch_units,
                             limit_bytes / unit, budget));
  return {};
}

BackingFile::BackingFile(std::string path, FileDescriptor fd, bool direct, uint32_t unit,
                         uint32_t mem_align, uint32_t punch_units, uint64_t limit_units,
                         MemoryBudget* budget)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      direct_(direct),
      unit_(unit),
      mem_align_(mem_align),
      punch_units_(punch_units),
      limit_units_(limit_units),
      budget_(budget) {}

BackingFile::~BackingFile() {
  // The header stays, so that the next daemon recognises the file as one it may empty.
  if (::ftruncate(fd_.get(), static_cast<off_t>(kDataOffset)) != 0) {
    // Nothing to do about it: the contents are meaningless anyway.
  }
  budget_->uncharge(charged_bytes_);
}

void BackingFile::set_bits_locked(uint64_t first, uint64_t count, bool value) {
  for (uint64_t u = first; u < first + count; ++u) {
    const uint64_t bit = uint64_t{1} << (u % 64);
    if (value) {
      bits_[u / 64] |= bit;
    } else {
      bits_[u / 64] &= ~bit;
    }
  }
}

bool BackingFile::all_bits_locked(uint64_t first, uint64_t count, bool value) const {
  if (first + count > bits_.size() * 64) return false;
  for (uint64_t u = first; u < first + count; ++u) {
    if (((bits_[u / 64] >> (u % 64)) & 1) != (value ? 1u : 0u)) return false;
  }
  return true;
}

bool BackingFile::allocate_locked(uint32_t units, uint64_t* location) {
  if (limit_units_ != 0 && used_units_ + units > limit_units_) return false;
  // Next fit from the cursor to the end, then from the start; then grow the bitmap.
  auto find = [&](uint64_t from, uint64_t to) -> std::optional<uint64_t> {
    uint64_t run = 0;
    uint64_t start = from;
    for (uint64_t u = from; u < to;) {
      const uint64_t word = bits_[u / 64];
      if (u % 64 == 0 && word == ~uint64_t{0}) {
        run = 0;
        u += 64;
        start = u;
        continue;
      }
      if (u % 64 == 0 && word == 0 && u + 64 <= to) {
        if (run + 64 >= units) return start;
        run += 64;
        u += 64;
        continue;
      }
      if ((word >> (u % 64) & 1) != 0) {
        run = 0;
        start = u + 1;
      } else if (++run == units) {
        return start;
      }
      ++u;
    }
    return std::nullopt;
  };
  // Within the extent from the cursor, then from its start; only then past the extent.
  std::optional<uint64_t> found = find(std::min(cursor_, extent_units_), extent_units_);
  if (!found && cursor_ > 0) found = find(0, std::min(extent_units_, cursor_ + units));
  if (!found) {
    // At the end of the extent, joining a free run that reaches it.
    uint64_t start = extent_units_;
    while (start > 0 && start > extent_units_ - std::min<uint64_t>(extent_units_, units) &&
           !all_bits_locked(start - 1, 1, true)) {
      --start;
    }
    const uint64_t end = start + units;
    if (limit_units_ != 0 && end > limit_units_) return false;
    if (end > bits_.size() * 64) {
      const uint64_t grown = std::max<uint64_t>(end, bits_.size() * 64 + kGrowUnits);
      const uint64_t words = (grown + 63) / 64;
      const uint64_t extra_bytes = (words - bits_.size()) * 8;
      bits_.resize(words, 0);
      budget_->force_charge(extra_bytes);
      charged_bytes_ += extra_bytes;
    }
    found = start;
  }
  if (limit_units_ != 0 && *found + units > limit_units_) return false;
  set_bits_locked(*found, units, true);
  note_allocated_locked(*found, units);
  used_units_ += units;
  cursor_ = *found + units;
  extent_units_ = std::max(extent_units_, cursor_);
  *location = *found;
  return true;
}

void BackingFile::note_freed_locked(uint64_t first, uint64_t count) {
  for (uint64_t block = first / punch_units_; block * punch_units_ < first + count; ++block) {
    if (!all_bits_locked(block * punch_units_, punch_units_, false)) continue;
    if (block / 64 >= unpunched_.size()) unpunched_.resize(block / 64 + 1, 0);
    unpunched_[block / 64] |= uint64_t{1} << (block % 64);
  }
}

void BackingFile::note_allocated_locked(uint64_t first, uint64_t count) {
  for (uint64_t block = first / punch_units_; block * punch_units_ < first + count; ++block) {
    if (block / 64 < unpunched_.size()) unpunched_[block / 64] &= ~(uint64_t{1} << (block % 64));
  }
}

Problem BackingFile::write(std::span<Record> records) {
  // Room first, for all of them.
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < records.size(); ++i) {
      const uint32_t units = units_for(static_cast<uint32_t>(records[i].payload.size()));
      if (!allocate_locked(units, &records[i].location)) {
        for (size_t j = 0; j < i; ++j) {
          const uint32_t u = units_for(static_cast<uint32_t>(records[j].payload.size()));
          set_bits_locked(records[j].location, u, false);
          used_units_ -= u;
        }
        return problem(ENOSPC, "the backing file " + path_ + " is full (" +
                                   std::to_string(used_units_ * unit_) + " bytes in use" +
                                   (limit_units_ != 0
                                        ? ", backing_size=" + std::to_string(limit_units_ * unit_)
                                        : std::string()) +
                                   ")");
      }
    }
  }
  // Then the writes: records that lie together go out in one.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return records[a].location < records[b].location; });
  Problem problem_seen;
  uint64_t written = 0;
  for (size_t begin = 0; begin < order.size() && !problem_seen;) {
    size_t end = begin + 1;
    uint64_t run_units = units_for(static_cast<uint32_t>(records[order[begin]].payload.size()));
    while (end < order.size() &&
           records[order[end]].location == records[order[begin]].location + run_units) {
      run_units += units_for(static_cast<uint32_t>(records[order[end]].payload.size()));
      ++end;
    }
    const size_t bytes = run_units * unit_;
    AlignedBuffer buffer = aligned_buffer(bytes, mem_align_);
    std::memset(buffer.get(), 0, bytes);
    for (size_t k = begin; k < end; ++k) {
      const Record& r = records[order[k]];
      std::byte* at = buffer.get() + (r.location - records[order[begin]].location) * unit_;
      ByteWriter w(at);
      w.u64(checksum(r.payload, seed(r.location, r.key)));
      std::memcpy(at + kChecksumBytes, r.payload.data(), r.payload.size());
    }
    problem_seen = pwrite_all(fd_.get(), std::span(buffer.get(), bytes),
                              offset_of(records[order[begin]].location), "backing.write", path_);
    written += bytes;
    begin = end;
  }
  if (problem_seen) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    for (const Record& r : records) {
      const uint32_t u = units_for(static_cast<uint32_t>(r.payload.size()));
      set_bits_locked(r.location, u, false);
      used_units_ -= u;
      note_freed_locked(r.location, u);
    }
    return problem_seen;
  }
  uint64_t payload = 0;
  for (const Record& r : records)
    payload += r.payload.size();
  records_.fetch_add(records.size(), std::memory_order_relaxed);
  payload_bytes_.fetch_add(payload, std::memory_order_relaxed);
  writes_.fetch_add(records.size(), std::memory_order_relaxed);
  write_bytes_.fetch_add(written, std::memory_order_relaxed);
  return {};
}

Problem BackingFile::read(uint64_t location, uint32_t payload_bytes, uint64_t key,
                          std::span<std::byte> out) const {
  ZSFS_CHECK(out.size() == payload_bytes && payload_bytes <= codec::kBlockSize);
  const size_t bytes = size_t{units_for(payload_bytes)} * unit_;
  // A buffer per thread, for the largest record (a raw block and its checksum).
  thread_local AlignedBuffer buffer;
  thread_local size_t buffer_bytes = 0;
  if (buffer_bytes < bytes) {
    buffer = aligned_buffer(bytes, std::max<size_t>(mem_align_, 4096));
    buffer_bytes = bytes;
  }
  const uint64_t offset = offset_of(location);
  reads_.fetch_add(1, std::memory_order_relaxed);
  if (Problem p =
          pread_all(fd_.get(), std::span(buffer.get(), bytes), offset, "backing.read", path_)) {
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    return problem(EIO, p.message);
  }
  read_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  ByteReader stored(std::span(buffer.get(), kChecksumBytes));
  const std::span<const std::byte> payload(buffer.get() + kChecksumBytes, payload_bytes);
  if (stored.u64() != checksum(payload, seed(location, key))) {
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    return problem(EIO, "the backing file " + path_ + ": the record at byte " +
                            std::to_string(offset) + " fails its checksum");
  }
  std::memcpy(out.data(), payload.data(), payload_bytes);
  return {};
}

void BackingFile::free(uint64_t location, uint32_t payload_bytes) {
  const uint32_t units = units_for(payload_bytes);
  std::lock_guard lock(mu_);
  ZSFS_CHECK_MSG(all_bits_locked(location, units, true), "freeing backing units not in use");
  set_bits_locked(location, units, false);
  used_units_ -= units;
  note_freed_locked(location, units);
  records_.fetch_sub(1, std::memory_order_relaxed);
  payload_bytes_.fetch_sub(payload_bytes, std::memory_order_relaxed);
}

bool BackingFile::allocated(uint64_t location, uint32_t payload_bytes) const {
  std::lock_guard lock(mu_);
  return all_bits_locked(location, units_for(payload_bytes), true);
}

void BackingFile::punch_freed(bool thorough) {
  // Runs of unpunched blocks; those chosen are reserved (marked in use) while they are punched,
  // so that no write lands in one meanwhile.
  struct Run {
    uint64_t first_block;
    uint64_t blocks;
  };
  std::vector<Run> runs;
  const uint64_t min_blocks =
      thorough ? 1 : std::max<uint64_t>(1, kMinPunchBytes / (uint64_t{punch_units_} * unit_));
  {
    std::lock_guard lock(mu_);
    const uint64_t end = unpunched_.size() * 64;
    auto unpunched = [&](uint64_t b) { return (unpunched_[b / 64] >> (b % 64) & 1) != 0; };
    // A block punched before and still free joins a run (punching it again costs nothing): so
    // runs that earlier punches cut in pieces are whole again.
    auto joins = [&](uint64_t b) {
      return b < end && (unpunched(b) || all_bits_locked(b * punch_units_, punch_units_, false));
    };
    for (uint64_t b = 0; b < end && runs.size() < kMaxPunchesPerCall;) {
      if (unpunched_[b / 64] == 0 && b % 64 == 0) {
        b += 64;
        continue;
      }
      if (!unpunched(b)) {
        ++b;
        continue;
      }
      uint64_t first = b;
      while (first > 0 && joins(first - 1))
        --first;
      uint64_t e = b;
      while (joins(e))
        ++e;
      if (e - first >= min_blocks) {
        runs.push_back(Run{first, e - first});
        for (uint64_t k = first; k < e; ++k)
          unpunched_[k / 64] &= ~(uint64_t{1} << (k % 64));
        set_bits_locked(first * punch_units_, (e - first) * punch_units_, true);
      }
      b = e;
    }
  }
  if (runs.empty()) return;
  uint64_t punched = 0;
  for (const Run& run : runs) {
    const uint64_t offset = offset_of(run.first_block * punch_units_);
    const uint64_t length = run.blocks * punch_units_ * uint64_t{unit_};
    const faults::Fault fault = faults::at("backing.punch");
    if (fault.action != faults::Action::kFail &&
        ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
      punched += length;
    }
  }
  punched_bytes_.fetch_add(punched, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  for (const Run& run : runs)
    set_bits_locked(run.first_block * punch_units_, run.blocks * punch_units_, false);
}

BackingRoom BackingFile::room() const {
  uint64_t used;
  {
    std::lock_guard lock(mu_);
    used = used_units_ * unit_;
  }
  BackingRoom room;
  if (limit_units_ != 0) {
    room.capacity_bytes = limit_units_ * unit_;
  } else {
    struct statvfs fs {};
    const uint64_t available =
        ::fstatvfs(fd_.get(), &fs) == 0 ? uint64_t{fs.f_bavail} * fs.f_frsize : 0;
    room.capacity_bytes = used + available;
  }
  room.free_bytes = room.capacity_bytes - std::min(room.capacity_bytes, used);
  return room;
}

BackingStats BackingFile::stats() const {
  BackingStats s;
  s.records = records_.load(std::memory_order_relaxed);
  s.payload_bytes = payload_bytes_.load(std::memory_order_relaxed);
  s.reads = reads_.load(std::memory_order_relaxed);
  s.read_bytes = read_bytes_.load(std::memory_order_relaxed);
  s.read_errors = read_errors_.load(std::memory_order_relaxed);
  s.writes = writes_.load(std::memory_order_relaxed);
  s.write_bytes = write_bytes_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.punched_bytes = punched_bytes_.load(std::memory_order_relaxed);
  s.unit_bytes = unit_;
  s.direct_io = direct_;
  s.limit_bytes = limit_units_ * unit_;
  {
    std::lock_guard lock(mu_);
    s.allocated_bytes = used_units_ * unit_;
    s.bitmap_bytes = charged_bytes_;
  }
  struct stat st {};
  if (::fstat(fd_.get(), &st) == 0) {
    s.file_bytes = static_cast<uint64_t>(st.st_size);
    s.disk_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return s;
}

}  // namespace zsfs::disk
