// floor: the smallest memory a block store like zsfs could hold a tree in, under its own rules.
//
//   floor [-l LEVEL] [-t RAW_THRESHOLD] [-D DICTIONARY] [-H HISTOGRAM_FILE] DIR
//
// Reads every regular file under DIR (symbolic links are not followed), cuts it into 4 KiB blocks
// (the last one padded with zeros, as zsfs stores it), and then, as zsfs's block store does:
// - skips same-filled blocks (one 8-byte word repeated, zeros included): they cost nothing;
// - keeps one copy of each distinct block (a set of XXH3-128 fingerprints; at these numbers a
//   collision is not a practical concern for an estimate);
// - compresses each distinct block on its own with zstd at LEVEL, with zsfs's frame parameters:
//   magicless, no content size, checksum or dictionary id, window log 12; with -D, against the
//   zstd dictionary in that file (`zsfsctl dict export` writes zsfs's), digested at LEVEL as zsfs
//   digests it (a CDict referenced by the context), so that every block is compressed alone
//   against the same dictionary, as zsfs's recompressor does.
// It prints key=value lines: counts, and `floor_bytes`, the sum over distinct blocks of the frame
// size, or 4096 when the frame is RAW_THRESHOLD bytes or more (such a block is kept raw); the
// default threshold 3265 is zsfs's huge-class size for chain=8. `payload_floor_bytes` is the same
// sum with zsfs's exact payload (frame less its 2-byte header plus the 4-byte check). With -H, it
// also writes the histogram of frame sizes ("size count" lines), so the caller can recompute the
// floor for another threshold.
//
// Bad arguments (a level zstd does not have, a threshold out of 1..4096, a dictionary zstd
// cannot load) are refused with a message naming the value; exit status 2.
//
// Built by run.sh with the system compiler: cc -O2 floor.c -lzstd. xxHash is used header-only.
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#define ZSTD_STATIC_LINKING_ONLY
#define XXH_INLINE_ALL

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

// The parameters zsfs digests a dictionary with: the same code, shared with codec/dictionary.cc.
#include "../../../codec/block_parameters.h"

enum { kBlockSize = 4096, kWindowLog = 12, kFrameHeaderBytes = 2, kCheckBytes = 4 };

static int g_level = 1;
static size_t g_raw_threshold = 3265;
static ZSTD_CCtx* g_cctx;
static ZSTD_CDict* g_cdict;  // with -D

static uint64_t g_files, g_file_bytes, g_blocks, g_same_blocks, g_dup_blocks, g_unique_blocks;
static uint64_t g_floor_bytes, g_payload_floor_bytes, g_raw_blocks, g_frame_bytes;
static uint64_t g_histogram[kBlockSize + 64];
static int g_errors;

// An open-addressing set of 128-bit fingerprints; {0, 0} marks an empty slot (a real {0, 0}
// fingerprint is kept aside in g_have_zero_key).
static XXH128_hash_t* g_table;
static size_t g_table_slots;
static size_t g_table_used;
static int g_have_zero_key;

static void table_init(size_t slots) {
  g_table = calloc(slots, sizeof *g_table);
  if (g_table == NULL) {
    perror("floor: calloc");
    exit(2);
  }
  g_table_slots = slots;
  g_table_used = 0;
}

// Inserts key; returns 1 when it was new.
static int table_insert(XXH128_hash_t key);

static void table_grow(void) {
  XXH128_hash_t* old = g_table;
  const size_t old_slots = g_table_slots;
  table_init(old_slots * 2);
  for (size_t i = 0; i < old_slots; ++i)
    if (old[i].low64 != 0 || old[i].high64 != 0) table_insert(old[i]);
  free(old);
}

static int table_insert(XXH128_hash_t key) {
  if (key.low64 == 0 && key.high64 == 0) {
    const int was_new = !g_have_zero_key;
    g_have_zero_key = 1;
    return was_new;
  }
  if ((g_table_used + 1) * 10 > g_table_slots * 7) table_grow();
  size_t i = (size_t)key.low64 & (g_table_slots - 1);
  for (;;) {
    XXH128_hash_t* slot = &g_table[i];
    if (slot->low64 == 0 && slot->high64 == 0) {
      *slot = key;
      ++g_table_used;
      return 1;
    }
    if (slot->low64 == key.low64 && slot->high64 == key.high64) return 0;
    i = (i + 1) & (g_table_slots - 1);
  }
}

static int same_filled(const unsigned char* block) {
  uint64_t first;
  memcpy(&first, block, 8);
  for (size_t i = 8; i < kBlockSize; i += 8) {
    uint64_t word;
    memcpy(&word, block + i, 8);
    if (word != first) return 0;
  }
  return 1;
}

static void add_block(const unsigned char* block) {
  static unsigned char frame[kBlockSize + 512];
  ++g_blocks;
  if (same_filled(block)) {
    ++g_same_blocks;
    return;
  }
  if (!table_insert(XXH3_128bits(block, kBlockSize))) {
    ++g_dup_blocks;
    return;
  }
  ++g_unique_blocks;
  size_t frame_bytes = ZSTD_compress2(g_cctx, frame, sizeof frame, block, kBlockSize);
  if (ZSTD_isError(frame_bytes)) {
    fprintf(stderr, "floor: zstd: %s\n", ZSTD_getErrorName(frame_bytes));
    exit(2);
  }
  g_frame_bytes += frame_bytes;
  ++g_histogram[frame_bytes < sizeof g_histogram / sizeof g_histogram[0]
                    ? frame_bytes
                    : sizeof g_histogram / sizeof g_histogram[0] - 1];
  if (frame_bytes >= g_raw_threshold) {
    ++g_raw_blocks;
    g_floor_bytes += kBlockSize;
  } else {
    g_floor_bytes += frame_bytes;
  }
  const size_t payload_bytes = frame_bytes - kFrameHeaderBytes + kCheckBytes;
  g_payload_floor_bytes += payload_bytes >= g_raw_threshold ? kBlockSize : payload_bytes;
}

static int visit(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
  const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
    ++g_errors;
    return 0;
  }
  ++g_files;
  static unsigned char block[kBlockSize];
  for (;;) {
    size_t filled = 0;
    while (filled < kBlockSize) {
      const ssize_t n = read(fd, block + filled, kBlockSize - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
        ++g_errors;
        close(fd);
        return 0;
      }
      if (n == 0) break;
      filled += (size_t)n;
    }
    if (filled == 0) break;
    g_file_bytes += filled;
    memset(block + filled, 0, kBlockSize - filled);
    add_block(block);
    if (filled < kBlockSize) break;
  }
  close(fd);
  return 0;
}

static void set_or_die(size_t result, const char* what) {
  if (ZSTD_isError(result)) {
    fprintf(stderr, "floor: zstd %s: %s\n", what, ZSTD_getErrorName(result));
    exit(2);
  }
}

static const char kUsage[] =
    "usage: floor [-l LEVEL] [-t RAW_THRESHOLD] [-D DICTIONARY] [-H HISTOGRAM_FILE] DIR\n";

// Parses a whole decimal integer in [min, max] or exits naming the option and the value.
static long parse_or_die(const char* option, const char* text, long min, long max) {
  char* end;
  errno = 0;
  const long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    fprintf(stderr, "floor: %s '%s' is not an integer from %ld to %ld\n", option, text, min, max);
    exit(2);
  }
  return value;
}

// The whole file at path, or exits saying why; *size is set to its length.
static void* read_file_or_die(const char* path, size_t* size) {
  FILE* in = fopen(path, "rb");
  if (in == NULL) {
    fprintf(stderr, "floor: -D %s: %s\n", path, strerror(errno));
    exit(2);
  }
  size_t capacity = 1 << 20, used = 0;
  unsigned char* bytes = malloc(capacity);
  for (;;) {
    if (bytes == NULL) {
      perror("floor: malloc");
      exit(2);
    }
    used += fread(bytes + used, 1, capacity - used, in);
    if (used < capacity) break;
    capacity *= 2;
    bytes = realloc(bytes, capacity);
  }
  if (ferror(in)) {
    fprintf(stderr, "floor: -D %s: read error\n", path);
    exit(2);
  }
  fclose(in);
  *size = used;
  return bytes;
}

int main(int argc, char** argv) {
  const char* histogram_path = NULL;
  const char* dict_path = NULL;
  int option;
  while ((option = getopt(argc, argv, "l:t:D:H:")) != -1) {
    switch (option) {
      case 'l':
        g_level = (int)parse_or_die("-l", optarg, ZSTD_minCLevel(), ZSTD_maxCLevel());
        break;
      case 't':
        g_raw_threshold = (size_t)parse_or_die("-t", optarg, 1, kBlockSize);
        break;
      case 'D':
        dict_path = optarg;
        break;
      case 'H':
        histogram_path = optarg;
        break;
      default:
        fputs(kUsage, stderr);
        return 2;
    }
  }
  if (optind + 1 != argc) {
    fputs(kUsage, stderr);
    return 2;
  }
  g_cctx = ZSTD_createCCtx();
  if (g_cctx == NULL) return 2;
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_compressionLevel, g_level), "level");
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless), "format");
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_contentSizeFlag, 0), "content size");
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_checksumFlag, 0), "checksum");
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_dictIDFlag, 0), "dictionary id");
  set_or_die(ZSTD_CCtx_setParameter(g_cctx, ZSTD_c_windowLog, kWindowLog), "window log");
  size_t dict_bytes = 0;
  unsigned dict_id = 0;
  if (dict_path != NULL) {
    // As zsfs does (codec/dictionary.cc, zstd_block.cc): the dictionary digested once at the
    // level, with the parameters zsfs gives it, referenced by the context, which keeps it for
    // every frame that follows.
    void* dict = read_file_or_die(dict_path, &dict_bytes);
    g_cdict =
        ZSTD_createCDict_advanced(dict, dict_bytes, ZSTD_dlm_byCopy, ZSTD_dct_auto,
                                  zsfs_block_parameters(g_level, dict_bytes), ZSTD_defaultCMem);
    if (dict_bytes == 0 || g_cdict == NULL) {
      fprintf(stderr, "floor: -D %s: not a zstd dictionary zstd can load (%zu bytes)\n", dict_path,
              dict_bytes);
      return 2;
    }
    dict_id = ZSTD_getDictID_fromDict(dict, dict_bytes);
    free(dict);  // ZSTD_createCDict copied it
    set_or_die(ZSTD_CCtx_refCDict(g_cctx, g_cdict), "dictionary");
  }
  table_init(1 << 20);

  if (nftw(argv[optind], visit, 64, FTW_PHYS) != 0) {
    fprintf(stderr, "floor: walking %s: %s\n", argv[optind], strerror(errno));
    return 1;
  }
  if (histogram_path != NULL) {
    FILE* out = fopen(histogram_path, "w");
    if (out == NULL) {
      perror(histogram_path);
      return 1;
    }
    for (size_t i = 0; i < sizeof g_histogram / sizeof g_histogram[0]; ++i)
      if (g_histogram[i] != 0) fprintf(out, "%zu %llu\n", i, (unsigned long long)g_histogram[i]);
    fclose(out);
  }
  printf("level=%d\n", g_level);
  printf("raw_threshold=%zu\n", g_raw_threshold);
  printf("dict_bytes=%zu\n", dict_bytes);
  printf("dict_id=%u\n", dict_id);
  printf("files=%llu\n", (unsigned long long)g_files);
  printf("file_bytes=%llu\n", (unsigned long long)g_file_bytes);
  printf("blocks=%llu\n", (unsigned long long)g_blocks);
  printf("same_blocks=%llu\n", (unsigned long long)g_same_blocks);
  printf("duplicate_blocks=%llu\n", (unsigned long long)g_dup_blocks);
  printf("unique_blocks=%llu\n", (unsigned long long)g_unique_blocks);
  printf("raw_blocks=%llu\n", (unsigned long long)g_raw_blocks);
  printf("frame_bytes=%llu\n", (unsigned long long)g_frame_bytes);
  printf("floor_bytes=%llu\n", (unsigned long long)g_floor_bytes);
  printf("payload_floor_bytes=%llu\n", (unsigned long long)g_payload_floor_bytes);
  printf("errors=%d\n", g_errors);
  ZSTD_freeCCtx(g_cctx);
  ZSTD_freeCDict(g_cdict);
  return g_errors == 0 ? 0 : 1;
}
