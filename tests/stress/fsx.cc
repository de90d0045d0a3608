// zsfs_fsx: a randomized file-operation tester with an in-memory model, in the spirit of fsx
// (the File System eXerciser from NeXT/Apple, xfstests' ltp/fsx). It runs on any directory, so it
// is validated on tmpfs (/dev/shm) and then pointed at a zsfs mount.
//
// Each process keeps, for each of its files, the bytes the file must hold, and checks every read
// (pread, mmap), every file size and the answers of SEEK_DATA/SEEK_HOLE against them:
//   write, read                  pwrite/pread, unaligned and block-aligned, of several data kinds:
//                                random (incompressible), same-filled words, zeros, repetitive
//                                text, and copies of a few fixed blocks shared by every process
//                                (so dedup sees identical blocks written concurrently)
//   truncate                     up and down (ftruncate)
//   punch                        fallocate(PUNCH_HOLE|KEEP_SIZE)
//   zero                         fallocate(ZERO_RANGE[|KEEP_SIZE]); tmpfs lacks it: disabled with
//                                a note on the first EOPNOTSUPP
//   falloc                       fallocate(0 or KEEP_SIZE): size may grow, bytes stay
//   copy                         copy_file_range between this process's files (or within one)
//   append                       write(2) on an O_APPEND descriptor
//   mapwrite, mapread            a MAP_SHARED mapping, msync(MS_SYNC), munmap
//   seek                         SEEK_DATA/SEEK_HOLE: a hole may only be reported where the model
//                                holds zeros (at least to the next hole-granularity boundary),
//                                and SEEK_DATA may only skip bytes the model knows are zeros
//   fsync, reopen                fsync/fdatasync; close and open again (sometimes O_TRUNC)
//   dropcache                    posix_fadvise(DONTNEED): drop the file's clean pages from the
//                                kernel's page cache, so the next reads come from the filesystem
//                                (a FUSE filesystem with keep_cache would otherwise answer most
//                                reads of recently written data from the page cache)
//   direct                       O_DIRECT pread/pwrite of whole blocks (the kernel's direct I/O
//                                path, which bypasses and invalidates the page cache)
//   relink                       link to a new name, unlink the old one, rename back
//   orphan                       unlink the file while it is open, check it whole through its
//                                descriptors, then recreate it under its name from the model
// Every file is read back whole every -c operations and at the end, after fdatasync and
// dropping its cached pages, so the bytes compared are the ones the filesystem itself holds.
//
// -p N runs N processes at once (fork), each on its own files with its own seed derived from the
// run's seed; with -S they share one file instead, each owning a disjoint block-aligned region of
// it (no size changes then). On a failure the report names the file, the offset, the expected and
// the actual bytes, and the last operations of the failing process; rerunning with the printed
// command (same -s) replays the same operations.
//
// --fill is a different mode for memory-limit tests: each process writes files of incompressible,
// unique data until the filesystem says ENOSPC (or until --fill-bytes), then reads all of them
// back. --verify-fill checks, later, every file a fill run left (the data is a function of the
// seed, the prefix and the file's name and offset).
//
// Exit status: 0 success, 1 a mismatch or an unexpected error, 2 a usage error.
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr uint64_t kBlock = 4096;           // zsfs's block size; aligned ops use it
constexpr uint64_t kVerifyChunk = 1 << 20;  // whole-file reads go in pieces of this size
constexpr unsigned kSharedBlocks = 16;      // fixed blocks every process writes (dedup)
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// --- Small helpers -------------------------------------------------------------------------------

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t mix(uint64_t x) {
  return splitmix64(x);
}

uint64_t hash_text(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return mix(h);
}

// xoshiro256**: fast, and the same sequence on every machine for a given seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : state_)
      word = splitmix64(s);
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform enough in [0, n); 0 when n is 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // In [lo, hi], inclusive.
  uint64_t range(uint64_t lo, uint64_t hi) { return hi <= lo ? lo : lo + below(hi - lo + 1); }
  bool chance(unsigned percent) { return below(100) < percent; }
  void fill(uint8_t* out, size_t size) {
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      const uint64_t word = next();
      std::memcpy(out + i, &word, 8);
    }
    if (i < size) {
      const uint64_t word = next();
      std::memcpy(out + i, &word, size - i);
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> state_{};
};

off_t to_off(uint64_t value) {
  return static_cast<off_t>(value);
}
uint64_t align_down(uint64_t value, uint64_t unit) {
  return value / unit * unit;
}
uint64_t align_up(uint64_t value, uint64_t unit) {
  return (value + unit - 1) / unit * unit;
}

// Index of the first non-zero byte in [data, data+size), or size.
size_t first_nonzero(const uint8_t* data, size_t size) {
  size_t i = 0;
  while (i < size && (reinterpret_cast<uintptr_t>(data + i) & 7) != 0) {
    if (data[i] != 0) return i;
    ++i;
  }
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    if (word != 0) break;
  }
  for (; i < size; ++i) {
    if (data[i] != 0) return i;
  }
  return size;
}

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "E?") + " (" + std::strerror(err) + ")";
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  const int n = std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  if (n < 0) return {};
  return std::string(buffer, std::min(static_cast<size_t>(n), sizeof buffer - 1));
}

// One write(2) per message, so the lines of several processes do not interleave.
void emit(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string hex_bytes(const uint8_t* data, size_t size) {
  std::string out;
  for (size_t i = 0; i < size; ++i)
    out += format("%s%02x", i == 0 ? "" : " ", data[i]);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --- Options -------------------------------------------------------------------------------------

enum Op : unsigned {
  kWrite,
  kRead,
  kTruncate,
  kPunch,
  kZero,
  kFalloc,
  kCopy,
  kAppend,
  kMapWrite,
  kMapRead,
  kSeek,
  kFsync,
  kReopen,
  kDrop,
  kDirect,
  kRelink,
  kOrphan,
  kOpCount
};
constexpr std::array<const char*, kOpCount> kOpNames = {
    "write",   "read", "truncate", "punch",  "zero",      "falloc", "copy",   "append", "mapwrite",
    "mapread", "seek", "fsync",    "reopen", "dropcache", "direct", "relink", "orphan"};
constexpr std::array<unsigned, kOpCount> kDefaultWeights = {30, 20, 6, 6, 4, 3, 6, 5, 4,
                                                            4,  6,  1, 2, 4, 4, 1, 1};

enum Pattern : unsigned { kRandom, kSameFilled, kZeros, kText, kDedup, kPatternCount };
constexpr std::array<const char*, kPatternCount> kPatternNames = {"random", "same", "zeros", "text",
                                                                  "dedup"};
constexpr std::array<unsigned, kPatternCount> kPatternWeights = {30, 15, 10, 20, 25};

enum class Mode { kFsx, kFill, kVerifyFill };

struct Options {
  Mode mode = Mode::kFsx;
  std::string dir;
  std::string prefix;  // default: "fsx" or "fill"
  uint64_t seed = 0;
  bool seed_given = false;
  uint64_t nr_ops = 10000;  // per process; 0: no limit (then -t bounds the run)
  double seconds = 0;       // 0: no time limit
  unsigned nr_files = 4;
  unsigned nr_procs = 1;
  bool shared = false;
  uint64_t max_size = 256 * 1024;
  uint64_t max_op = 64 * 1024;
  uint64_t check_every = 1000;
  uint64_t hole_granularity = 512;
  unsigned log_depth = 50;
  std::array<unsigned, kOpCount> weights = kDefaultWeights;
  bool strict = false;
  bool keep = false;
  bool verbose = false;
  bool quiet = false;
  // --fill
  uint64_t fill_file_size = 1 << 20;
  uint64_t fill_bytes = 0;  // per process; 0: until ENOSPC
  bool expect_enospc = false;
  bool expect_space = false;
  uint64_t overwrites = 0;  // --fill: overwrite attempts once full
  bool enomem_ok = false;   // --fill: ENOMEM means full too
  std::string command_line;
};

void usage(FILE* out) {
  std::fprintf(out,
               R"(Usage: zsfs_fsx [OPTIONS] DIR
Randomized file operations on files in DIR, checked against an in-memory model.

  -s SEED        seed (default: from the clock; always printed)
  -N OPS         operations per process (default 10000; 0 = until -t)
  -t SECONDS     stop after this long (default: no limit)
  -f FILES       files per process (default 4)
  -p PROCS       processes at once, each on its own files (default 1)
  -S             shared-file mode: the processes share one file, each writing its own
                 block-aligned region of -l bytes (no size changes)
  -l SIZE        maximum file size, or region size with -S (default 256k; k/m/g suffixes)
  -o SIZE        maximum bytes per operation (default 64k)
  -c OPS         verify every file whole every OPS operations (default 1000; 0 = only at the end)
  -w OP=N,...    operation weights (0 disables); ops: write read truncate punch zero falloc
                 copy append mapwrite mapread seek fsync reopen dropcache direct relink
                 orphan
  -P PREFIX      file name prefix (default fsx, or fill with --fill)
  -k             keep the files afterwards (they are always kept on failure)
  -v             print every operation;  -q  print only failures and the summary
  --strict       only zero may be disabled as unsupported (others failing with EOPNOTSUPP fail)
  --hole-granularity N  a reported hole must read as zeros up to the next multiple of N
                 (default 512)
  --log-depth N  operations shown on failure (default 50)
  --fill         write unique incompressible files until ENOSPC, then verify them all
  --fill-size SIZE      size of each fill file (default 1m)
  --fill-bytes SIZE     stop after this many bytes per process (default: until ENOSPC)
  --expect-enospc       fail unless every process reached ENOSPC
  --expect-space        fail if any process got ENOSPC
  --enomem-ok           count ENOMEM (the host refusing memory) as full, like ENOSPC
  --overwrites N        once full, try N overwrites of every fourth file of the process (each
                        must land or fail with ENOSPC leaving the old bytes); files that took
                        one are removed afterwards
  --verify-fill  verify every PREFIX-P-K file in DIR written by --fill with this seed
Exit status: 0 success, 1 mismatch or unexpected error, 2 usage error.
)");
}

bool parse_size(const char* text, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || text[0] == '-') return false;
  uint64_t scale = 1;
  if (*end != '\0') {
    switch (*end) {
      case 'k':
      case 'K':
        scale = 1ull << 10;
        break;
      case 'm':
      case 'M':
        scale = 1ull << 20;
        break;
      case 'g':
      case 'G':
        scale = 1ull << 30;
        break;
      default:
        return false;
    }
    if (end[1] != '\0') return false;
  }
  if (value > UINT64_MAX / scale) return false;
  out = value * scale;
  return true;
}

bool parse_weights(const char* text, std::array<unsigned, kOpCount>& weights) {
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view name = item.substr(0, eq);
    const std::string number(item.substr(eq + 1));
    uint64_t value = 0;
    if (!parse_size(number.c_str(), value) || value > 1000) return false;
    bool found = false;
    for (unsigned op = 0; op < kOpCount; ++op) {
      if (name == kOpNames[op]) {
        weights[op] = static_cast<unsigned>(value);
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

// Returns kExitOk, or kExitUsage after a message.
int parse_options(int argc, char** argv, Options& o) {
  for (int i = 0; i < argc; ++i)
    o.command_line += (i ? " " : "") + std::string(argv[i]);
  enum LongOnly {
    kStrict = 1000,
    kHoleGranularity,
    kLogDepth,
    kFill,
    kFillSize,
    kFillBytes,
    kExpectEnospc,
    kExpectSpace,
    kVerifyFill,
    kOverwrites,
    kEnomemOk,
    kHelp
  };
  static const option kLong[] = {{"strict", no_argument, nullptr, kStrict},
                                 {"hole-granularity", required_argument, nullptr, kHoleGranularity},
                                 {"log-depth", required_argument, nullptr, kLogDepth},
                                 {"fill", no_argument, nullptr, kFill},
                                 {"fill-size", required_argument, nullptr, kFillSize},
                                 {"fill-bytes", required_argument, nullptr, kFillBytes},
                                 {"expect-enospc", no_argument, nullptr, kExpectEnospc},
                                 {"expect-space", no_argument, nullptr, kExpectSpace},
                                 {"verify-fill", no_argument, nullptr, kVerifyFill},
                                 {"overwrites", required_argument, nullptr, kOverwrites},
                                 {"enomem-ok", no_argument, nullptr, kEnomemOk},
                                 {"help", no_argument, nullptr, kHelp},
                                 {nullptr, 0, nullptr, 0}};
  auto bad = [](const char* what, const char* value) {
    std::fprintf(stderr, "zsfs_fsx: bad %s '%s'\n", what, value);
    return kExitUsage;
  };
  int c;
  uint64_t value = 0;
  while ((c = getopt_long(argc, argv, "s:N:t:f:p:Sl:o:c:w:P:kvqh", kLong, nullptr)) != -1) {
    switch (c) {
      case 's':
        if (!parse_size(optarg, o.seed)) return bad("seed (-s)", optarg);
        o.seed_given = true;
        break;
      case 'N':
        if (!parse_size(optarg, o.nr_ops)) return bad("operation count (-N)", optarg);
        break;
      case 't': {
        char* end = nullptr;
        o.seconds = std::strtod(optarg, &end);
        if (end == optarg || *end != '\0' || o.seconds < 0) return bad("seconds (-t)", optarg);
        break;
      }
      case 'f':
        if (!parse_size(optarg, value) || value == 0 || value > 1000) {
          return bad("file count (-f, 1..1000)", optarg);
        }
        o.nr_files = static_cast<unsigned>(value);
        break;
      case 'p':
        if (!parse_size(optarg, value) || value == 0 || value > 256) {
          return bad("process count (-p, 1..256)", optarg);
        }
        o.nr_procs = static_cast<unsigned>(value);
        break;
      case 'S':
        o.shared = true;
        break;
      case 'l':
        if (!parse_size(optarg, o.max_size) || o.max_size == 0 || o.max_size > (1ull << 32)) {
          return bad("maximum size (-l, 1..4g)", optarg);
        }
        break;
      case 'o':
        if (!parse_size(optarg, o.max_op) || o.max_op == 0 || o.max_op > (64ull << 20)) {
          return bad("maximum operation size (-o, 1..64m)", optarg);
        }
        break;
      case 'c':
        if (!parse_size(optarg, o.check_every)) return bad("check interval (-c)", optarg);
        break;
      case 'w':
        if (!parse_weights(optarg, o.weights)) return bad("weights (-w OP=N,...)", optarg);
        break;
      case 'P':
        o.prefix = optarg;
        if (o.prefix.empty() || o.prefix.find('/') != std::string::npos) {
          return bad("prefix (-P)", optarg);
        }
        break;
      case 'k':
        o.keep = true;
        break;
      case 'v':
        o.verbose = true;
        break;
      case 'q':
        o.quiet = true;
        break;
      case kStrict:
        o.strict = true;
        break;
      case kHoleGranularity:
        if (!parse_size(optarg, o.hole_granularity) || o.hole_granularity == 0) {
          return bad("hole granularity", optarg);
        }
        break;
      case kLogDepth:
        if (!parse_size(optarg, value) || value == 0 || value > 100000) {
          return bad("log depth", optarg);
        }
        o.log_depth = static_cast<unsigned>(value);
        break;
      case kFill:
        o.mode = Mode::kFill;
        break;
      case kFillSize:
        if (!parse_size(optarg, o.fill_file_size) || o.fill_file_size == 0) {
          return bad("fill file size", optarg);
        }
        break;
      case kFillBytes:
        if (!parse_size(optarg, o.fill_bytes)) return bad("fill byte count", optarg);
        break;
      case kExpectEnospc:
        o.expect_enospc = true;
        break;
      case kExpectSpace:
        o.expect_space = true;
        break;
      case kVerifyFill:
        o.mode = Mode::kVerifyFill;
        break;
      case kEnomemOk:
        o.enomem_ok = true;
        break;
      case kOverwrites:
        if (!parse_size(optarg, o.overwrites)) return bad("overwrite count", optarg);
        break;
      case 'h':
      case kHelp:
        usage(stdout);
        std::exit(kExitOk);
      default:
        usage(stderr);
        return kExitUsage;
    }
  }
  if (optind + 1 != argc) {
    std::fprintf(stderr, "zsfs_fsx: expected one directory argument\n");
    usage(stderr);
    return kExitUsage;
  }
  o.dir = argv[optind];
  struct stat st {};
  if (stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "zsfs_fsx: %s is not a directory\n", o.dir.c_str());
    return kExitUsage;
  }
  if (o.prefix.empty()) o.prefix = o.mode == Mode::kFsx ? "fsx" : "fill";
  if (o.nr_ops == 0 && o.seconds == 0 && o.mode == Mode::kFsx) {
    std::fprintf(stderr, "zsfs_fsx: -N 0 needs a time limit (-t)\n");
    return kExitUsage;
  }
  if (o.expect_enospc && o.expect_space) {
    std::fprintf(stderr, "zsfs_fsx: --expect-enospc and --expect-space exclude each other\n");
    return kExitUsage;
  }
  if (o.expect_space && o.fill_bytes == 0) {
    std::fprintf(stderr, "zsfs_fsx: --expect-space needs --fill-bytes\n");
    return kExitUsage;
  }
  unsigned total_weight = 0;
  for (unsigned w : o.weights)
    total_weight += w;
  if (total_weight == 0) {
    std::fprintf(stderr, "zsfs_fsx: every operation has weight 0\n");
    return kExitUsage;
  }
  if (o.shared) {
    o.max_size = align_up(o.max_size, kBlock);  // regions stay block- and page-aligned
    o.nr_files = 1;
  }
  if (!o.seed_given) {
    o.seed =
        mix(static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
            static_cast<uint64_t>(getpid())) %
        1000000000000ull;
    o.command_line += format(" -s %llu", static_cast<unsigned long long>(o.seed));
  }
  return kExitOk;
}

// --- Statistics, sent from each process to the parent through a pipe -----------------------------

struct Stats {
  std::array<uint64_t, kOpCount> ops{};
  uint64_t total_ops = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_verified = 0;
  uint64_t whole_checks = 0;
  uint64_t unsupported_mask = 0;  // bit per op disabled as unsupported
  uint64_t enospc = 0;            // fill: 1 if this process reached ENOSPC
  uint64_t files = 0;

  void add(const Stats& other) {
    for (unsigned i = 0; i < kOpCount; ++i)
      ops[i] += other.ops[i];
    total_ops += other.total_ops;
    bytes_written += other.bytes_written;
    bytes_verified += other.bytes_verified;
    whole_checks += other.whole_checks;
    unsupported_mask |= other.unsupported_mask;
    enospc += other.enospc;
    files += other.files;
  }
};

// --- The fsx tester (one process) ---------------------------------------------------------------

struct LogEntry {
  uint64_t number = 0;
  Op op = kWrite;
  unsigned file = 0;
  unsigned file2 = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t offset2 = 0;
  uint64_t size_before = 0;
  uint64_t size_after = 0;
  uint64_t result = 0;
  bool modifies = true;  // false: the operation cannot have changed the file's bytes
  const char* detail = "";
};

struct File {
  std::string path;
  int fd = -1;
  int append_fd = -1;
  int direct_fd = -1;
  uint64_t base = 0;   // shared mode: where this process's region starts in the file
  uint64_t limit = 0;  // the model never grows past this
  std::vector<uint8_t> model;
};

class Tester {
 public:
  Tester(const Options& options, unsigned proc, uint64_t shared_seed)
      : o_(options),
        proc_(proc),
        seed_(mix(options.seed ^ mix(proc + 1))),
        rng_(seed_),
        log_(options.log_depth),
        page_size_(static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) {
    Rng shared_rng(shared_seed);
    shared_blocks_.resize(kSharedBlocks * kBlock);
    shared_rng.fill(shared_blocks_.data(), shared_blocks_.size());
    scratch_.resize(std::max(o_.max_op, kVerifyChunk) + kBlock);
    scratch2_.resize(scratch_.size());
    tag_ = o_.nr_procs > 1 ? format("[p%u] ", proc_) : "";
  }

  int run() {
    start_ = std::chrono::steady_clock::now();
    open_files();
    for (uint64_t n = 0; o_.nr_ops == 0 || n < o_.nr_ops; ++n) {
      if (o_.seconds > 0 && (n & 63) == 0 && seconds_since(start_) >= o_.seconds) break;
      one_op();
      if (o_.check_every != 0 && stats_.total_ops % o_.check_every == 0) {
        verify_all("periodic check");
      }
    }
    verify_all("final check");
    close_files(!o_.keep);
    return kExitOk;
  }

  ~Tester() { std::free(direct_buf_); }
  Tester(const Tester&) = delete;
  Tester& operator=(const Tester&) = delete;

  const Stats& stats() const { return stats_; }

 private:
  // --- Set-up ---

  void open_files() {
    files_.resize(o_.nr_files);
    for (unsigned i = 0; i < o_.nr_files; ++i) {
      File& f = files_[i];
      if (o_.shared) {
        f.path = o_.dir + "/" + o_.prefix + "-shared";
        f.base = proc_ * o_.max_size;
        f.limit = o_.max_size;
        f.model.assign(o_.max_size, 0);  // the parent created the file full of zeros
        f.fd = open(f.path.c_str(), O_RDWR);
      } else {
        f.path = o_.dir + "/" + o_.prefix + format("-%u-%u", proc_, i);
        f.limit = o_.max_size;
        f.fd = open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
      }
      if (f.fd < 0) fail_errno("open " + f.path, errno);
    }
  }

  void close_files(bool unlink_them) {
    for (File& f : files_) {
      if (f.fd >= 0) close(f.fd);
      if (f.append_fd >= 0) close(f.append_fd);
      if (f.direct_fd >= 0) close(f.direct_fd);
      f.fd = f.append_fd = f.direct_fd = -1;
      if (unlink_them && !o_.shared && unlink(f.path.c_str()) != 0) {
        fail_errno("unlink " + f.path, errno);
      }
    }
  }

  // --- Choosing ---

  Op pick_op() {
    unsigned total = 0;
    for (unsigned op = 0; op < kOpCount; ++op)
      total += allowed(static_cast<Op>(op));
    uint64_t r = rng_.below(total);
    for (unsigned op = 0; op < kOpCount; ++op) {
      const unsigned w = allowed(static_cast<Op>(op));
      if (r < w) return static_cast<Op>(op);
      r -= w;
    }
    return kRead;
  }

  unsigned allowed(Op op) const {
    if ((unsupported_ >> op) & 1) return 0;
    // In shared mode sizes stay fixed, and the path must stay (other processes reopen it).
    if (o_.shared && (op == kTruncate || op == kAppend || op == kRelink || op == kOrphan)) return 0;
    return o_.weights[op];
  }

  uint64_t pick_length() {
    const uint64_t max_op = o_.max_op;
    switch (rng_.below(8)) {
      case 0:
        return rng_.range(1, std::min<uint64_t>(64, max_op));
      case 1:
      case 2:
        return rng_.range(1, std::min(kBlock, max_op));
      case 3:
        return std::max<uint64_t>(1, align_down(rng_.range(1, max_op), kBlock));
      default:
        return rng_.range(1, max_op);
    }
  }

  // An offset and length inside [0, limit), sometimes block-aligned, sometimes near the end.
  void pick_range(const File& f, uint64_t& off, uint64_t& len) {
    const uint64_t size = f.model.size();
    len = pick_length();
    switch (rng_.below(4)) {
      case 0:  // around the current end
        off = size + rng_.below(2 * kBlock);
        off = off > kBlock ? off - kBlock : 0;
        break;
      case 1:  // block-aligned
        off = align_down(rng_.below(f.limit), kBlock);
        len = align_up(len, kBlock);
        break;
      default:
        off = rng_.below(f.limit);
        break;
    }
    if (off >= f.limit) off = f.limit - 1;
    len = std::max<uint64_t>(1, std::min(len, f.limit - off));
  }

  // An offset mostly inside the file (some past its end), for reads, punches, seeks.
  uint64_t pick_offset_in_file(const File& f) {
    const uint64_t size = f.model.size();
    uint64_t off;
    if (size == 0 || rng_.chance(10)) {
      off = size + rng_.below(2 * kBlock);
    } else if (rng_.chance(30)) {
      off = align_down(rng_.below(size), kBlock);
    } else {
      off = rng_.below(size);
    }
    if (o_.shared && off >= f.limit) off = f.limit - 1;
    return off;
  }

  Pattern pick_pattern() {
    unsigned total = 0;
    for (unsigned w : kPatternWeights)
      total += w;
    uint64_t r = rng_.below(total);
    for (unsigned p = 0; p < kPatternCount; ++p) {
      if (r < kPatternWeights[p]) return static_cast<Pattern>(p);
      r -= kPatternWeights[p];
    }
    return kRandom;
  }

  // Fills out[0, len) with data of the given kind meant for absolute file offset `at`; the kinds
  // with a period are phased by the absolute offset, so aligned blocks come out identical.
  void generate(Pattern pattern, uint64_t at, uint8_t* out, size_t len) {
    switch (pattern) {
      case kRandom:
        rng_.fill(out, len);
        break;
      case kZeros:
        std::memset(out, 0, len);
        break;
      case kSameFilled: {
        uint8_t word[8];
        const uint64_t value = rng_.chance(20) ? 0xffffffffffffffffull : rng_.next();
        std::memcpy(word, &value, 8);
        for (size_t i = 0; i < len; ++i)
          out[i] = word[(at + i) % 8];
        break;
      }
      case kText: {
        static constexpr std::string_view kWords[] = {
            "zsfs ",   "block ", "compressed ",  "dedup ", "the ",   "zspage ", "of ",
            "handle ", "4096 ",  "fingerprint ", "\n",     "tmpfs ", "inode "};
        uint8_t phrase[256];
        size_t n = 0;
        const uint64_t words = rng_.range(1, 12);
        for (uint64_t w = 0; w < words; ++w) {
          const std::string_view word = kWords[rng_.below(std::size(kWords))];
          if (n + word.size() > sizeof phrase) break;
          std::memcpy(phrase + n, word.data(), word.size());
          n += word.size();
        }
        for (size_t i = 0; i < len; ++i)
          out[i] = phrase[(at + i) % n];
        break;
      }
      case kDedup: {
        const uint8_t* block = shared_blocks_.data() + rng_.below(kSharedBlocks) * kBlock;
        for (size_t i = 0; i < len;) {
          const size_t in_block = (at + i) % kBlock;
          const size_t n = std::min<size_t>(len - i, kBlock - in_block);
          std::memcpy(out + i, block + in_block, n);
          i += n;
        }
        if (rng_.chance(10)) out[rng_.below(len)] ^= 0x5a;  // a near-duplicate
        break;
      }
      case kPatternCount:
        break;
    }
  }

  // --- One operation ---

  void one_op() {
    const Op op = pick_op();
    LogEntry& e = log_[stats_.total_ops % log_.size()];
    e = LogEntry{};
    e.number = stats_.total_ops + 1;
    e.op = op;
    e.file = static_cast<unsigned>(rng_.below(files_.size()));
    current_ = &e;
    File& f = files_[e.file];
    active_file_ = &f;
    e.size_before = e.size_after = f.model.size();
    switch (op) {
      case kWrite:
        do_write(f, e);
        break;
      case kRead:
        do_read(f, e);
        break;
      case kTruncate:
        do_truncate(f, e);
        break;
      case kPunch:
        do_punch(f, e);
        break;
      case kZero:
        do_zero(f, e);
        break;
      case kFalloc:
        do_falloc(f, e);
        break;
      case kCopy:
        do_copy(f, e);
        break;
      case kAppend:
        do_append(f, e);
        break;
      case kMapWrite:
        do_map_write(f, e);
        break;
      case kMapRead:
        do_map_read(f, e);
        break;
      case kSeek:
        do_seek(f, e);
        break;
      case kFsync:
        do_fsync(f, e);
        break;
      case kReopen:
        do_reopen(f, e);
        break;
      case kDrop:
        drop_cache(f);
        break;
      case kDirect:
        do_direct(f, e);
        break;
      case kRelink:
        do_relink(f, e);
        break;
      case kOrphan:
        do_orphan(f, e);
        break;
      case kOpCount:
        break;
    }
    e.size_after = f.model.size();
    ++stats_.ops[op];
    ++stats_.total_ops;
    if (o_.verbose) emit(tag_ + describe(e) + "\n");
    if (op != kRead && op != kMapRead && op != kSeek && op != kDrop) {
      check_size(f, "after the operation");
    }
    current_ = nullptr;
  }

  void do_write(File& f, LogEntry& e) {
    uint64_t off, len;
    pick_range(f, off, len);
    const Pattern pattern = pick_pattern();
    e.offset = off;
    e.length = len;
    e.detail = kPatternNames[pattern];
    generate(pattern, f.base + off, scratch_.data(), len);
    pwrite_all(f.fd, scratch_.data(), len, f.base + off, "pwrite");
    store(f, off, scratch_.data(), len);
  }

  void do_read(File& f, LogEntry& e) {
    const uint64_t off = pick_offset_in_file(f);
    uint64_t len = pick_length();
    if (o_.shared) len = std::min(len, f.limit - off);
    e.offset = off;
    e.length = len;
    const uint64_t got = pread_all(f.fd, scratch_.data(), len, f.base + off);
    e.result = got;
    check_range(f, off, scratch_.data(), got, len, "pread");
  }

  void do_truncate(File& f, LogEntry& e) {
    const uint64_t size = f.model.size();
    uint64_t target;
    switch (rng_.below(6)) {
      case 0:
        target = 0;
        break;
      case 1:
        target = size + pick_length();
        break;
      case 2:
        target = size > 0 ? size - std::min(size, pick_length()) : 0;
        break;
      case 3:
        target = align_down(rng_.below(f.limit + 1), kBlock);
        break;
      default:
        target = rng_.below(f.limit + 1);
        break;
    }
    target = std::min(target, f.limit);
    e.offset = target;
    if (ftruncate(f.fd, to_off(target)) != 0) fail_errno("ftruncate", errno);
    f.model.resize(target, 0);
  }

  void do_punch(File& f, LogEntry& e) {
    const uint64_t off = pick_offset_in_file(f);
    uint64_t len = pick_length();
    if (rng_.chance(50)) len = align_up(len, kBlock);
    if (o_.shared) len = std::min(len, f.limit - off);
    e.offset = off;
    e.length = len;
    if (fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, to_off(f.base + off),
                  to_off(len)) != 0) {
      if (unsupported(kPunch, errno, e)) return;
      fail_errno("fallocate(PUNCH_HOLE|KEEP_SIZE)", errno);
    }
    zero_model(f, off, len);
  }

  void do_zero(File& f, LogEntry& e) {
    uint64_t off, len;
    pick_range(f, off, len);
    const bool keep = o_.shared || rng_.chance(50);
    e.offset = off;
    e.length = len;
    e.detail = keep ? "keep_size" : "";
    const int mode = FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0);
    if (fallocate(f.fd, mode, to_off(f.base + off), to_off(len)) != 0) {
      if (unsupported(kZero, errno, e)) return;
      fail_errno("fallocate(ZERO_RANGE)", errno);
    }
    if (!keep && off + len > f.model.size()) f.model.resize(off + len, 0);
    zero_model(f, off, len);
  }

  void do_falloc(File& f, LogEntry& e) {
    uint64_t off, len;
    pick_range(f, off, len);
    const bool keep = rng_.chance(50);
    e.offset = off;
    e.length = len;
    e.detail = keep ? "keep_size" : "";
    if (fallocate(f.fd, keep ? FALLOC_FL_KEEP_SIZE : 0, to_off(f.base + off), to_off(len)) != 0) {
      if (unsupported(kFalloc, errno, e)) return;
      fail_errno("fallocate", errno);
    }
    if (!keep && off + len > f.model.size()) f.model.resize(off + len, 0);
  }

  void do_copy(File& dst, LogEntry& e) {
    e.file2 = o_.shared ? e.file : static_cast<unsigned>(rng_.below(files_.size()));
    File& src = files_[e.file2];
    const uint64_t src_size = src.model.size();
    uint64_t src_off =
        src_size > 0 && rng_.chance(85) ? rng_.below(src_size) : src_size + rng_.below(kBlock);
    if (rng_.chance(30)) src_off = align_down(src_off, kBlock);
    if (o_.shared && src_off >= src.limit) src_off = src.limit - 1;
    uint64_t len = pick_length();
    if (rng_.chance(30)) len = align_up(len, kBlock);
    len = std::min(len, dst.limit);
    if (o_.shared) len = std::min(len, src.limit - src_off);
    // What the kernel will copy: up to the source's end.
    const uint64_t expect = src_off >= src_size ? 0 : std::min(len, src_size - src_off);
    uint64_t dst_off = 0;
    bool placed = false;
    for (int attempt = 0; attempt < 8 && !placed; ++attempt) {
      dst_off = rng_.below(dst.limit - len + 1);
      if (rng_.chance(40)) dst_off = align_down(dst_off, kBlock);
      // The kernel refuses overlapping ranges within one file.
      placed =
          &src != &dst || expect == 0 || dst_off >= src_off + expect || src_off >= dst_off + expect;
    }
    e.offset = dst_off;
    e.length = len;
    e.offset2 = src_off;
    if (!placed) {
      e.detail = "skipped: ranges overlap";
      return;
    }
    loff_t in = static_cast<loff_t>(src.base + src_off);
    loff_t out = static_cast<loff_t>(dst.base + dst_off);
    // Ask for the remainder of what was available at the start: within one file, a copy that
    // extended the file makes more source bytes available to a second call.
    uint64_t copied = 0;
    for (bool first = true; first || copied < expect; first = false) {
      const uint64_t ask = first ? len : expect - copied;
      const ssize_t n = copy_file_range(src.fd, &in, dst.fd, &out, ask, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno == EXDEV ? EOPNOTSUPP : errno;
        if (copied == 0 && unsupported(kCopy, err, e)) return;
        fail_errno("copy_file_range", errno);
      }
      if (n == 0) break;
      copied += static_cast<uint64_t>(n);
    }
    e.result = copied;
    if (copied != expect) {
      fail(
          format("copy_file_range copied %llu bytes, expected %llu (source %s size %llu, "
                 "source offset %llu, length %llu)",
                 static_cast<unsigned long long>(copied), static_cast<unsigned long long>(expect),
                 src.path.c_str(), static_cast<unsigned long long>(src_size),
                 static_cast<unsigned long long>(src_off), static_cast<unsigned long long>(len)));
    }
    stats_.bytes_written += copied;
    if (copied == 0) return;
    std::memcpy(scratch2_.data(), src.model.data() + src_off, copied);
    store(dst, dst_off, scratch2_.data(), copied);
  }

  void do_append(File& f, LogEntry& e) {
    const uint64_t size = f.model.size();
    const uint64_t len = std::min(pick_length(), f.limit - size);
    if (len == 0) {  // full: shrink instead
      e.op = kTruncate;
      e.detail = "append at the limit: truncate instead";
      const uint64_t target = rng_.below(f.limit);
      e.offset = target;
      if (ftruncate(f.fd, to_off(target)) != 0) fail_errno("ftruncate", errno);
      f.model.resize(target);
      return;
    }
    const Pattern pattern = pick_pattern();
    e.offset = size;
    e.length = len;
    e.detail = kPatternNames[pattern];
    if (f.append_fd < 0) {
      f.append_fd = open(f.path.c_str(), O_WRONLY | O_APPEND);
      if (f.append_fd < 0) fail_errno("open O_APPEND", errno);
    }
    generate(pattern, size, scratch_.data(), len);
    uint64_t done = 0;
    while (done < len) {
      const ssize_t n = write(f.append_fd, scratch_.data() + done, len - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail_errno("write O_APPEND", n < 0 ? errno : EIO);
      done += static_cast<uint64_t>(n);
    }
    stats_.bytes_written += len;
    const off_t position = lseek(f.append_fd, 0, SEEK_CUR);
    store(f, size, scratch_.data(), len);
    if (position != to_off(size + len)) {
      fail(
          format("after appending %llu bytes to a file of %llu, the O_APPEND descriptor is at "
                 "%lld, expected %llu",
                 static_cast<unsigned long long>(len), static_cast<unsigned long long>(size),
                 static_cast<long long>(position), static_cast<unsigned long long>(size + len)));
    }
  }

  // Maps [base+off, base+off+len) (page-aligned outward); returns the pointer to base+off.
  uint8_t* map(File& f, uint64_t off, uint64_t len, bool writable, void*& mapping,
               size_t& map_len) {
    const uint64_t start = align_down(f.base + off, page_size_);
    map_len = f.base + off + len - start;
    mapping = mmap(nullptr, map_len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                   f.fd, to_off(start));
    if (mapping == MAP_FAILED) {
      fail_errno(writable ? "mmap(PROT_WRITE, MAP_SHARED)" : "mmap(PROT_READ, MAP_SHARED)", errno);
    }
    return static_cast<uint8_t*>(mapping) + (f.base + off - start);
  }

  void do_map_write(File& f, LogEntry& e) {
    const uint64_t size = f.model.size();
    if (size == 0) {
      e.detail = "empty file: skipped";
      return;
    }
    const uint64_t off = rng_.chance(30) ? align_down(rng_.below(size), kBlock) : rng_.below(size);
    const uint64_t len = std::min(pick_length(), size - off);
    const Pattern pattern = pick_pattern();
    e.offset = off;
    e.length = len;
    e.detail = kPatternNames[pattern];
    generate(pattern, f.base + off, scratch_.data(), len);
    void* mapping = nullptr;
    size_t map_len = 0;
    uint8_t* p = map(f, off, len, true, mapping, map_len);
    std::memcpy(p, scratch_.data(), len);
    if (msync(mapping, map_len, MS_SYNC) != 0) fail_errno("msync", errno);
    if (munmap(mapping, map_len) != 0) fail_errno("munmap", errno);
    stats_.bytes_written += len;
    store(f, off, scratch_.data(), len);
  }

  void do_map_read(File& f, LogEntry& e) {
    const uint64_t size = f.model.size();
    if (size == 0) {
      e.detail = "empty file: skipped";
      return;
    }
    const uint64_t off = rng_.below(size);
    const uint64_t len = std::min(pick_length(), size - off);
    e.offset = off;
    e.length = len;
    void* mapping = nullptr;
    size_t map_len = 0;
    const uint8_t* p = map(f, off, len, false, mapping, map_len);
    std::memcpy(scratch_.data(), p, len);
    if (munmap(mapping, map_len) != 0) fail_errno("munmap", errno);
    check_range(f, off, scratch_.data(), len, len, "mmap read");
  }

  void do_seek(File& f, LogEntry& e) {
    const bool data = rng_.chance(50);
    const uint64_t off = pick_offset_in_file(f);
    const uint64_t size = f.model.size();
    // Where the file ends for the kernel, and where this process's knowledge ends.
    const uint64_t file_end = o_.shared ? file_size_shared() : size;
    e.offset = off;
    e.detail = data ? "SEEK_DATA" : "SEEK_HOLE";
    const off_t got = lseek(f.fd, to_off(f.base + off), data ? SEEK_DATA : SEEK_HOLE);
    const int err = got < 0 ? errno : 0;
    e.result = got < 0 ? UINT64_MAX : static_cast<uint64_t>(got);
    const uint64_t abs = f.base + off;
    if (abs >= file_end) {
      if (got >= 0 || err != ENXIO) {
        fail(
            format("lseek(%s) at %llu, at or past the end of file (%llu), returned %lld (%s); "
                   "expected ENXIO",
                   e.detail, static_cast<unsigned long long>(abs),
                   static_cast<unsigned long long>(file_end), static_cast<long long>(got),
                   got < 0 ? errno_text(err).c_str() : "no error"));
      }
      return;
    }
    if (got < 0) {
      if (data && err == ENXIO) {  // no data from off to the end: all zeros
        check_zero(f, off, size, "lseek(SEEK_DATA) returned ENXIO, yet the range has data");
        return;
      }
      if ((err == EINVAL || err == EOPNOTSUPP) && unsupported(kSeek, EOPNOTSUPP, e)) return;
      fail_errno(format("lseek(%s) at %llu", e.detail, static_cast<unsigned long long>(abs)), err);
    }
    const uint64_t pos = static_cast<uint64_t>(got);
    if (pos < abs || pos > file_end || (data && pos == file_end)) {
      fail(format("lseek(%s) at %llu returned %llu, outside [%llu, %llu%s", e.detail,
                  static_cast<unsigned long long>(abs), static_cast<unsigned long long>(pos),
                  static_cast<unsigned long long>(abs), static_cast<unsigned long long>(file_end),
                  data ? ")" : "]"));
    }
    const uint64_t rel = pos - f.base;  // relative to the region (== pos unless shared)
    if (data) {
      // Everything skipped must be zeros.
      check_zero(f, off, std::min(rel, size), "lseek(SEEK_DATA) skipped data");
    } else if (rel < size) {
      // A hole reads as zeros, at least up to the next granularity boundary.
      const uint64_t end = std::min(size, align_up(pos + 1, o_.hole_granularity) - f.base);
      check_zero(f, rel, end, "lseek(SEEK_HOLE) reported a hole where there is data");
    }
  }

  uint64_t file_size_shared() const { return o_.max_size * o_.nr_procs; }

  void do_fsync(File& f, LogEntry& e) {
    const bool data_only = rng_.chance(50);
    e.detail = data_only ? "fdatasync" : "fsync";
    if ((data_only ? fdatasync(f.fd) : fsync(f.fd)) != 0) fail_errno(e.detail, errno);
  }

  void do_reopen(File& f, LogEntry& e) {
    const bool truncate = !o_.shared && rng_.chance(12);
    e.detail = truncate ? "O_TRUNC" : "";
    close_extra_fds(f);
    if (close(f.fd) != 0) fail_errno("close", errno);
    f.fd = open(f.path.c_str(), O_RDWR | (truncate ? O_TRUNC : 0));
    if (f.fd < 0) fail_errno("open " + f.path, errno);
    if (truncate) f.model.clear();
  }

  void close_extra_fds(File& f) {
    if (f.append_fd >= 0 && close(f.append_fd) != 0) fail_errno("close", errno);
    if (f.direct_fd >= 0 && close(f.direct_fd) != 0) fail_errno("close", errno);
    f.append_fd = f.direct_fd = -1;
  }

  // O_DIRECT reads and writes of whole, aligned blocks from an aligned buffer.
  void do_direct(File& f, LogEntry& e) {
    const bool writing = rng_.chance(50);
    e.modifies = writing;
    e.detail = writing ? "pwrite" : "pread";
    if (f.direct_fd < 0) {
      f.direct_fd = open(f.path.c_str(), O_RDWR | O_DIRECT);
      if (f.direct_fd < 0) {
        if (errno == EINVAL && unsupported(kDirect, EOPNOTSUPP, e)) return;
        fail_errno("open O_DIRECT", errno);
      }
    }
    const uint64_t blocks = f.limit / kBlock;
    if (blocks == 0) {
      e.detail = "file limit under one block: skipped";
      return;
    }
    const uint64_t size_blocks = align_up(f.model.size(), kBlock) / kBlock;
    const uint64_t first = writing || size_blocks == 0
                               ? rng_.below(blocks)
                               : rng_.below(std::min(blocks, size_blocks + 1));
    const uint64_t count = std::min(align_up(pick_length(), kBlock) / kBlock, blocks - first);
    const uint64_t off = first * kBlock;
    const uint64_t len = count * kBlock;
    e.offset = off;
    e.length = len;
    uint8_t* buf = direct_buffer();
    if (writing) {
      const Pattern pattern = pick_pattern();
      e.detail = kPatternNames[pattern];
      generate(pattern, f.base + off, buf, len);
      pwrite_all(f.direct_fd, buf, len, f.base + off, "pwrite O_DIRECT");
      store(f, off, buf, len);
    } else {
      const uint64_t got = pread_all(f.direct_fd, buf, len, f.base + off);
      e.result = got;
      check_range(f, off, buf, got, len, "O_DIRECT pread");
    }
  }

  uint8_t* direct_buffer() {
    if (direct_buf_ == nullptr) {
      void* memory = nullptr;
      if (posix_memalign(&memory, kBlock, align_up(o_.max_op, kBlock) + kBlock) != 0) {
        fail("cannot allocate an aligned buffer");
      }
      direct_buf_ = static_cast<uint8_t*>(memory);
    }
    return direct_buf_;
  }

  // A second name, the first one removed, and the second renamed back: the open descriptors
  // keep working, the bytes stay.
  void do_relink(File& f, LogEntry& e) {
    e.modifies = false;
    const std::string other = f.path + ".relink";
    if (link(f.path.c_str(), other.c_str()) != 0) fail_errno("link " + other, errno);
    if (unlink(f.path.c_str()) != 0) fail_errno("unlink " + f.path, errno);
    if (rename(other.c_str(), f.path.c_str()) != 0) fail_errno("rename " + other, errno);
  }

  // Unlinks the open file, checks it whole through its descriptor (the data must outlive the
  // name), then writes a new file under the name from the model and drops the old one.
  void do_orphan(File& f, LogEntry& e) {
    e.modifies = false;
    if (unlink(f.path.c_str()) != 0) fail_errno("unlink " + f.path, errno);
    verify_file(f, "unlinked, still open");
    const int fd = open(f.path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail_errno("create " + f.path, errno);
    const uint64_t size = f.model.size();
    if (ftruncate(fd, to_off(size)) != 0) fail_errno("ftruncate", errno);
    // Only the blocks with data: the zeros stay holes.
    for (uint64_t off = 0; off < size; off += kBlock) {
      const uint64_t len = std::min(kBlock, size - off);
      if (first_nonzero(f.model.data() + off, len) == len) continue;
      pwrite_all(fd, f.model.data() + off, len, off, "pwrite");
    }
    close_extra_fds(f);
    if (close(f.fd) != 0) fail_errno("close", errno);
    f.fd = fd;
  }

  // Drops this file's (this region's) clean pages from the page cache.
  void drop_cache(File& f) {
    const int err =
        posix_fadvise(f.fd, to_off(f.base), o_.shared ? to_off(f.limit) : 0, POSIX_FADV_DONTNEED);
    if (err != 0) fail_errno("posix_fadvise(DONTNEED)", err);
  }

  // --- The model ---

  void store(File& f, uint64_t off, const uint8_t* data, uint64_t len) {
    if (off + len > f.model.size()) f.model.resize(off + len, 0);
    std::memcpy(f.model.data() + off, data, len);
  }

  void zero_model(File& f, uint64_t off, uint64_t len) {
    const uint64_t size = f.model.size();
    if (off >= size) return;
    std::memset(f.model.data() + off, 0, std::min(len, size - off));
  }

  // Whether an operation failing with err counts as "not supported here": then it is disabled
  // (with a note) and the model is left alone. With --strict only zero may be unsupported.
  bool unsupported(Op op, int err, LogEntry& e) {
    if (err != EOPNOTSUPP && err != ENOTSUP && err != ENOSYS) return false;
    if (o_.strict && op != kZero) return false;
    unsupported_ |= 1u << op;
    stats_.unsupported_mask |= 1u << op;
    e.detail = "unsupported: disabled";
    if (!o_.quiet) {
      emit(tag_ + format("NOTE: %s is not supported here (%s); disabling it\n", kOpNames[op],
                         errno_text(err).c_str()));
    }
    return true;
  }

  // --- Checks ---

  // got_len bytes were read at off, asking for want_len: compares them with the model.
  void check_range(File& f, uint64_t off, const uint8_t* got, uint64_t got_len, uint64_t want_len,
                   const char* how) {
    const uint64_t size = f.model.size();
    const uint64_t expect_len = off >= size ? 0 : std::min(want_len, size - off);
    if (got_len != expect_len) {
      fail(format("%s of %llu bytes at %llu returned %llu bytes, expected %llu (model size %llu)",
                  how, static_cast<unsigned long long>(want_len),
                  static_cast<unsigned long long>(off), static_cast<unsigned long long>(got_len),
                  static_cast<unsigned long long>(expect_len),
                  static_cast<unsigned long long>(size)),
           &f);
    }
    stats_.bytes_verified += got_len;
    if (got_len == 0 || std::memcmp(got, f.model.data() + off, got_len) == 0) return;
    mismatch(f, off, got, got_len, how);
  }

  void check_zero(File& f, uint64_t from, uint64_t to, const char* what) {
    if (from >= to) return;
    const size_t i = first_nonzero(f.model.data() + from, to - from);
    if (i == to - from) return;
    const uint64_t at = from + i;
    const uint64_t show = std::min<uint64_t>(16, f.model.size() - at);
    fail(format("%s: the model has non-zero bytes at %llu (file offset %llu) inside [%llu, %llu): "
                "%s",
                what, static_cast<unsigned long long>(at),
                static_cast<unsigned long long>(f.base + at),
                static_cast<unsigned long long>(f.base + from),
                static_cast<unsigned long long>(f.base + to),
                hex_bytes(f.model.data() + at, show).c_str()),
         &f, at);
  }

  void check_size(File& f, const char* when) {
    struct stat st {};
    if (fstat(f.fd, &st) != 0) fail_errno("fstat", errno);
    const uint64_t expect = o_.shared ? file_size_shared() : f.model.size();
    if (static_cast<uint64_t>(st.st_size) != expect) {
      fail(format("st_size is %lld (%s), expected %llu", static_cast<long long>(st.st_size), when,
                  static_cast<unsigned long long>(expect)),
           &f);
    }
  }

  void verify_all(const char* why) {
    for (File& f : files_) {
      active_file_ = &f;
      verify_file(f, why);
    }
    ++stats_.whole_checks;
  }

  void verify_file(File& f, const char* why) {
    check_size(f, why);
    // With a writeback cache (zsfs -o writeback=on) dirty pages would stay: write them first.
    if (fdatasync(f.fd) != 0) fail_errno("fdatasync", errno);
    drop_cache(f);
    const uint64_t size = f.model.size();
    for (uint64_t off = 0; off < size; off += kVerifyChunk) {
      const uint64_t len = std::min(kVerifyChunk, size - off);
      const uint64_t got = pread_all(f.fd, scratch_.data(), len, f.base + off);
      check_range(f, off, scratch_.data(), got, len, format("whole-file read (%s)", why).c_str());
    }
    if (!o_.shared) {  // nothing past the end either
      const uint64_t extra = pread_all(f.fd, scratch_.data(), 1, size);
      if (extra != 0) fail(format("read past the end (%s) returned data", why), &f);
    }
  }

  // --- I/O helpers ---

  void pwrite_all(int fd, const uint8_t* data, uint64_t len, uint64_t at, const char* what) {
    uint64_t done = 0;
    while (done < len) {
      const ssize_t n = pwrite(fd, data + done, len - done, to_off(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail_errno(what, n < 0 ? errno : EIO);
      done += static_cast<uint64_t>(n);
    }
    stats_.bytes_written += len;
  }

  // Reads up to len bytes (fewer only at the end of file); returns the count.
  uint64_t pread_all(int fd, uint8_t* out, uint64_t len, uint64_t at) {
    uint64_t done = 0;
    while (done < len) {
      const ssize_t n = pread(fd, out + done, len - done, to_off(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("pread", errno);
      if (n == 0) break;
      done += static_cast<uint64_t>(n);
    }
    return done;
  }

  // --- Reporting ---

  std::string describe(const LogEntry& e) const {
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::string text = format("#%llu %-8s %s", u(e.number), kOpNames[e.op],
                              files_[e.file].path.substr(o_.dir.size() + 1).c_str());
    switch (e.op) {
      case kTruncate:
        text += format(" to %llu", u(e.offset));
        break;
      case kCopy:
        text += format(" at %llu from %s at %llu len %llu copied %llu", u(e.offset),
                       files_[e.file2].path.substr(o_.dir.size() + 1).c_str(), u(e.offset2),
                       u(e.length), u(e.result));
        break;
      case kSeek:
        text += e.result == UINT64_MAX ? format(" at %llu -> error", u(e.offset))
                                       : format(" at %llu -> %llu", u(e.offset), u(e.result));
        break;
      case kRead:
        text += format(" at %llu len %llu got %llu", u(e.offset), u(e.length), u(e.result));
        break;
      case kFsync:
      case kReopen:
      case kDrop:
      case kRelink:
      case kOrphan:
        break;
      default:
        text += format(" at %llu len %llu (end %llu)", u(e.offset), u(e.length),
                       u(e.offset + e.length));
    }
    if (e.size_before != e.size_after) {
      text += format(" size %llu -> %llu", u(e.size_before), u(e.size_after));
    }
    if (e.detail[0] != '\0') text += format(" [%s]", e.detail);
    if (o_.shared) text += format(" (region base %llu)", u(files_[e.file].base));
    return text;
  }

  // Whether an operation may have changed byte `at` of file `file`.
  static bool touches(const LogEntry& e, unsigned file, uint64_t at) {
    if (e.file != file || !e.modifies) return false;
    switch (e.op) {
      case kRead:
      case kMapRead:
      case kSeek:
      case kFsync:
      case kDrop:
      case kRelink:
      case kOrphan:
        return false;
      case kTruncate:
        return std::min(e.size_before, e.size_after) <= at;
      case kReopen:
        return e.size_after < e.size_before && at < e.size_before;
      default:
        return (at >= e.offset && at < e.offset + e.length) ||
               (e.size_before <= at && e.size_after > at);
    }
  }

  void mismatch(File& f, uint64_t off, const uint8_t* got, uint64_t len, const char* how) {
    const uint8_t* want = f.model.data() + off;
    uint64_t first = 0;
    while (first < len && got[first] == want[first])
      ++first;
    uint64_t last = first;
    uint64_t differing = 0;
    for (uint64_t i = first; i < len; ++i) {
      if (got[i] != want[i]) {
        last = i;
        ++differing;
      }
    }
    const uint64_t at = off + first;
    const uint64_t show_from = align_down(first, 16);
    const uint64_t show = std::min<uint64_t>(32, len - show_from);
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::string text = format(
        "%s: data mismatch at offset %llu (file offset %llu; block %llu, byte %llu in it): "
        "%llu bytes differ in [%llu, %llu] of the %llu read at %llu\n",
        how, u(at), u(f.base + at), u((f.base + at) / kBlock), u((f.base + at) % kBlock),
        u(differing), u(off + first), u(off + last), u(len), u(off));
    text += format("  bytes from offset %llu:\n", u(off + show_from));
    text += "    expected: " + hex_bytes(want + show_from, show) + "\n";
    text += "    got:      " + hex_bytes(got + show_from, show) + "\n";
    const size_t zeros_got = first_nonzero(got + first, last - first + 1);
    if (zeros_got == last - first + 1) text += "    (the bytes read are all zeros there)\n";
    fail(text, &f, at);
  }

  [[noreturn]] void fail_errno(const std::string& what, int err) {
    fail(what + " failed: " + errno_text(err), active_file_);
  }

  [[noreturn]] void fail(const std::string& what, File* f = nullptr, uint64_t at = UINT64_MAX) {
    std::string text = tag_ + "zsfs_fsx: FAILURE";
    text +=
        format(" (process %u, run seed %llu, process seed %llu)\n", proc_,
               static_cast<unsigned long long>(o_.seed), static_cast<unsigned long long>(seed_));
    if (f != nullptr) text += "  file: " + f->path + "\n";
    if (current_ != nullptr) text += "  during: " + describe(*current_) + "\n";
    text += "  " + what + "\n";
    const uint64_t depth = std::min<uint64_t>(log_.size(), stats_.total_ops + 1);
    text += format("  the last %llu operations of this process (* = touched that offset):\n",
                   static_cast<unsigned long long>(depth));
    const unsigned file_index = f != nullptr ? static_cast<unsigned>(f - files_.data()) : ~0u;
    for (uint64_t k = depth; k > 0; --k) {
      const uint64_t number = stats_.total_ops + 1 - k;  // 0-based entry index
      const LogEntry& e = log_[number % log_.size()];
      if (e.number != number + 1) continue;
      const bool mark = at != UINT64_MAX && touches(e, file_index, at);
      text += (mark ? "   * " : "     ") + describe(e) + "\n";
    }
    text += format("  %llu operations done, %.2f s; replay: %s\n",
                   static_cast<unsigned long long>(stats_.total_ops), seconds_since(start_),
                   o_.command_line.c_str());
    if (o_.seconds > 0) {
      text += format("  (timed run: add -N %llu -t 0 to stop at the same point)\n",
                     static_cast<unsigned long long>(stats_.total_ops + 1));
    }
    text += "  the files are left in place\n";
    emit(text);
    std::_Exit(kExitFailure);
  }

  const Options& o_;
  const unsigned proc_;
  const uint64_t seed_;
  Rng rng_;
  std::vector<LogEntry> log_;
  const uint64_t page_size_;
  std::vector<uint8_t> shared_blocks_;
  std::vector<uint8_t> scratch_;
  std::vector<uint8_t> scratch2_;
  uint8_t* direct_buf_ = nullptr;  // aligned, for O_DIRECT (posix_memalign)
  std::vector<File> files_;
  std::string tag_;
  Stats stats_;
  uint64_t unsupported_ = 0;
  LogEntry* current_ = nullptr;  // the operation under way (null during whole-file checks)
  File* active_file_ = nullptr;  // the file it works on
  std::chrono::steady_clock::time_point start_;
};

// --- Fill mode -----------------------------------------------------------------------------------

// The bytes of fill file (prefix, proc, index): unique per block, incompressible. Overwrites
// (generation 1, 2, ...) write other bytes, just as unique.
void fill_data(const Options& o, unsigned proc, uint64_t index, uint64_t at, uint8_t* out,
               uint64_t len, uint64_t generation = 0) {
  const uint64_t key =
      mix(o.seed ^ hash_text(o.prefix) ^ mix((uint64_t{proc} << 32) ^ index) ^ mix(generation));
  uint64_t done = 0;
  while (done < len) {
    const uint64_t block = (at + done) / kBlock;
    uint64_t state = mix(key + block);
    uint8_t words[kBlock];
    for (uint64_t i = 0; i < kBlock; i += 8) {
      const uint64_t word = splitmix64(state);
      std::memcpy(words + i, &word, 8);
    }
    const uint64_t in_block = (at + done) % kBlock;
    const uint64_t n = std::min(len - done, kBlock - in_block);
    std::memcpy(out + done, words + in_block, n);
    done += n;
  }
}

// An overwrite of a fill file that the filesystem accepted (all or the first `length` bytes),
// or refused (applied = false: the bytes must be the old ones).
struct Overwrite {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t generation = 0;
  bool applied = false;
};

// What a fill file must hold at [at, at+len): its data with the accepted overwrites on top.
void expected_fill(const Options& o, unsigned proc, uint64_t index, uint64_t at, uint8_t* out,
                   uint64_t len, const std::vector<Overwrite>* overwrites) {
  fill_data(o, proc, index, at, out, len);
  if (overwrites == nullptr) return;
  for (const Overwrite& w : *overwrites) {
    const uint64_t from = std::max(at, w.offset);
    const uint64_t to = std::min(at + len, w.offset + w.length);
    if (w.applied && from < to)
      fill_data(o, proc, index, from, out + (from - at), to - from, w.generation);
  }
}

// Reads `path` (which must be `size` bytes long) and compares it with the fill data.
// Returns an empty string or what is wrong.
std::string verify_fill_file(const Options& o, const std::string& path, unsigned proc,
                             uint64_t index, uint64_t size, std::vector<uint8_t>& buf,
                             std::vector<uint8_t>& want, Stats& stats,
                             const std::vector<Overwrite>* overwrites = nullptr) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return "open " + path + ": " + errno_text(errno);
  struct stat st {};
  std::string problem;
  if (fstat(fd, &st) != 0) {
    problem = "fstat " + path + ": " + errno_text(errno);
  } else if (static_cast<uint64_t>(st.st_size) != size) {
    problem = format("%s: size %lld, expected %llu (the bytes acknowledged by write)", path.c_str(),
                     static_cast<long long>(st.st_size), static_cast<unsigned long long>(size));
  }
  // Read what the filesystem holds, not what the page cache kept from the writes.
  if (problem.empty()) {
    const int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err != 0) problem = "posix_fadvise " + path + ": " + errno_text(err);
  }
  for (uint64_t off = 0; problem.empty() && off < size; off += buf.size()) {
    const uint64_t len = std::min<uint64_t>(buf.size(), size - off);
    uint64_t got = 0;
    int read_errno = 0;
    while (got < len) {
      const ssize_t n = pread(fd, buf.data() + got, len - got, to_off(off + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_errno = errno;
      if (n <= 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (read_errno != 0) {
      problem = format("%s: pread at %llu failed: %s", path.c_str(),
                       static_cast<unsigned long long>(off + got), errno_text(read_errno).c_str());
      break;
    }
    if (got != len) {
      problem = format("%s: short read at %llu: %llu of %llu bytes", path.c_str(),
                       static_cast<unsigned long long>(off), static_cast<unsigned long long>(got),
                       static_cast<unsigned long long>(len));
      break;
    }
    expected_fill(o, proc, index, off, want.data(), len, overwrites);
    if (std::memcmp(buf.data(), want.data(), len) != 0) {
      uint64_t i = 0;
      while (buf[i] == want[i])
        ++i;
      uint64_t last = len - 1;
      while (buf[last] == want[last])
        --last;
      const uint64_t show = std::min<uint64_t>(16, len - i);
      problem = format(
          "%s: data mismatch at offset %llu (block %llu; bytes differ up to %llu)\n"
          "    expected: %s\n    got:      %s",
          path.c_str(), static_cast<unsigned long long>(off + i),
          static_cast<unsigned long long>((off + i) / kBlock),
          static_cast<unsigned long long>(off + last), hex_bytes(want.data() + i, show).c_str(),
          hex_bytes(buf.data() + i, show).c_str());
      if (overwrites != nullptr) {
        for (const Overwrite& w : *overwrites) {
          problem += format("\n    overwrite at %llu, %llu bytes: %s",
                            static_cast<unsigned long long>(w.offset),
                            static_cast<unsigned long long>(w.length),
                            w.applied ? "accepted" : "refused (full), so the old bytes must stay");
        }
      }
    }
    stats.bytes_verified += len;
  }
  close(fd);
  return problem;
}

int run_fill(const Options& o, unsigned proc, Stats& stats) {
  const std::string tag = o.nr_procs > 1 ? format("[p%u] ", proc) : "";
  constexpr uint64_t kChunk = 64 * 1024;
  std::vector<uint8_t> buf(kChunk), want(kChunk);
  std::vector<uint64_t> acked;
  bool enospc = false;
  std::string where;
  // The "full" answers: ENOSPC, and ENOMEM too with --enomem-ok (the host refusing memory).
  auto full = [&](int err) { return err == ENOSPC || (o.enomem_ok && err == ENOMEM); };
  int full_errno = 0;
  auto failed = [&](const std::string& what) {
    emit(tag + "zsfs_fsx: FAILURE (fill, seed " + std::to_string(o.seed) + "): " + what + "\n");
    return kExitFailure;
  };
  for (uint64_t index = 0; !enospc; ++index) {
    if (o.fill_bytes != 0 && stats.bytes_written >= o.fill_bytes) break;
    const std::string path =
        o.dir + "/" + o.prefix + format("-%u-%llu", proc, static_cast<unsigned long long>(index));
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
      if (full(errno)) {
        enospc = true;
        full_errno = errno;
        where = "creating " + path;
        break;
      }
      return failed("open " + path + ": " + errno_text(errno));
    }
    acked.push_back(0);
    ++stats.files;
    for (uint64_t off = 0; off < o.fill_file_size && !enospc;) {
      uint64_t len = std::min(kChunk, o.fill_file_size - off);
      if (o.fill_bytes != 0) len = std::min(len, o.fill_bytes - stats.bytes_written);
      if (len == 0) break;
      fill_data(o, proc, index, off, buf.data(), len);
      const ssize_t n = pwrite(fd, buf.data(), len, to_off(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (full(errno)) {
          enospc = true;
          full_errno = errno;
          where = format("writing %s at %llu", path.c_str(), static_cast<unsigned long long>(off));
          break;
        }
        close(fd);
        return failed("pwrite " + path + ": " + errno_text(errno));
      }
      if (n == 0) {
        close(fd);
        return failed("pwrite " + path + " returned 0");
      }
      off += static_cast<uint64_t>(n);
      acked.back() += static_cast<uint64_t>(n);
      stats.bytes_written += static_cast<uint64_t>(n);
    }
    if (fsync(fd) != 0) {
      if (!full(errno)) {
        close(fd);
        return failed("fsync " + path + ": " + errno_text(errno));
      }
      enospc = true;
      full_errno = errno;
      where = "fsync " + path;
    }
    if (close(fd) != 0) {
      if (!full(errno)) return failed("close " + path + ": " + errno_text(errno));
      enospc = true;
      full_errno = errno;
      where = "close " + path;
    }
  }
  stats.enospc = enospc ? 1 : 0;
  if (!o.quiet) {
    emit(tag + format("fill: %llu bytes in %zu files; %s\n",
                      static_cast<unsigned long long>(stats.bytes_written), acked.size(),
                      enospc ? (std::string(strerrorname_np(full_errno)) + " " + where).c_str()
                             : "no ENOSPC"));
  }
  auto path_of = [&](uint64_t index) {
    return o.dir + "/" + o.prefix +
           format("-%u-%llu", proc, static_cast<unsigned long long>(index));
  };
  // When full: overwrite parts of the completed files with new data. Each overwrite either
  // lands (all of it, or the first bytes when write(2) returns a short count) or fails with
  // ENOSPC, and then must leave the old bytes in place.
  std::vector<std::vector<Overwrite>> overwrites(acked.size());
  if (enospc && o.overwrites > 0 && !acked.empty()) {
    Rng rng(mix(o.seed ^ mix(proc + 0x0fe4)));
    uint64_t accepted = 0, refused = 0, short_writes = 0;
    // Only every fourth file (index 3, 7, ...): the others keep plain fill data.
    const uint64_t targets = acked.size() / 4;
    for (uint64_t attempt = 0; attempt < o.overwrites && targets > 0; ++attempt) {
      const uint64_t index = rng.below(targets) * 4 + 3;
      const uint64_t size = acked[index];
      if (size == 0) continue;
      Overwrite w;
      w.offset = rng.chance(50) ? align_down(rng.below(size), kBlock) : rng.below(size);
      w.length = std::min(rng.range(1, kChunk), size - w.offset);
      w.generation = attempt + 1;
      fill_data(o, proc, index, w.offset, buf.data(), w.length, w.generation);
      const int fd = open(path_of(index).c_str(), O_WRONLY);
      if (fd < 0) return failed("open " + path_of(index) + ": " + errno_text(errno));
      const ssize_t n = pwrite(fd, buf.data(), w.length, to_off(w.offset));
      const int err = errno;
      close(fd);
      if (n < 0) {
        if (!full(err)) return failed("overwriting " + path_of(index) + ": " + errno_text(err));
        ++refused;
      } else {
        w.applied = true;
        if (static_cast<uint64_t>(n) < w.length) ++short_writes;
        w.length = static_cast<uint64_t>(n);
        ++accepted;
      }
      overwrites[index].push_back(w);
    }
    emit(tag + format("overwrites when full: %llu accepted (%llu short), %llu refused (full)\n",
                      static_cast<unsigned long long>(accepted),
                      static_cast<unsigned long long>(short_writes),
                      static_cast<unsigned long long>(refused)));
  }
  for (uint64_t index = 0; index < acked.size(); ++index) {
    const std::string problem = verify_fill_file(o, path_of(index), proc, index, acked[index], buf,
                                                 want, stats, &overwrites[index]);
    if (!problem.empty()) return failed(problem);
  }
  // Files that took overwrites no longer hold plain fill data: remove them, so that
  // --verify-fill can check the rest later.
  for (uint64_t index = 0; index < acked.size(); ++index) {
    const bool changed = std::any_of(overwrites[index].begin(), overwrites[index].end(),
                                     [](const Overwrite& w) { return w.applied; });
    if (changed && unlink(path_of(index).c_str()) != 0) {
      return failed("unlink " + path_of(index) + ": " + errno_text(errno));
    }
  }
  if (o.expect_enospc && !enospc) {
    return failed(format("wrote %llu bytes without reaching ENOSPC (--expect-enospc)",
                         static_cast<unsigned long long>(stats.bytes_written)));
  }
  if (o.expect_space && enospc) {
    return failed(format("ENOSPC after only %llu of %llu bytes (--expect-space): %s",
                         static_cast<unsigned long long>(stats.bytes_written),
                         static_cast<unsigned long long>(o.fill_bytes), where.c_str()));
  }
  return kExitOk;
}

int run_verify_fill(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  DIR* dir = opendir(o.dir.c_str());
  if (dir == nullptr) {
    std::fprintf(stderr, "zsfs_fsx: opendir %s: %s\n", o.dir.c_str(), errno_text(errno).c_str());
    return kExitFailure;
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir))
    names.emplace_back(entry->d_name);
  closedir(dir);
  std::sort(names.begin(), names.end());
  std::vector<uint8_t> buf(1 << 20), want(1 << 20);
  Stats stats;
  const std::string head = o.prefix + "-";
  for (const std::string& name : names) {
    unsigned proc = 0;
    unsigned long long index = 0;
    char tail = 0;
    if (name.compare(0, head.size(), head) != 0 ||
        std::sscanf(name.c_str() + head.size(), "%u-%llu%c", &proc, &index, &tail) != 2) {
      continue;
    }
    const std::string path = o.dir + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      std::printf("zsfs_fsx: FAILURE: stat %s: %s\n", path.c_str(), errno_text(errno).c_str());
      return kExitFailure;
    }
    const std::string problem =
        verify_fill_file(o, path, proc, index, static_cast<uint64_t>(st.st_size), buf, want, stats);
    if (!problem.empty()) {
      std::printf("zsfs_fsx: FAILURE (verify-fill, seed %llu): %s\n",
                  static_cast<unsigned long long>(o.seed), problem.c_str());
      return kExitFailure;
    }
    ++stats.files;
  }
  std::printf("zsfs_fsx: verify-fill OK: %llu files, %llu bytes verified in %.2f s\n",
              static_cast<unsigned long long>(stats.files),
              static_cast<unsigned long long>(stats.bytes_verified), seconds_since(start));
  return kExitOk;
}

// --- Driver --------------------------------------------------------------------------------------

int run_one(const Options& o, unsigned proc, Stats& stats) {
  if (o.mode == Mode::kFill) return run_fill(o, proc, stats);
  Tester tester(o, proc, mix(o.seed ^ 0xdedbdedbull));
  const int status = tester.run();
  stats = tester.stats();
  return status;
}

std::string decode_status(int status) {
  if (WIFEXITED(status)) return format("exit status %d", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return format("killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int status = parse_options(argc, argv, o); status != kExitOk) return status;
  if (o.mode == Mode::kVerifyFill) return run_verify_fill(o);
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);

  const auto start = std::chrono::steady_clock::now();
  if (!o.quiet) {
    if (o.mode == Mode::kFsx) {
      emit(
          format("zsfs_fsx: seed %llu; %u process(es) x %llu ops%s on %u file(s)%s of at most "
                 "%llu bytes, ops up to %llu bytes, in %s\n",
                 static_cast<unsigned long long>(o.seed), o.nr_procs,
                 static_cast<unsigned long long>(o.nr_ops),
                 o.seconds > 0 ? format(" (at most %.0f s)", o.seconds).c_str() : "", o.nr_files,
                 o.shared ? " (one shared file, a region each)" : " each",
                 static_cast<unsigned long long>(o.max_size),
                 static_cast<unsigned long long>(o.max_op), o.dir.c_str()));
    } else {
      emit(format("zsfs_fsx: fill, seed %llu; %u process(es), files of %llu bytes, in %s\n",
                  static_cast<unsigned long long>(o.seed), o.nr_procs,
                  static_cast<unsigned long long>(o.fill_file_size), o.dir.c_str()));
    }
  }

  std::string shared_path;
  if (o.mode == Mode::kFsx && o.shared) {
    shared_path = o.dir + "/" + o.prefix + "-shared";
    const int fd = open(shared_path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, to_off(o.max_size * o.nr_procs)) != 0) {
      emit("zsfs_fsx: FAILURE: cannot create " + shared_path + ": " + errno_text(errno) + "\n");
      return kExitFailure;
    }
    close(fd);
  }

  Stats total;
  int result = kExitOk;
  if (o.nr_procs == 1) {
    result = run_one(o, 0, total);
  } else {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      emit("zsfs_fsx: FAILURE: pipe: " + errno_text(errno) + "\n");
      return kExitFailure;
    }
    std::vector<pid_t> pids;
    for (unsigned proc = 0; proc < o.nr_procs; ++proc) {
      const pid_t pid = fork();
      if (pid < 0) {
        emit("zsfs_fsx: FAILURE: fork: " + errno_text(errno) + "\n");
        for (pid_t other : pids)
          kill(other, SIGTERM);
        for (pid_t other : pids)
          waitpid(other, nullptr, 0);
        return kExitFailure;
      }
      if (pid == 0) {
        close(fds[0]);
        Stats stats;
        const int status = run_one(o, proc, stats);
        if (status == kExitOk) {
          [[maybe_unused]] const ssize_t n = write(fds[1], &stats, sizeof stats);
        }
        std::_Exit(status);
      }
      pids.push_back(pid);
    }
    close(fds[1]);
    // Reap in any order; on the first failure stop the others (the report is already out).
    size_t left = pids.size();
    while (left > 0) {
      int status = 0;
      const pid_t pid = wait(&status);
      if (pid < 0) {
        if (errno == EINTR) continue;
        break;
      }
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      *it = -1;
      --left;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == kExitOk;
      if (!ok && result == kExitOk) {
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)) {
          emit(format("zsfs_fsx: process %ld (pid %d) failed: %s\n",
                      static_cast<long>(it - pids.begin()), static_cast<int>(pid),
                      decode_status(status).c_str()));
        }
        result = kExitFailure;
        for (pid_t other : pids) {
          if (other > 0) kill(other, SIGTERM);
        }
      }
    }
    Stats one;
    while (read(fds[0], &one, sizeof one) == static_cast<ssize_t>(sizeof one))
      total.add(one);
    close(fds[0]);
  }
  if (result != kExitOk) {
    emit(format("zsfs_fsx: FAILED (seed %llu); replay: %s\n",
                static_cast<unsigned long long>(o.seed), o.command_line.c_str()));
    return result;
  }
  if (!shared_path.empty() && !o.keep) unlink(shared_path.c_str());

  const double elapsed = seconds_since(start);
  auto mib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  if (o.mode == Mode::kFill) {
    emit(
        format("zsfs_fsx: fill OK: %llu bytes written in %llu files, %llu bytes verified, "
               "%llu of %u processes reached ENOSPC, %.2f s (seed %llu)\n",
               static_cast<unsigned long long>(total.bytes_written),
               static_cast<unsigned long long>(total.files),
               static_cast<unsigned long long>(total.bytes_verified),
               static_cast<unsigned long long>(total.enospc), o.nr_procs, elapsed,
               static_cast<unsigned long long>(o.seed)));
    return kExitOk;
  }
  std::string counts;
  for (unsigned op = 0; op < kOpCount; ++op) {
    counts += format("%s%s %llu", op == 0 ? "" : ", ", kOpNames[op],
                     static_cast<unsigned long long>(total.ops[op]));
  }
  std::string disabled;
  for (unsigned op = 0; op < kOpCount; ++op) {
    if ((total.unsupported_mask >> op) & 1) disabled += std::string(" ") + kOpNames[op];
  }
  emit(format(
      "zsfs_fsx: OK: %llu ops (%s); %.1f MiB written, %.1f MiB verified, %llu whole-file "
      "checks; %.2f s, %.0f ops/s (seed %llu)%s%s\n",
      static_cast<unsigned long long>(total.total_ops), counts.c_str(), mib(total.bytes_written),
      mib(total.bytes_verified), static_cast<unsigned long long>(total.whole_checks), elapsed,
      static_cast<double>(total.total_ops) / std::max(elapsed, 1e-9),
      static_cast<unsigned long long>(o.seed),
      disabled.empty() ? "" : "; unsupported, disabled:", disabled.c_str()));
  return kExitOk;
}
