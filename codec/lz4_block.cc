// lz4_block: kLz4 payloads (see lz4_block.h).
#include "codec/lz4_block.h"

#include <lz4.h>

#include <limits>

#include "base/check.h"
#include "codec/block_check.h"

namespace zsfs::codec::lz4_block {
namespace {

static_assert(kBlockSize <= static_cast<size_t>(std::numeric_limits<int>::max()));
constexpr int kBlockBytes = static_cast<int>(kBlockSize);

// lz4's default speed: acceleration 1 is its best ratio in fast mode. Higher values trade ratio
// for speed, which the primary encoding cannot afford: what it stores stays stored until the
// recompressor comes by, and in RAM.
constexpr int kAcceleration = 1;

// One thread's compression state, as LZ4_compress_fast_extState wants it: LZ4_sizeofState()
// bytes, suitably aligned, which is what lz4.h's LZ4_stream_t is (checked against the library
// at run time on first use).
thread_local LZ4_stream_t t_state;

}  // namespace

std::optional<size_t> encode(Block block, size_t limit_bytes, MutableBlock out) {
  if (limit_bytes <= kMinPayloadBytes) return std::nullopt;
  ZSFS_CHECK(limit_bytes - 1 <= out.size());  // the longest payload allowed fits in out
  static const bool state_fits = LZ4_sizeofState() <= static_cast<int>(sizeof(LZ4_stream_t));
  ZSFS_CHECK_MSG(state_fits, "liblz4's state is larger than its header says");
  // The payload is the LZ4 block plus the check: it stays under limit_bytes exactly when the
  // block takes at most this many bytes. lz4 returns 0 as soon as its output would not fit.
  const int capacity = static_cast<int>(limit_bytes - 1 - block_check::kCheckBytes);
  const int body_bytes = LZ4_compress_fast_extState(
      &t_state, reinterpret_cast<const char*>(block.data()), reinterpret_cast<char*>(out.data()),
      kBlockBytes, capacity, kAcceleration);
  if (body_bytes <= 0) return std::nullopt;
  const auto body = static_cast<size_t>(body_bytes);
  block_check::store(block_check::of(block), out.data() + body);
  return body + block_check::kCheckBytes;
}

Status decode(std::span<const std::byte> payload, MutableBlock out) {
  if (payload.size() < kMinPayloadBytes) return Errno{EIO};
  const size_t body_bytes = payload.size() - block_check::kCheckBytes;
  // LZ4_decompress_safe never reads past the input nor writes past the output; it returns the
  // bytes it wrote, or a negative number for a malformed block (including one that ends early
  // or whose last sequence leaves input unread).
  const int decoded = LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data()),
                                          reinterpret_cast<char*>(out.data()),
                                          static_cast<int>(body_bytes), kBlockBytes);
  if (decoded != kBlockBytes) return Errno{EIO};
  if (!block_check::matches(out, payload.data() + body_bytes)) return Errno{EIO};
  return ok_status();
}

}  // namespace zsfs::codec::lz4_block
