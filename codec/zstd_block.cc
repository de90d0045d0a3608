// zstd_block: kZstd payloads and the per-thread zstd contexts (see zstd_block.h).
//
// ZSTD_c_format, ZSTD_d_format and ZSTD_d_stableOutBuffer are zstd's "experimental" parameters:
// their names sit behind ZSTD_STATIC_LINKING_ONLY, but they are passed to ZSTD_CCtx_setParameter
// and ZSTD_DCtx_setParameter, which are stable API exported by the shared libzstd. Nothing here
// calls a static-only function; zstd_block_test proves the parameters take effect with the
// library we link.
#define ZSTD_STATIC_LINKING_ONLY

#include "codec/zstd_block.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include <zstd.h>
#include <zstd_errors.h>

#include "base/check.h"
#include "codec/block_check.h"

namespace zsfs::codec::zstd_block {
namespace {

// zstd's setters fail only for parameters out of range: with the values below and a level that
// Compressor::create() validated, a failure is a bug.
void set_or_die(size_t zstd_result) {
  ZSFS_CHECK_MSG(!ZSTD_isError(zstd_result), ZSTD_getErrorName(zstd_result));
}

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

// zstd's bit-stream writers stop 8 bytes short of the end of their buffer (the size of their bit
// container), so a frame of n bytes needs n + 9 bytes of room: 8 or 9 measured over the kernel
// corpus at levels -5 to 19. Compressing into the threshold's room plus this slack keeps the
// threshold exact to the byte; 32 leaves a margin should a future zstd want more.
constexpr size_t kCompressSlackBytes = 32;

// One thread's compression context. Every parameter but the level is set once, at creation; the
// level is set when a Compressor with another level than the last one uses this thread.
class ThreadCompressor {
 public:
  // Where frames are made: the block's room plus zstd's slack. The payload is copied out of it
  // without the frame header.
  static constexpr size_t kScratchBytes = kBlockSize + kCompressSlackBytes;
  std::span<std::byte, kScratchBytes> scratch() { return scratch_; }

  // The context, set to level; nullptr if it cannot be allocated (a later call tries again).
  ZSTD_CCtx* with_level(int level) {
    if (cctx_ == nullptr && !create()) return nullptr;
    if (level != level_) {
      set_or_die(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level));
      level_ = level;
      ++level_changes_;
    }
    return cctx_.get();
  }

  uint64_t level_changes() const { return level_changes_; }
  size_t context_bytes() const { return ZSTD_sizeof_CCtx(cctx_.get()); }
  // The next with_level() creates the context anew and sets its level.
  void release() {
    cctx_.reset();
    level_ = kNoLevel;
  }

 private:
  // Below ZSTD_minCLevel(), so the first use always sets the level.
  static constexpr int kNoLevel = std::numeric_limits<int>::min();

  bool create() {
    cctx_.reset(ZSTD_createCCtx());
    if (cctx_ == nullptr) return false;
    ZSTD_CCtx* cctx = cctx_.get();
    set_or_die(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless));
    set_or_die(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0));
    set_or_die(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0));
    set_or_die(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0));
    set_or_die(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, kWindowLog));
    level_ = kNoLevel;
    return true;
  }

  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
  int level_ = kNoLevel;
  uint64_t level_changes_ = 0;
  std::array<std::byte, kScratchBytes> scratch_;
};

// One thread's decompression context: magicless frames, decoded straight into the caller's block
// (a stable output buffer spares zstd its own window buffer and a copy).
class ThreadDecompressor {
 public:
  ZSTD_DCtx* get() {
    if (dctx_ == nullptr) {
      dctx_.reset(ZSTD_createDCtx());
      if (dctx_ == nullptr) return nullptr;
      set_or_die(ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_format, ZSTD_f_zstd1_magicless));
      set_or_die(ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_stableOutBuffer, 1));
    }
    return dctx_.get();
  }

  size_t context_bytes() const { return ZSTD_sizeof_DCtx(dctx_.get()); }
  void release() { dctx_.reset(); }

 private:
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
};

thread_local ThreadCompressor t_compressor;
thread_local ThreadDecompressor t_decompressor;

// A zstd that writes another header than the parameters imply (a future library that chose
// differently) must not cost data: the block is kept raw, and this is said once, loudly.
void report_unexpected_header(std::span<const std::byte, kFrameHeader.size()> frame) {
  static std::atomic<bool> reported{false};
  if (reported.exchange(true, std::memory_order_relaxed)) return;
  std::fprintf(stderr,
               "zsfs: codec: zstd %s wrote frame header %02x %02x, expected %02x %02x; blocks "
               "are kept raw\n",
               ZSTD_versionString(), std::to_integer<unsigned>(frame[0]),
               std::to_integer<unsigned>(frame[1]), std::to_integer<unsigned>(kFrameHeader[0]),
               std::to_integer<unsigned>(kFrameHeader[1]));
}

// A decoding failure: ENOMEM when zstd could not allocate, EIO for everything the payload did.
Errno decode_error(size_t zstd_result) {
  return Errno{ZSTD_getErrorCode(zstd_result) == ZSTD_error_memory_allocation ? ENOMEM : EIO};
}

}  // namespace

std::optional<size_t> encode(Block block, int level, size_t limit_bytes, MutableBlock out,
                             const Dictionary* dict) {
  if (limit_bytes <= kMinPayloadBytes) return std::nullopt;
  // The payload is the frame less its header, plus the check: it stays under limit_bytes exactly
  // when the frame is at most max_frame_bytes long. zstd gets that much room plus its slack and
  // fails with dstSize_tooSmall as soon as it runs out.
  const size_t max_frame_bytes = limit_bytes - 1 - kCheckBytes + kFrameHeader.size();
  ZSFS_CHECK(limit_bytes - 1 <= out.size());  // the longest payload allowed fits in out
  static_assert(kBlockSize - 1 - kCheckBytes + kFrameHeader.size() + kCompressSlackBytes <=
                ThreadCompressor::kScratchBytes);

  ZSTD_CCtx* cctx = t_compressor.with_level(level);
  if (cctx == nullptr) return std::nullopt;
  const ZSTD_CDict* cdict = nullptr;
  if (dict != nullptr) {
    cdict = dict->cdict(level);
    ZSFS_CHECK_MSG(cdict != nullptr, "dictionary not digested for this level");
  }
  // A block that did not fit leaves the context mid-frame, where zstd refuses a new dictionary:
  // end that session first (ZSTD_compress2 would, but only after the dictionary is set). A null
  // dictionary returns the context to none.
  set_or_die(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only));
  set_or_die(ZSTD_CCtx_refCDict(cctx, cdict));
  const std::span<std::byte> scratch = t_compressor.scratch();
  const size_t frame_bytes = ZSTD_compress2(
      cctx, scratch.data(), max_frame_bytes + kCompressSlackBytes, block.data(), block.size());
  if (ZSTD_isError(frame_bytes)) {
    // dstSize_tooSmall is the common way out, for blocks that do not compress under the limit;
    // memory_allocation leaves the block raw, which is right, only bigger. Anything else is a bug.
    const ZSTD_ErrorCode code = ZSTD_getErrorCode(frame_bytes);
    ZSFS_CHECK_MSG(code == ZSTD_error_dstSize_tooSmall || code == ZSTD_error_memory_allocation,
                   ZSTD_getErrorName(frame_bytes));
    return std::nullopt;
  }
  if (frame_bytes > max_frame_bytes) return std::nullopt;

  if (frame_bytes < kFrameHeader.size() ||
      std::memcmp(scratch.data(), kFrameHeader.data(), kFrameHeader.size()) != 0) {
    report_unexpected_header(scratch.first<kFrameHeader.size()>());
    return std::nullopt;
  }
  const size_t body_bytes = frame_bytes - kFrameHeader.size();
  std::memcpy(out.data(), scratch.data() + kFrameHeader.size(), body_bytes);
  block_check::store(block_check::of(block), out.data() + body_bytes);
  return body_bytes + kCheckBytes;
}

Status decode(std::span<const std::byte> payload, MutableBlock out, const Dictionary* dict) {
  if (payload.size() < kMinPayloadBytes) return Errno{EIO};
  const std::span<const std::byte> body = payload.first(payload.size() - kCheckBytes);

  ZSTD_DCtx* dctx = t_decompressor.get();
  if (dctx == nullptr) return Errno{ENOMEM};
  // A failed decode can leave the context mid-frame; start every payload afresh, with the
  // payload's own dictionary (null: none).
  set_or_die(ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only));
  set_or_die(ZSTD_DCtx_refDDict(dctx, dict != nullptr ? dict->ddict() : nullptr));

  // The frame is fed in two pieces: its header, which is not stored, then the stored body.
  // Decoding stops where the frame ends, so trailing bytes stay unread and are caught below.
  ZSTD_outBuffer dst{out.data(), out.size(), 0};
  ZSTD_inBuffer header{kFrameHeader.data(), kFrameHeader.size(), 0};
  size_t result = ZSTD_decompressStream(dctx, &dst, &header);
  if (ZSTD_isError(result)) return decode_error(result);
  ZSFS_DCHECK(header.pos == header.size);

  ZSTD_inBuffer input{body.data(), body.size(), 0};
  result = ZSTD_decompressStream(dctx, &dst, &input);
  if (ZSTD_isError(result)) return decode_error(result);
  // A whole frame ends with result 0 (else the body was cut short), leaves no input unread (else
  // bytes trail it) and has filled out exactly (else it held less than a block; more would have
  // been an error already).
  if (result != 0 || input.pos != input.size || dst.pos != out.size()) return Errno{EIO};
  // Read last: the check follows the body that zstd has just pulled into the cache.
  if (!block_check::matches(out, payload.data() + body.size())) return Errno{EIO};
  return ok_status();
}

uint64_t thread_level_changes() {
  return t_compressor.level_changes();
}

size_t thread_context_bytes() {
  return t_compressor.context_bytes() + t_decompressor.context_bytes();
}

void release_thread_contexts() {
  t_compressor.release();
  t_decompressor.release();
}

}  // namespace zsfs::codec::zstd_block
