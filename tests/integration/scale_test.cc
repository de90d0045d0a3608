// Volume: a big file (2 GiB of compressible data) written and read back with checksums, 100k
// small files created, listed and removed, and several threads at once.
//
// Sanitizer builds (the daemon is built the same way as this test) run the same steps with less
// volume, since there they check the data path and its locking rather than throughput: the
// ThreadSanitizer daemon writes about ten times slower. ZSFS_IT_BIG_FILE_MIB and
// ZSFS_IT_SMALL_FILES override the sizes.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__)
constexpr uint64_t kDefaultBigFileMiB = 256;
constexpr uint64_t kDefaultSmallFiles = 20000;
#elif defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultBigFileMiB = 1024;
constexpr uint64_t kDefaultSmallFiles = 100000;
#else
constexpr uint64_t kDefaultBigFileMiB = 2048;
constexpr uint64_t kDefaultSmallFiles = 100000;
#endif

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

// The daemon's resident set (VmRSS), in KiB; 0 if it cannot be read.
uint64_t resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class ScaleTest : public ZsfsTest {};

TEST_F(ScaleTest, BigFileWithChecksums) {
  ZSFS_START_OR_SKIP(zsfs_, "");  // the default budget: half of RAM
  constexpr size_t kChunk = 1 << 20;
  const uint64_t chunks = env_or("ZSFS_IT_BIG_FILE_MIB", kDefaultBigFileMiB);
  const std::string path = zsfs_.path() + "/big";
  std::vector<char> buf(kChunk);

  auto start = Clock::now();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << errno_name(errno);
  uint64_t written_sum = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    fill_compressible(buf.data(), kChunk, i * (kChunk / 4096));
    written_sum = checksum(buf.data(), kChunk, written_sum);
    size_t done = 0;
    while (done < kChunk) {
      const ssize_t n = write(fd, buf.data() + done, kChunk - done);
      ASSERT_GT(n, 0) << "write at chunk " << i << ": " << errno_name(errno);
      done += static_cast<size_t>(n);
    }
  }
  ASSERT_EQ(close(fd), 0);
  const double write_s = seconds_since(start);

  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), chunks * kChunk);
  EXPECT_EQ(static_cast<uint64_t>(st.st_blocks), chunks * kChunk / 512);

  start = Clock::now();
  fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint64_t read_sum = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    size_t done = 0;
    while (done < kChunk) {
      const ssize_t n = read(fd, buf.data() + done, kChunk - done);
      ASSERT_GT(n, 0) << "read at chunk " << i << ": " << errno_name(errno);
      done += static_cast<size_t>(n);
    }
    read_sum = checksum(buf.data(), kChunk, read_sum);
  }
  char extra;
  EXPECT_EQ(read(fd, &extra, 1), 0) << "data past the end";
  close(fd);
  const double read_s = seconds_since(start);
  EXPECT_EQ(read_sum, written_sum) << "the data read back differs";

  const uint64_t mib = chunks;
  const uint64_t used = stat_field(zsfs_.path(), "mem_used_total");
  std::printf(
      "big file: %llu MiB written in %.1f s (%.0f MiB/s), read in %.1f s (%.0f MiB/s); "
      "%.1f MiB of memory used\n",
      static_cast<unsigned long long>(mib), write_s, static_cast<double>(mib) / write_s, read_s,
      static_cast<double>(mib) / read_s, static_cast<double>(used) / 1048576.0);
  EXPECT_EQ(stat_field(zsfs_.path(), "orig_data_size"), chunks * kChunk);
  EXPECT_LT(used, chunks * kChunk / 2) << "compressible data is not kept compressed";
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "orig_data_size", 0), 0u);
}

TEST_F(ScaleTest, ManySmallFiles) {
  ZSFS_START_OR_SKIP(zsfs_, "size=1G");
  const uint64_t files = env_or("ZSFS_IT_SMALL_FILES", kDefaultSmallFiles);
  constexpr uint64_t kPerDir = 1000;
  const uint64_t dirs = (files + kPerDir - 1) / kPerDir;
  const std::string root = zsfs_.path() + "/many";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  auto name_of = [&](uint64_t i) {
    return root + "/d" + std::to_string(i / kPerDir) + "/file-" + std::to_string(i);
  };
  auto content_of = [](uint64_t i) { return "small file number " + std::to_string(i) + "\n"; };
  for (uint64_t d = 0; d < dirs; ++d) {
    ASSERT_EQ(mkdir((root + "/d" + std::to_string(d)).c_str(), 0755), 0);
  }
  const uint64_t baseline_kib = resident_kib(zsfs_.pid());

  // Two writers, as two cores allow.
  auto start = Clock::now();
  std::atomic<uint64_t> failures{0};
  auto create_range = [&](uint64_t first, uint64_t step) {
    for (uint64_t i = first; i < files; i += step) {
      const std::string data = content_of(i);
      const int fd = open(name_of(i).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
        ++failures;
      }
      if (fd >= 0) close(fd);
    }
  };
  std::thread other(create_range, 1, 2);
  create_range(0, 2);
  other.join();
  ASSERT_EQ(failures.load(), 0u);
  const double create_s = seconds_since(start);

  start = Clock::now();
  uint64_t listed = 0;
  for (uint64_t d = 0; d < dirs; ++d) {
    DIR* dir = opendir((root + "/d" + std::to_string(d)).c_str());
    ASSERT_NE(dir, nullptr);
    while (const dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') ++listed;
    }
    closedir(dir);
  }
  EXPECT_EQ(listed, files);
  for (uint64_t i = 0; i < files; i += 97)
    EXPECT_EQ(read_file(name_of(i)), content_of(i)) << i;
  EXPECT_EQ(stat_field(zsfs_.path(), "inodes"), files + dirs + 2);
  const double list_s = seconds_since(start);

  start = Clock::now();
  std::filesystem::remove_all(root);
  const double remove_s = seconds_since(start);
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 1), 1u);
  // The memory comes back: the daemon gives freed metadata back to the system once deletions
  // settle, to within a margin for buffers first touched meanwhile (thread caches, compression
  // contexts). Not under sanitizers, whose allocators keep freed memory on purpose.
  uint64_t after_kib = resident_kib(zsfs_.pid());
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr uint64_t kMarginKib = 4096;
  for (int i = 0; i < 100 && after_kib > baseline_kib + kMarginKib; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after_kib = resident_kib(zsfs_.pid());
  }
  EXPECT_LE(after_kib, baseline_kib + kMarginKib)
      << "resident KiB before the files " << baseline_kib << ", after removing them " << after_kib;
#endif
  std::printf("daemon resident set: %llu KiB before the files, %llu KiB after removing them\n",
              static_cast<unsigned long long>(baseline_kib),
              static_cast<unsigned long long>(after_kib));
  std::printf(
      "%llu small files: created in %.1f s, listed and sampled in %.1f s, removed in "
      "%.1f s\n",
      static_cast<unsigned long long>(files), create_s, list_s, remove_s);
}

TEST_F(ScaleTest, ThreadsAtOnce) {
  ZSFS_START_OR_SKIP(zsfs_, "size=512M");
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  std::atomic<int> errors{0};
  std::atomic<bool> done{false};
  auto worker = [&](int id) {
    for (int round = 0; round < kRounds; ++round) {
      const std::string path =
          zsfs_.path() + "/t" + std::to_string(id) + "-" + std::to_string(round % 3);
      const std::string data = compressible_data(static_cast<size_t>(100000 + id * 4096 + round),
                                                 static_cast<uint64_t>(id * 1000 + round));
      write_file(path, data);
      if (read_file(path) != data) ++errors;
      if (round % 5 == 4) unlink(path.c_str());
    }
  };
  std::thread lister([&] {
    while (!done) {
      DIR* dir = opendir(zsfs_.path().c_str());
      if (dir == nullptr) {
        ++errors;
        return;
      }
      while (const dirent* e = readdir(dir)) {
        struct stat st {};
        stat((zsfs_.path() + "/" + e->d_name).c_str(), &st);  // may race with unlink: fine
      }
      closedir(dir);
    }
  });
  std::vector<std::thread> workers;
  for (int i = 0; i < kThreads; ++i)
    workers.emplace_back(worker, i);
  for (auto& t : workers)
    t.join();
  done = true;
  lister.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(zsfsctl({"check", zsfs_.path()}).status, 0);
}

}  // namespace
}  // namespace zsfs::test
