// Shared file mappings on zsfs: what is written through a mapping reaches the file (and the
// daemon, checked with O_DIRECT reads that bypass the page cache), and what is written with
// write(2) shows in a mapping.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

constexpr size_t kSize = (4 << 20) + 123;  // not a whole number of pages

std::string make_data(size_t size, unsigned seed) {
  std::string data(size, '\0');
  uint64_t x = seed + 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Compressible: a small alphabet with runs.
    data[i] = static_cast<char>('A' + (x % 4 == 0 ? (x >> 8) % 8 : i / 512 % 8));
  }
  return data;
}

// Reads the whole file with O_DIRECT, so the bytes come from the daemon, not the page cache.
std::string read_direct(const std::string& path, size_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << "open O_DIRECT: " << errno_name(errno);
    return "";
  }
  const size_t rounded = (size + 4095) / 4096 * 4096;
  void* raw = nullptr;
  if (posix_memalign(&raw, 4096, rounded) != 0) return "";
  std::unique_ptr<char, decltype(&std::free)> buf(static_cast<char*>(raw), std::free);
  size_t done = 0;
  while (done < rounded) {
    const ssize_t n = pread(fd, buf.get() + done, rounded - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  return std::string(buf.get(), std::min(done, size));
}

class MmapTest : public ZsfsTest {};

// Writes through a shared mapping, msyncs, and checks what read(2) and O_DIRECT see.
void write_through_mapping(const std::string& path) {
  const std::string data = make_data(kSize, 1);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kSize), 0);
  void* map = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED) << errno_name(errno);
  std::memcpy(map, data.data(), kSize);
  ASSERT_EQ(msync(map, kSize, MS_SYNC), 0) << errno_name(errno);
  ASSERT_EQ(munmap(map, kSize), 0);

  std::string back(kSize, '\0');
  ASSERT_EQ(pread(fd, back.data(), kSize, 0), static_cast<ssize_t>(kSize));
  EXPECT_TRUE(back == data) << "read() differs from what the mapping wrote";
  close(fd);
  EXPECT_TRUE(read_direct(path, kSize) == data) << "the daemon does not have the mapped writes";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), kSize);
}

TEST_F(MmapTest, WriteThroughMappingThenRead) {
  ZSFS_START_OR_SKIP(zsfs_);
  write_through_mapping(zsfs_.path() + "/mapped");
}

TEST_F(MmapTest, WriteThroughMappingWithWritebackCache) {
  ZSFS_START_OR_SKIP(zsfs_, "size=256M,writeback=on");
  write_through_mapping(zsfs_.path() + "/mapped");
}

TEST_F(MmapTest, WriteThenReadThroughMapping) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string path = zsfs_.path() + "/written";
  const std::string data = make_data(kSize, 2);
  write_file(path, data);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED) << errno_name(errno);
  EXPECT_EQ(std::memcmp(map, data.data(), kSize), 0);
  // The tail of the last page beyond the end of file reads as zeros.
  const char* tail = static_cast<const char*>(map) + kSize;
  bool zeros = true;
  for (size_t i = 0; i < 4096 - kSize % 4096; ++i)
    zeros &= tail[i] == 0;
  EXPECT_TRUE(zeros);
  munmap(map, kSize);
  close(fd);
}

TEST_F(MmapTest, MappingSeesLaterWrites) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string path = zsfs_.path() + "/shared";
  write_file(path, std::string(65536, 'a'));
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto* map = static_cast<char*>(mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(map, MAP_FAILED);
  ASSERT_EQ(pwrite(fd, "hello", 5, 10000), 5);
  EXPECT_EQ(std::string(map + 10000, 5), "hello");
  std::memcpy(map + 20000, "world", 5);
  char buf[5];
  ASSERT_EQ(pread(fd, buf, 5, 20000), 5);
  EXPECT_EQ(std::string(buf, 5), "world");
  munmap(map, 65536);
  close(fd);
  EXPECT_EQ(read_direct(path, 65536).substr(20000, 5), "world");
}

TEST_F(MmapTest, SparseMappingAndPrivateCopies) {
  ZSFS_START_OR_SKIP(zsfs_);
  const std::string path = zsfs_.path() + "/sparse";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
  auto* priv =
      static_cast<char*>(mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(priv, MAP_FAILED);
  bool zeros = true;
  for (size_t i = 0; i < (1 << 20); i += 4096)
    zeros &= priv[i] == 0;
  EXPECT_TRUE(zeros) << "a hole does not read as zeros";
  priv[12345] = 'x';  // copy-on-write: never reaches the file
  munmap(priv, 1 << 20);
  char c = 1;
  ASSERT_EQ(pread(fd, &c, 1, 12345), 1);
  EXPECT_EQ(c, 0);
  struct stat st {};
  fstat(fd, &st);
  EXPECT_EQ(st.st_blocks, 0);
  close(fd);
}

}  // namespace
}  // namespace zsfs::test
